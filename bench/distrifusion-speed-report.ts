// Numbers and tables of bench/distrifusion-speed.ts: per (px, N, mode) the median step time over the
// timed steps (the slowest peer of each step), its compute / comm-wait split, bytes per step, and the
// ratios the issue asks for: corrected_async_gn / ideal (goal <= 1.1, the paper 1.2), full_sync /
// ideal, and each mode's speed-up over N = 1 at the same px.

/** The runner's per-step fine timers (src/parallel/patch-unet-exchange.ts UnetStepDetail), when the peer sent them. */
export interface StepDetail {
  pieceWaitMs: number[]; pieceArriveAtMs: number[]; pieceSendAtMs: number[];
  packMs: number; unpackMs: number; uploadMs: number; readWaitMs: number; epsGatherMs: number; syncGatherMs: number;
  backendMs?: number; dispatches?: number; // absent in results before 2026-11-29's profile
}
export interface StepSample { step: number; computeMs: number; commWaitMs: number; sync: boolean; detail?: StepDetail }

/** Medians over the timed steps of the slowest peer's fine timers (ms). */
export interface DetailRow {
  read_wait_ms: number; // blocked on the final read-back = GPU work still queued when encoding ended
  upload_ms: number; // host time writing received pieces to the GPU
  pack_ms: number; // host packing of send pieces (0 when the GPU packs)
  unpack_ms: number;
  eps_gather_ms: number;
  sync_gather_ms: number;
  backend_ms: number; // the GPU backend's step: encoding, its piece waits and uploads, the final read-back
  host_ms: number; // compute - backend: the runner's own host work (sampler, row assembly, preview, events)
  dispatches: number;
  piece_wait_ms: number[]; // per piece
  piece_arrive_at_ms: number[]; // per piece, since the step's start (< 0: arrived during the previous step)
  piece_send_at_ms: number[]; // per piece, since the step's start
}

