// LLM engine charts: the decode-loop profile (bench/results/llm-decode-profile-*.json), tabmesh's
// WGSL engine vs onnxruntime-web (ort-webgpu-gpu-*.json), tabmesh vs wllama (llm-wllama-*.json), and
// for the multi-GPU runs (multi-gpu-*.json) the series label (transport, GPUs / peers) and the time
// split per all-reduce point at decode (what bounds tp>1), and data-parallel replicas (multi-gpu REPLICAS runs).
import { chartSection, colour, filesWith, newest, num, rowsOf, str, uniq, val, whereOf, type Json } from './bench-charts-common';

/** Multi-line tick label: "decode tp-shaped (identity ...)" -> ["decode tp-shaped", "(identity ...)"]. */
const wrap = (s: string): string[] => s.replace(/ \(/, '\n(').split('\n');

/** A profile run with one mode only (a per-kernel run) has no mode comparison to chart. */
const modeCount = (f: { doc: Json }): number => uniq(rowsOf(f.doc).map((r) => str(r.mode))).length;

/** tok/s per mode, grouped by case, for the newest profile that compares modes (the fused-kernel run of 2026-11-28 or later). */
export function decodeProfileChart(): void {
  const f = filesWith('llm-decode-profile-').filter((x) => modeCount(x) > 1).sort((a, b) => str(a.doc.date).localeCompare(str(b.doc.date))).pop();
  if (!f) return;
  const rows = rowsOf(f.doc);
  const cases = uniq(rows.map((r) => str(r.case)));
  const modes = uniq(rows.map((r) => str(r.mode)));
  const others = filesWith('llm-decode-profile-').filter((x) => x !== f).map((x) => x.name);
  chartSection(`LLM decode loop: tokens/s per mode (${f.name})`,
    `Decode tokens/s of ${str(f.doc.model, 'the model')} ${str(f.doc.weights, '')} weights (prompt ${str(f.doc.prompt)}, ${str(f.doc.steps)} steps) per submit/bind/flush mode, Node + Dawn on ${whereOf(f.doc)}; base = the unoptimised loop, no fixed goal.${others.length ? ` Older: ${others.join(', ')}.` : ''}`,
    'chart-decode-profile', {
      type: 'bar',
      data: {
        labels: cases.map(wrap),
        datasets: modes.map((m, i) => ({ label: m, backgroundColor: colour(i), data: cases.map((c) => val(rows.find((r) => r.case === c && r.mode === m)?.tok_s)) })),
      },
      options: { skipNull: true, scales: { y: { beginAtZero: true, title: { display: true, text: 'tokens/s' } } } },
    });
}

/** Where a decode token's GPU time goes, per kernel (profiles with a `kernels` breakdown), one chart per file. */
export function decodeKernelsCharts(): void {
  const withKernels = filesWith('llm-decode-profile-').filter((f) => ((f.doc.kernels as Json | undefined)?.rows as Json[] | undefined)?.length);
  withKernels.forEach((f, idx) => {
    const k = f.doc.kernels as Json;
    const rows = (k.rows as Json[]).filter((r) => num(r.us_per_token) > 0);
    const tokS = rowsOf(f.doc).find((r) => str(r.case) === 'decode tp=1' && str(r.mode) === 'default')?.tok_s;
    chartSection(`LLM decode: GPU time per kernel (${f.name})`,
      `µs of GPU time per decoded token by kernel, ${str(f.doc.model, 'the model')} ${str(f.doc.weights, '')} weights, a pass per dispatch (timestamp queries; pass boundaries add a few µs to each${(k.floors as Json | undefined)?.pass_us ? `: ${str((k.floors as Json).pass_us)} µs for a one-workgroup kernel` : ''}, ${str(k.busy_ms_per_token)} ms busy a token against the shared pass's ${str(rowsOf(f.doc).find((r) => str(r.mode) === 'default')?.gpu_busy_ms)}), ${tokS ? `${str(tokS)} tok/s, ` : ''}Node + Dawn on ${whereOf(f.doc)}.`,
      `chart-decode-kernels-${idx}`, {
        type: 'bar',
        data: {
          labels: rows.map((r) => `${str(r.kernel).replace(/^shaders\//, '')} (x${str(r.passes_per_token)})`),
          datasets: [{ label: 'µs per token', backgroundColor: colour(idx), data: rows.map((r) => val(r.us_per_token)) }],
        },
        options: { indexAxis: 'y', scales: { x: { beginAtZero: true, title: { display: true, text: 'µs per token' } } } },
      });
  });
}

/** Decode and prefill tok/s per engine: WGSL (f32, f16) vs ORT webgpu EP vs ORT wasm, one chart per file. */
export function ortWebgpuCharts(): void {
  filesWith('ort-webgpu-gpu-').reverse().forEach((f, idx) => {
    const rows = rowsOf(f.doc);
    if (!rows.length) return;
    const label = (r: Json): string[] => [str(r.engine), `${str(r.layers)} layers ${str(r.weights, '')}`.trim()];
    const summary = (f.doc.summary ?? {}) as Json;
    const goal = typeof summary.goal_met_1_5x === 'boolean' ? ` Goal: WGSL f32 ≥ 1.5× ORT webgpu (${summary.goal_met_1_5x ? 'met' : 'not met'}: decode ${str(summary.wgsl_f32_over_ort_webgpu_decode)}×, prefill ${str(summary.wgsl_f32_over_ort_webgpu_prefill)}×).` : '';
    chartSection(`LLM engines: WGSL vs onnxruntime-web (${f.name})`,
      `Decode and prefill tokens/s of ${str(f.doc.model, 'the model')} (first ${str(f.doc.layers_compared)} layers unless noted; prefill ${str(f.doc.prefill)} tokens) per engine, Node on ${whereOf(f.doc)}${(f.doc.ort as Json | undefined)?.version ? `, ORT ${str((f.doc.ort as Json).version)}` : ''}. Log scale.${goal}`,
      `chart-ort-webgpu${idx ? `-${idx}` : ''}`, {
        type: 'bar',
        data: {
          labels: rows.map(label),
          datasets: [
            { label: 'decode tok/s', backgroundColor: colour(0), data: rows.map((r) => val(r.decode_tok_s)) },
            { label: 'prefill tok/s', backgroundColor: colour(2), data: rows.map((r) => val(r.prefill_tok_s)) },
          ],
        },
        options: { scales: { y: { type: 'logarithmic', title: { display: true, text: 'tokens/s' } } } },
      });
  });
}

/** tabmesh engines vs wllama (llama.cpp wasm): decode tok/s per model, newest file. */
export function wllamaChart(): void {
  const f = newest('llm-wllama-');
  if (!f) return;
  const rows = rowsOf(f.doc);
  const models = uniq(rows.map((r) => str(r.model)));
  const seriesOf = (r: Json): string => `${str(r.engine).replace(/ \(llama\.cpp wasm\)$/, '')}${String(r.engine).startsWith('wllama') ? ` ${str(r.tp_or_threads)} thread(s)` : ` tp=${str(r.tp_or_threads)}`}`;
  const series = uniq(rows.map(seriesOf));
  // several rows of one series and model (repeated runs): the best, as the bench's own summary does
  const pick = (m: string, s: string): number | null => {
    const xs = rows.filter((r) => r.model === m && seriesOf(r) === s).map((r) => val(r.decode_tok_s)).filter((x): x is number => x !== null);
    return xs.length ? Math.max(...xs) : null;
  };
  const goal = typeof f.doc.goal_issue6 === 'string' ? ' Goal (issue 6): tabmesh (ort-wasm) tp=1 at or above wllama 1 thread on the same model.' : '';
  chartSection(`tabmesh vs wllama: decode tokens/s (${f.name})`,
    `Decode tokens/s per model, headless Chromium on ${whereOf(f.doc)}; one shared machine, so compare within this run. Log scale.${goal}`,
    'chart-wllama', {
      type: 'bar',
      data: { labels: models, datasets: series.map((s, i) => ({ label: s, backgroundColor: colour(i), data: models.map((m) => pick(m, s)) })) },
      options: { skipNull: true, scales: { y: { type: 'logarithmic', title: { display: true, text: 'decode tokens/s' } } } },
    });
}

// ---- multi-GPU tensor parallel (bench/multi-gpu.ts -> multi-gpu-*.json) ----

const objOf = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

/** The link the all-reduces ran over: `same_host.link_ends` (files of 2026-11-28 on), else the `transport` sentence. */
export function transportOf(doc: Json): string {
  const sh = doc.same_host;
  if (typeof sh === 'object' && sh !== null) {
    const ends = objOf((sh as Json).link_ends);
    const unix = num(ends.same_host);
    const rtc = num(ends.webrtc);
    if (unix > 0 && rtc > 0) return 'mixed same-host sockets / WebRTC';
    if (unix > 0) return 'same-host Unix sockets';
    if ((sh as Json).requested === false || rtc > 0) return 'WebRTC';
  }
  const t = typeof doc.transport === 'string' ? doc.transport : '';
  if (/^mixed/i.test(t)) return 'mixed same-host sockets / WebRTC';
  if (/unix|same-host/i.test(t) && !/none came up/.test(t)) return 'same-host Unix sockets';
  return /webrtc/i.test(t) ? 'WebRTC' : 'transport unknown';
}

/** GPUs and peers of a multi-gpu file: "2 peers on 1 GPU" when the peers share fewer GPUs, else "4× GPU". */
export function gpusOf(doc: Json): string {
  const gpus = num(objOf(doc.machine).gpus);
  const peers = Math.max(0, ...rowsOf(doc).map((r) => num(r.tp)).filter((t) => t > 0));
  if (gpus > 0 && peers > gpus) return `${peers} peers on ${gpus} GPU${gpus > 1 ? 's' : ''}`;
  return `${Number.isFinite(gpus) ? gpus : '?'}× GPU`;
}

/** The variant a file's name adds ("encode-ahead", "uds-1gpu") beside its shape, machine and date. */
export function variantOf(name: string, doc: Json): string {
  const shape = objOf(doc.shape);
  return name.replace(/^multi-gpu-/, '').replace(/-?\d{4}-\d{2}-\d{2}$/, '').replace(/(^|-)(nvidia|amd|intel|apple|unknown)[-\w]*$/, '')
    .replace(`${str(shape.name, '')}-${str(shape.weights, '')}`, '').replace(/--+/g, '-').replace(/^-|-$/g, '');
}

/** The legend label of a multi-gpu file's tokens/s series: model, GPUs / peers, transport, variant and date. */
export function multiGpuLabel(name: string, doc: Json): string {
  const shape = objOf(doc.shape);
  const v = variantOf(name, doc);
  return `${str(shape.name)} ${str(shape.weights, '')}, ${gpusOf(doc)}, ${transportOf(doc)} (${v ? `${v}, ` : ''}${name.slice(-10)})`;
}

const POINT_PARTS = [
  ['encode', 'encode (CPU, before the point)'],
  ['read', 'read partial back (submit, GPU finish, map)'],
  ['send', 'send (framing, channel.send)'],
  ['wait', 'wait for the sum (peers in flight / late; incl. encoding ahead)'],
  ['write', 'write the sum back'],
] as const;

/** Per multi-gpu file with point timings: µs per all-reduce point at decode, per tp>1 and rank, stacked by part. */
export function tpPointsCharts(): void {
  let idx = 0;
  for (const f of filesWith('multi-gpu-')) {
    const rows = rowsOf(f.doc);
    const bars = rows.filter((r) => num(r.tp) > 1).flatMap((r) => rowsOf(objOf(r.points), 'decode')
      .filter((p) => num(p.points_per_step) > 0)
      .map((p) => ({ tp: num(r.tp), wire: r.reduce_wire === 'i8' ? ' (i8 prefill)' : '', rank: num(p.rank), step: num(p.step_ms), pts: num(p.points_per_step), us: objOf(p.us_per_point) })));
    if (!bars.length) continue;
    // break-even budget per point: tp=1's step minus its ideal 1/tp share of compute, spread over the points
    const tp1 = rowsOf(objOf(rows.find((r) => num(r.tp) === 1)?.points), 'decode')[0];
    const tp1Step = num(tp1?.step_ms);
    const budget = (b: { tp: number; pts: number }): number | null => (tp1Step > 0 && b.pts > 0 ? (1000 * tp1Step * (1 - 1 / b.tp)) / b.pts : null);
    const shape = objOf(f.doc.shape);
    chartSection(`Tensor-parallel decode: time per all-reduce point (${f.name})`,
      `µs per all-reduce point at decode (mean over ${str(f.doc.decode_tokens)} tokens, ${str(shape.name)} ${str(shape.weights, '')}) per rank, ${gpusOf(f.doc)} over ${transportOf(f.doc)}, ${whereOf(f.doc)}; goal: under the break-even budget (tp=1's step less its 1/tp compute share, per point)${tp1Step > 0 ? '' : ' — no tp=1 row in this file'}.`,
      `chart-tp-points${idx ? `-${idx}` : ''}`, {
        type: 'bar',
        data: {
          labels: bars.map((b) => [`tp=${b.tp}${b.wire} rank ${b.rank}`, `${b.pts.toFixed(0)} points, step ${b.step.toFixed(1)} ms`]),
          datasets: [
            ...POINT_PARTS.map(([k, label], i) => ({ label, stack: 'point', backgroundColor: colour(i), data: bars.map((b) => val(b.us[k])) })),
            ...(tp1Step > 0 ? [{ label: 'break-even budget per point', type: 'line', stack: 'budget', order: -1, showLine: false, pointStyle: 'line', pointRadius: 18, pointHoverRadius: 18, borderWidth: 3, borderColor: '#111', data: bars.map(budget) } as never] : []),
          ],
        },
        options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'µs per all-reduce point' } } } },
      });
    idx++;
  }
}

