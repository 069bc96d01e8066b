// Numbers and tables of bench/multi-gpu.ts: one row per tp from the timed runs (best of the reps),
// each rank's compute / collective split for prefill and decode, the collectives' latency in the
// run and in isolation at the model's sizes, and a line on what bounds the all-reduce.
import type { BenchShape } from './multi-gpu-model';
import type { PeerLlmStats } from '../src/scheduler/llm-flow';
import type { BenchRow, LinkBenchResult } from '../src/collectives/bench';

export interface RunSample {
  wall_ms: number;
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: Record<string, number>; // prefill_ms, decode_ms (rank 0's engine), load_ms, compute_ms, allreduce_ms
  per_peer: PeerLlmStats[];
}

interface Split { rank: number; compute_ms: number; collectives_ms: number; collectives_share: number }

export interface CaseRow {
  tp: number;
  /** How prefill's all-reduces travelled (LoadRequest.reduceWire); absent in older results (f32). */
  reduce_wire?: 'f32' | 'i8';
  adapter: Record<string, unknown>;
  load_ms: number;
  prompt_tokens: number;
  decode_tokens: number;
  prefill_ms: number;
  prefill_tok_s: number;
  decode_ms_per_token: number;
  decode_tok_s: number;
  speedup_prefill: number | null; // vs tp=1 in the same session
  speedup_decode: number | null;
  split: { prefill: Split[]; decode: Split[] };
  collectives_per_token: number; // 2 all-reduces per layer + 1 logits allGather (tp > 1)
  /** Decode collective time per call inside the run: the least-waiting rank (≈ the collective itself) and the most-waiting one (adds skew). */
  in_run_ms_per_collective: { min_rank: number; max_rank: number } | null;
  /** The same collectives alone on this group (p50 of 20, slowest rank). */
  /** prefill_allreduce_i8: the same all-reduce with the int8 wire (REDUCE_WIRE runs), timed beside the f32 one. */
  isolated: { decode_allreduce: BenchRow | null; prefill_allreduce: BenchRow | null; prefill_allreduce_i8?: BenchRow | null; logits_allgather: BenchRow | null; link: LinkBenchResult | null } | null;
  bound: string;
  /** Each rank's step split at the all-reduce points (LlamaGpu PointTimes), from the best full run. */
  points: { prefill: PointSplit[]; decode: PointSplit[] } | null;
  /** tp > 2: allReduce alone (p50 of 20, slowest rank) by each algorithm at each size (COMM_AB). */
  algorithms?: { bytes: number; direct_ms: number; two_round_ms: number }[];
}

/** One rank's phase split: per step (ms) and per all-reduce point (µs, means over the phase's points). */
export interface PointSplit {
  rank: number;
  steps: number;
  step_ms: number; // forward wall per step (the logits allGather excluded)
  gather_ms: number; // logits allGather per step
  points_per_step: number;
  us_per_point: { total: number; encode: number; read: number; map: number; send: number; wait: number; ahead: number; write: number };
  tail_ms: number; // per step, outside the points: encoding after the last point, head matmul, logits read
}

const POINT_FIELDS = ['steps', 'stepMs', 'points', 'encodeMs', 'readMs', 'mapMs', 'sendMs', 'waitMs', 'aheadMs', 'writeMs', 'gatherMs'] as const;

/** The pt_<phase>_<field>_r<rank> timings LlmEngine.generate returns, as one PointSplit per rank. */
export function pointSplits(timings: Record<string, number>, phase: 'prefill' | 'decode', tp: number): PointSplit[] {
  const out: PointSplit[] = [];
  for (let r = 0; r < tp; r++) {
    const v = Object.fromEntries(POINT_FIELDS.map((k) => [k, timings[`pt_${phase}_${k}_r${r}`]])) as Record<(typeof POINT_FIELDS)[number], number | undefined>;
    if (v.steps === undefined || !(v.steps > 0)) continue;
    const steps = v.steps;
    const pts = v.points ?? 0;
    const per = (x: number | undefined) => (pts > 0 ? (1000 * (x ?? 0)) / pts : 0);
    const inPoints = (v.encodeMs ?? 0) + (v.readMs ?? 0) + (v.sendMs ?? 0) + (v.waitMs ?? 0) + (v.writeMs ?? 0);
    out.push({
      rank: r, steps, step_ms: (v.stepMs ?? 0) / steps, gather_ms: (v.gatherMs ?? 0) / steps, points_per_step: pts / steps,
      us_per_point: { total: per(inPoints), encode: per(v.encodeMs), read: per(v.readMs), map: per(v.mapMs), send: per(v.sendMs), wait: per(v.waitMs), ahead: per(v.aheadMs), write: per(v.writeMs) },
      tail_ms: ((v.stepMs ?? 0) - inPoints) / steps,
    });
  }
  return out;
}