export interface CaseRow {
  px: number;
  model: string;
  latent: number;
  n: number;
  /** ideal_async = corrected_async_gn with the exchange off after the warm-up (the honest ideal: same kernels,
   *  shapes and corrected GN, stale values never refreshed, nothing sent); no_sync = the old ideal (commFree:
   *  patch-local attention, zero halos, local GN; less arithmetic than corrected_async_gn). */
  mode: 'full_sync' | 'corrected_async_gn' | 'ideal_async' | 'no_sync';
  /** The async steps' wire format (sync gathers are f32 whatever it is); absent in older results (f16). */
  comm_dtype?: 'f32' | 'f16' | 'i8';
  steps: number;
  warmup: number;
  load_ms: number;
  step_ms: number; // median over steps k >= warmup of max over peers (compute + wait)
  step_ms_all: number[]; // per timed step
  compute_ms: number; // median of the slowest peer's compute
  comm_wait_ms: number; // median of the slowest peer's wait
  wall_ms_per_step: number; // the whole job's wall time / steps (coordinator view, incl. step 0)
  flat_buffer_bytes: number; // per peer per step (rank 0's share; halo + GN sums + K/V)
  eps_bytes: number; // per peer per step (its eps rows)
  bytes_per_step_per_peer: number;
  sync_steps: number;
  vs_ideal: number | null; // step_ms / ideal_async step_ms at the same (px, N) (the honest ideal)
  vs_old_ideal: number | null; // step_ms / no_sync (commFree) step_ms at the same (px, N)
  detail: DetailRow | null;
  speedup_vs_n1: number | null; // N=1 step_ms / this step_ms (N = 1 runs no_sync = the single device)
  comm_bench?: unknown[];
  adapter?: Record<string, unknown>;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

export function summarize(o: {
  px: number; model: string; latent: number; n: number; mode: CaseRow['mode']; commDtype: CaseRow['comm_dtype']; steps: number; warmup: number; loadMs: number;
  samples: StepSample[][]; results: { timings: { totalMs: number } }[]; wallMs: number; flatBytes: number; epsBytes: number;
}): CaseRow {
  const step: number[] = [];
  const comp: number[] = [];
  const wait: number[] = [];
  const det: StepDetail[] = [];
  let syncSteps = 0;
  for (let k = 0; k < o.steps; k++) {
    const per = o.samples.map((s) => s.find((e) => e.step === k));
    if (per.some((e) => !e)) throw new Error(`${o.model} N=${o.n} ${o.mode}: step ${k} events missing from ${per.filter((e) => !e).length} peer(s)`);
    if (per[0]!.sync) syncSteps++;
    if (k < o.warmup) continue;
    const slow = per.reduce((a, b) => (b!.computeMs + b!.commWaitMs > a!.computeMs + a!.commWaitMs ? b : a))!;
    step.push(slow.computeMs + slow.commWaitMs);
    if (slow.detail) det.push(slow.detail);
    comp.push(slow.computeMs);
    wait.push(slow.commWaitMs);
  }
  return {
    px: o.px, model: o.model, latent: o.latent, n: o.n, mode: o.mode, comm_dtype: o.commDtype, steps: o.steps, warmup: o.warmup, load_ms: o.loadMs,
    step_ms: median(step), step_ms_all: step, compute_ms: median(comp), comm_wait_ms: median(wait), wall_ms_per_step: o.wallMs / o.steps,
    flat_buffer_bytes: o.flatBytes, eps_bytes: o.epsBytes, bytes_per_step_per_peer: o.flatBytes + o.epsBytes, sync_steps: syncSteps,
    vs_ideal: null, vs_old_ideal: null, speedup_vs_n1: null, detail: det.length === comp.length ? detailRow(det, comp) : null,
  };
}

function detailRow(d: StepDetail[], compute: number[]): DetailRow {
  const m = (f: (x: StepDetail) => number) => median(d.map(f));
  const per = (f: (x: StepDetail) => number[]) => f(d[0]).map((_, j) => median(d.map((x) => f(x)[j])));
  return {
    read_wait_ms: m((x) => x.readWaitMs), upload_ms: m((x) => x.uploadMs), pack_ms: m((x) => x.packMs), unpack_ms: m((x) => x.unpackMs),
    eps_gather_ms: m((x) => x.epsGatherMs), sync_gather_ms: m((x) => x.syncGatherMs),
    backend_ms: m((x) => x.backendMs ?? NaN), host_ms: median(d.map((x, i) => compute[i] - (x.backendMs ?? NaN))), dispatches: m((x) => x.dispatches ?? NaN),
    piece_wait_ms: per((x) => x.pieceWaitMs), piece_arrive_at_ms: per((x) => x.pieceArriveAtMs), piece_send_at_ms: per((x) => x.pieceSendAtMs),
  };
}

/** The mode, with its wire format when an async mode's is not f16 (the default before i8; older results lack the field). */
const modeLabel = (r: CaseRow): string => (r.comm_dtype && r.comm_dtype !== 'f16' && r.mode !== 'full_sync' ? `${r.mode} (${r.comm_dtype} wire)` : r.mode);

/** Fills vs_ideal and speedup_vs_n1 in place. */
export function addRatios(rows: CaseRow[]): void {
  for (const r of rows) {
    const ideal = rows.find((x) => x.px === r.px && x.n === r.n && x.mode === 'ideal_async');
    const old = rows.find((x) => x.px === r.px && x.n === r.n && x.mode === 'no_sync');
    const one = rows.find((x) => x.px === r.px && x.n === 1);
    r.vs_ideal = ideal ? r.step_ms / ideal.step_ms : null;
    r.vs_old_ideal = old ? r.step_ms / old.step_ms : null;
    r.speedup_vs_n1 = one ? one.step_ms / r.step_ms : null;
  }
}

const f = (v: number | null, d = 1) => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(d));