/** Data parallelism (multi-gpu files with data_parallel rows): aggregate completion tokens/s per replica count, one series per file. */
export function dataParallelChart(): void {
  const files = filesWith('multi-gpu-').filter((f) => rowsOf(objOf(f.doc.data_parallel)).length);
  if (!files.length) return;
  const reps = uniq(files.flatMap((f) => rowsOf(objOf(f.doc.data_parallel)).map((r) => num(r.replicas)))).sort((a, b) => a - b);
  chartSection('Data parallelism: aggregate tokens/s by number of tp=1 replicas',
    `Each replica one headless Node peer on its own GPU, loaded as serving loads it and running one request of ${str(objOf(files[0].doc.data_parallel).batch)} completions in its continuous-batching loop, all replicas at once; completion tokens over the round's wall time (prefill included); every series from one run; ${uniq(files.map((f) => whereOf(f.doc))).join('; ')}. Goal: speed-up near the replica count (tensor parallelism on the same hosts: the tokens/s charts above).`,
    'chart-data-parallel', {
      type: 'bar',
      data: {
        labels: reps.map((r) => (r === 1 ? '1 replica' : `${r} replicas`)),
        datasets: files.map((f, i) => {
          const rows = rowsOf(objOf(f.doc.data_parallel));
          return { label: `${str(objOf(f.doc.shape).name)} ${str(objOf(f.doc.shape).weights, '')} (${f.name.slice(-10)})`, backgroundColor: colour(i), data: reps.map((r) => val(rows.find((x) => num(x.replicas) === r)?.tok_s)) };
        }),
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'aggregate completion tokens/s' } } } },
    });
}