const split = (rows: PeerLlmStats[], minus?: PeerLlmStats[]): Split[] =>
  rows.map((r, i) => {
    const c = r.compute_ms - (minus?.[i]?.compute_ms ?? 0);
    const m = r.allreduce_ms - (minus?.[i]?.allreduce_ms ?? 0);
    return { rank: r.rank, compute_ms: c, collectives_ms: m, collectives_share: c + m > 0 ? m / (c + m) : 0 };
  });

/** The tp, with the prefill wire when it is not f32. */
export const tpLabel = (r: Pick<CaseRow, 'tp' | 'reduce_wire'>): string => `${r.tp}${r.reduce_wire === 'i8' ? ' (i8 prefill)' : ''}`;

export function caseRow(o: {
  tp: number; shape: BenchShape; loadMs: number; prefill: RunSample[]; full: RunSample[]; decode: number;
  comm: { rows: unknown[]; link: unknown } | null; adapter: Record<string, unknown>;
}): CaseRow {
  // Best of the reps (least disturbed); the decode split subtracts the prefill-only run of the same rep.
  const pi = o.prefill.reduce((b, s, i) => (s.timings.prefill_ms < o.prefill[b].timings.prefill_ms ? i : b), 0);
  const fi = o.full.reduce((b, s, i) => (s.timings.decode_ms < o.full[b].timings.decode_ms ? i : b), 0);
  const p = o.prefill[pi], f = o.full[fi];
  const decodeTokens = f.usage.completion_tokens - 1;
  const perToken = 2 * o.shape.nLayers + (o.tp > 1 ? 1 : 0);
  const decodeSplit = split(f.per_peer, o.prefill[fi].per_peer);
  const rows = (o.comm?.rows ?? []) as BenchRow[];
  const find = (op: string, bytes: number) => rows.find((r) => r.op === op && Math.abs(r.bytes - bytes) < 4) ?? null;
  const isolated = o.comm ? {
    decode_allreduce: find('allReduce', o.shape.dim * 4),
    prefill_allreduce: find('allReduce', p.usage.prompt_tokens * o.shape.dim * 4) ?? find('allReduce', Math.max(...rows.filter((r) => r.op === 'allReduce').map((r) => r.bytes))),
    prefill_allreduce_i8: find('allReduceI8', p.usage.prompt_tokens * o.shape.dim * 4),
    logits_allgather: find('allGather', (Math.ceil(o.shape.vocabSize / o.tp) + 1) * 4),
    link: (o.comm.link as LinkBenchResult | null) ?? null,
  } : null;
  const perCall = o.tp > 1 ? decodeSplit.map((s) => s.collectives_ms / (decodeTokens * perToken)) : [];
  const row: CaseRow = {
    tp: o.tp, adapter: o.adapter, load_ms: o.loadMs,
    prompt_tokens: p.usage.prompt_tokens, decode_tokens: decodeTokens,
    prefill_ms: p.timings.prefill_ms, prefill_tok_s: p.usage.prompt_tokens / (p.timings.prefill_ms / 1000),
    decode_ms_per_token: f.timings.decode_ms / decodeTokens, decode_tok_s: decodeTokens / (f.timings.decode_ms / 1000),
    speedup_prefill: null, speedup_decode: null,
    split: { prefill: split(p.per_peer), decode: decodeSplit },
    collectives_per_token: o.tp > 1 ? perToken : 0,
    in_run_ms_per_collective: perCall.length ? { min_rank: Math.min(...perCall), max_rank: Math.max(...perCall) } : null,
    isolated, bound: '',
    points: { prefill: pointSplits(f.timings, 'prefill', o.tp), decode: pointSplits(f.timings, 'decode', o.tp) },
  };
  row.bound = boundOf(row);
  return row;
}