export function markdown(doc: { date: string; machine: Record<string, unknown>; adapter: unknown; steps: number; warmup: number; rows: CaseRow[]; failure: string | null; transport: string }): string {
  addRatios(doc.rows);
  const a = (doc.adapter ?? {}) as Record<string, unknown>;
  const out = [
    `# DistriFusion speed (${doc.date})`,
    '',
    `Machine: ${String(doc.machine.hostname)}, ${String(doc.machine.cpus)} CPUs, ${String(doc.machine.gpus)} GPUs${doc.machine.pinned ? ' (one per peer)' : ''}; adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unknown'}.`,
    `Transport: ${doc.transport}. DDIM ${doc.steps} steps; step time = median over steps >= ${doc.warmup} of the slowest peer (compute + comm wait).`,
    'Ideal = corrected_async_gn with the exchange switched off after the warm-up (same kernels and shapes: full K/V attention over stale + fresh, halo-padded convs, corrected GN; stale values never refreshed; nothing sent or received per step, no eps gather). Old ideal = no_sync with commFree (patch-local attention, zero halos, local GN: less arithmetic). vs ideal / vs old ideal = step ms over theirs. N = 1 is the single-device run.',
    '',
    '| px | model | latent | N | mode | step ms | compute ms | wait ms | MB/step/peer | vs ideal | vs old ideal | speed-up vs N=1 | load s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...doc.rows.map((r) => `| ${r.px} | ${r.model} | ${r.latent} | ${r.n} | ${r.n === 1 ? 'single' : r.mode === 'no_sync' ? 'old ideal (no_sync, no comm)' : r.mode === 'ideal_async' ? 'ideal (corrected_async_gn, exchange off)' : modeLabel(r)} | ${f(r.step_ms)} | ${f(r.compute_ms)} | ${f(r.comm_wait_ms)} | ${f(r.bytes_per_step_per_peer / 1e6, 2)} | ${f(r.vs_ideal, 2)} | ${f(r.vs_old_ideal, 2)} | ${f(r.speedup_vs_n1, 2)} | ${f(r.load_ms / 1000)} |`),
    '',
    'Where the time goes (slowest peer, medians over the timed steps, ms): read wait = blocked on the step\'s final read-back (GPU work still queued after encoding); upload = host time putting received pieces on the GPU; pack/unpack = host f16 conversion; backend = the GPU backend\'s whole step (encoding, its piece waits and uploads, the read wait); host = compute - backend (the runner\'s sampler, row assembly, preview, events); per piece: wait (blocked), arrived at / sent at (ms since the step\'s start; arrival < 0 = during the previous step).',
    '',
    '| px | N | mode | backend | dispatches | host | read wait | upload | pack | unpack | eps gather | sync gathers | piece waits | pieces arrived at | pieces sent at |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...doc.rows.filter((r) => r.detail).map((r) => {
      const d = r.detail!;
      const l = (a: number[]) => a.map((v) => f(v, 0)).join(' ');
      return `| ${r.px} | ${r.n} | ${modeLabel(r)} | ${f(d.backend_ms)} | ${f(d.dispatches, 0)} | ${f(d.host_ms)} | ${f(d.read_wait_ms)} | ${f(d.upload_ms)} | ${f(d.pack_ms)} | ${f(d.unpack_ms)} | ${f(d.eps_gather_ms)} | ${f(d.sync_gather_ms)} | ${l(d.piece_wait_ms)} | ${l(d.piece_arrive_at_ms)} | ${l(d.piece_send_at_ms)} |`;
    }),
    '',
    'Goal: corrected_async_gn / ideal <= 1.1 (DistriFusion paper: 1.2). Anchors: DistriFusion 1.8x (2 GPUs) and 3.4x (4 GPUs) at 3840 px on A100s.',
  ];
  if (doc.failure) out.push('', '**Failed:**', '```', doc.failure, '```');
  return out.join('\n') + '\n';
}