/**
 * Long contexts on one GPU (bench/llm-gpu.ts): decode tok/s at CTX keys with each GQA decode-attention kernel
 * (ATTN_AB runs, llm-gpu-attn-ab-*.json: the median of the alternating reps), and prefill tok/s against the
 * prompt length (PROMPT runs, llm-gpu-prompt-len-*.json).
 */
export function longContextCharts(): void {
  const ab = filesWith('llm-gpu-attn-ab-');
  const abRows: Json[] = ab.flatMap((f) => rowsOf(f.doc).filter((r) => typeof r.variant === 'string'));
  if (abRows.length) {
    const models = uniq(abRows.map((r) => str(r.model)));
    const variants = uniq(abRows.map((r) => str(r.variant)));
    const median = (xs: number[]): number | null => {
      if (!xs.length) return null;
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)];
    };
    chartSection('LLM decode at a long context: GQA attention kernels',
      `Decode tokens/s at the context in each legend entry, q8_0 weights, the decode-attention kernel alternated in one process (median of the reps), Node + Dawn on ${uniq(ab.map((f) => whereOf(f.doc))).join('; ')}; no fixed goal.`,
      'chart-llm-long-context-decode', {
        type: 'bar',
        data: {
          labels: models.map(wrap),
          datasets: variants.map((v, i) => ({ label: v, backgroundColor: colour(i), data: models.map((m) => median(abRows.filter((r) => r.model === m && r.variant === v).map((r) => num(r.decode_tok_s)))) })),
        },
        options: { skipNull: true, scales: { y: { beginAtZero: true, title: { display: true, text: 'decode tokens/s' } } } },
      });
  }
  const pl = newest('llm-gpu-prompt-len-');
  if (!pl) return;
  const rows = rowsOf(pl.doc).filter((r) => num(r.prompt) > 0);
  const prompts = uniq(rows.map((r) => num(r.prompt))).sort((a, b) => a - b);
  const models = uniq(rows.map((r) => str(r.model)));
  chartSection(`LLM prefill tokens/s against the prompt length (${pl.name})`,
    `Prompt tokens per second of one prefill forward at each prompt length, tp=1, Node + Dawn on ${whereOf(pl.doc)}. These runs predate attention_prefill.wgsl: the drop at long prompts is the old per-(token, head) attention kernel.`,
    'chart-llm-prefill-prompt-len', {
      type: 'line',
      data: {
        labels: prompts.map(String),
        datasets: models.map((m, i) => ({ label: m, borderColor: colour(i), backgroundColor: colour(i), spanGaps: true,
          data: prompts.map((p) => val(rows.find((r) => r.model === m && num(r.prompt) === p)?.prefill_tok_s)) })),
      },
      options: { scales: { x: { title: { display: true, text: 'prompt tokens' } }, y: { beginAtZero: true, title: { display: true, text: 'prefill tokens/s' } } } },
    });
}