/** A sentence on what bounds the decode all-reduce, from the measured numbers. */
function boundOf(r: CaseRow): string {
  if (r.tp === 1 || !r.isolated?.decode_allreduce) return r.tp === 1 ? 'no collectives (single GPU)' : 'collectives not measured';
  const ar = r.isolated.decode_allreduce;
  const link = r.isolated.link;
  const parts = [`decode all-reduce of ${ar.bytes} B: ${ar.p50_ms.toFixed(3)} ms alone`];
  if (r.in_run_ms_per_collective) parts.push(`${r.in_run_ms_per_collective.min_rank.toFixed(3)}–${r.in_run_ms_per_collective.max_rank.toFixed(3)} ms per collective in the run (incl. waiting for the slowest rank)`);
  if (link) {
    const wire = ar.bytes / (link.throughput_MBps * 1e3); // ms at the link's bulk rate
    parts.push(`link RTT ${link.rtt_p50_ms.toFixed(3)} ms, bulk ${link.throughput_MBps.toFixed(0)} MB/s (payload alone ${wire.toFixed(3)} ms)`);
    parts.push(ar.p50_ms < 4 * wire ? 'bandwidth-bound' : `latency-bound: ${(ar.p50_ms / link.rtt_p50_ms).toFixed(1)}× the RTT of one message round trip on the link (the transport above) through both event loops`);
    const pa = r.isolated.prefill_allreduce;
    if (pa) {
      const rate = pa.bytes / (pa.p50_ms * 1e3); // MB/s
      const wirePa = pa.bytes / (link.throughput_MBps * 1e3);
      parts.push(`prefill all-reduce of ${pa.bytes} B: ${pa.p50_ms.toFixed(2)} ms alone (${rate.toFixed(0)} MB/s; ${pa.p50_ms < 3 * wirePa ? 'bandwidth-bound by the link' : 'above the link\'s bulk time'}), ${(r.collectives_per_token - 1) > 0 ? `${r.collectives_per_token - 1} of them per prefill ≈ ${((r.collectives_per_token - 1) * pa.p50_ms).toFixed(0)} ms` : ''}`);
    }
    const pi = r.isolated.prefill_allreduce_i8;
    if (pi) parts.push(`the same with the int8 wire: ${pi.p50_ms.toFixed(2)} ms (${pa ? `${(pa.p50_ms / pi.p50_ms).toFixed(2)}x faster, ` : ''}a quarter of the bytes plus the host codec)`);
  }
  return parts.join('; ');
}

const f = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

export function markdown(doc: { date: string; machine: Record<string, unknown>; adapter: Record<string, unknown> | null; shape: Record<string, unknown>; prefill_tokens: number; decode_tokens: number; rows: CaseRow[]; failure: string | null; transport: string; node: string; encode_ahead?: boolean }): string {
  const a = doc.adapter ?? {};
  const lines = [
    `# Multi-GPU tensor parallelism (${String(doc.shape.name)}-shaped Llama, random ${String(doc.shape.weights)} weights)`,
    '',
    `${doc.date}, ${String(doc.machine.hostname)} (${String(doc.machine.gpus)} GPU device(s)${doc.machine.pinned ? ', one peer process per GPU' : ''}), adapter ${String(a.vendor ?? '?')} ${String(a.architecture ?? '')} ${String(a.description ?? '')}, Node ${doc.node}; ${doc.transport}.`,
    `Prompt ${doc.prefill_tokens} tokens, ${doc.decode_tokens} decoded tokens (greedy, ignore_eos); best of the reps; speed-ups vs tp=1 in the same session; encode-ahead ${doc.encode_ahead === false ? 'off (each segment encoded after its sum is back)' : 'on (the segment after an all-reduce point encoded while the exchange is in flight)'}.`,
    '',
    '| tp | prefill tok/s | speed-up | decode tok/s | ms/token | speed-up | prefill collectives share (max rank) | decode collectives share (max rank) | ms per collective in run (min–max rank) | decode all-reduce alone (p50) | load s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...doc.rows.map((r) => `| ${tpLabel(r)} | ${f(r.prefill_tok_s)} | ${f(r.speedup_prefill, 2)} | ${f(r.decode_tok_s)} | ${f(r.decode_ms_per_token, 2)} | ${f(r.speedup_decode, 2)} | ${f(100 * Math.max(...r.split.prefill.map((s) => s.collectives_share)), 0)}% | ${f(100 * Math.max(...r.split.decode.map((s) => s.collectives_share)), 0)}% | ${r.in_run_ms_per_collective ? `${f(r.in_run_ms_per_collective.min_rank, 3)}–${f(r.in_run_ms_per_collective.max_rank, 3)}` : '—'} | ${r.isolated?.decode_allreduce ? `${f(r.isolated.decode_allreduce.p50_ms, 3)} ms (${r.isolated.decode_allreduce.bytes} B)` : '—'} | ${f(r.load_ms / 1000)} |`),
    '',
    ...doc.rows.filter((r) => r.tp > 1).map((r) => `- tp=${tpLabel(r)}: ${r.bound}. Prefill all-reduce alone: ${r.isolated?.prefill_allreduce ? `${f(r.isolated.prefill_allreduce.p50_ms, 2)} ms for ${r.isolated.prefill_allreduce.bytes} B` : '—'}; logits allGather: ${r.isolated?.logits_allgather ? `${f(r.isolated.logits_allgather.p50_ms, 3)} ms for ${r.isolated.logits_allgather.bytes} B per rank` : '—'}.`),
    ...pointTable(doc.rows),
    ...algorithmTable(doc.rows),
    ...(doc.failure ? ['', `**Failed:** ${doc.failure.split('\n')[0]}`] : []),
  ];
  return lines.join('\n') + '\n';
}

/** The per-point split of every rank (decode in µs per point; prefill in ms per point). */
function pointTable(rows: CaseRow[]): string[] {
  const lines: string[] = [];
  for (const phase of ['decode', 'prefill'] as const) {
    const unit = phase === 'decode' ? 1 : 1000; // decode in µs, prefill in ms
    const u = phase === 'decode' ? 'µs' : 'ms';
    const body = rows.flatMap((r) => (r.points?.[phase] ?? []).filter((p) => r.tp > 1 || p.rank === 0).map((p) => {
      const q = p.us_per_point;
      const g = (x: number) => f(x / unit, phase === 'decode' ? 0 : 2);
      return `| ${tpLabel(r)} | ${p.rank} | ${f(p.step_ms, 2)} | ${f(p.gather_ms, 3)} | ${f(p.points_per_step, 0)} | ${g(q.total)} | ${g(q.encode)} | ${g(q.read)} (${g(q.map)}) | ${g(q.send)} | ${g(q.wait)} (${g(q.ahead)}) | ${g(q.write)} | ${f(p.tail_ms, 3)} |`;
    }));
    if (!body.length) continue;
    lines.push('', `${phase === 'decode' ? 'Decode' : 'Prefill'}: each rank's step split at its all-reduce points (LlamaGpu PointTimes; ${u} per point, means over the run's points). encode: CPU encoding up to the point; read: partial read-back (of it awaiting mapAsync); send: the reduce call's synchronous part (framing + channel.send); wait: awaiting the sum (partials in flight, the slowest rank, the sum; of it the next segment encoded ahead); write: sum written back (+ the submit of the segment encoded ahead, which carries the next read-back copy); tail: per step after the last point (head matmul, logits read-back).`,
      '', `| tp | rank | step ms | logits gather ms | points/step | point ${u} | encode | read (map) | send | wait (ahead) | write | tail ms |`, '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |', ...body);
  }
  return lines;
}

/** allReduce by algorithm per size (tp > 2), to place the direct / two-round threshold on this transport. */
function algorithmTable(rows: CaseRow[]): string[] {
  const body = rows.flatMap((r) => (r.algorithms ?? []).map((a) =>
    `| ${tpLabel(r)} | ${a.bytes} | ${f(a.direct_ms, 3)} | ${f(a.two_round_ms, 3)} | ${a.two_round_ms < a.direct_ms ? 'two rounds' : 'direct'} |`));
  if (!body.length) return [];
  return ['', 'allReduce alone by algorithm (p50 of 20, slowest rank, ms): one direct round vs reduce-scatter + all-gather in two direct rounds (src/collectives/group.ts chooses by DIRECT_MAX_BYTES).', '',
    '| tp | bytes | direct ms | two rounds ms | faster |', '| --- | --- | --- | --- | --- |', ...body];
}
