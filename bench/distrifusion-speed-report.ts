// Numbers and tables of bench/distrifusion-speed.ts: per (px, N, mode) the median step time over the
// timed steps (the slowest peer of each step), its compute / comm-wait split, bytes per step, and the
// ratios the issue asks for: corrected_async_gn / ideal (goal <= 1.1, the paper 1.2), full_sync /
// ideal, and each mode's speed-up over N = 1 at the same px.

export interface StepSample { step: number; computeMs: number; commWaitMs: number; sync: boolean }

export interface CaseRow {
  px: number;
  model: string;
  latent: number;
  n: number;
  mode: 'full_sync' | 'corrected_async_gn' | 'no_sync';
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
  vs_ideal: number | null; // step_ms / no_sync step_ms at the same (px, N)
  speedup_vs_n1: number | null; // N=1 step_ms / this step_ms (N = 1 runs no_sync = the single device)
  comm_bench?: unknown[];
  adapter?: Record<string, unknown>;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

export function summarize(o: {
  px: number; model: string; latent: number; n: number; mode: CaseRow['mode']; steps: number; warmup: number; loadMs: number;
  samples: StepSample[][]; results: { timings: { totalMs: number } }[]; wallMs: number; flatBytes: number; epsBytes: number;
}): CaseRow {
  const step: number[] = [];
  const comp: number[] = [];
  const wait: number[] = [];
  let syncSteps = 0;
  for (let k = 0; k < o.steps; k++) {
    const per = o.samples.map((s) => s.find((e) => e.step === k));
    if (per.some((e) => !e)) throw new Error(`${o.model} N=${o.n} ${o.mode}: step ${k} events missing from ${per.filter((e) => !e).length} peer(s)`);
    if (per[0]!.sync) syncSteps++;
    if (k < o.warmup) continue;
    const slow = per.reduce((a, b) => (b!.computeMs + b!.commWaitMs > a!.computeMs + a!.commWaitMs ? b : a))!;
    step.push(slow.computeMs + slow.commWaitMs);
    comp.push(slow.computeMs);
    wait.push(slow.commWaitMs);
  }
  return {
    px: o.px, model: o.model, latent: o.latent, n: o.n, mode: o.mode, steps: o.steps, warmup: o.warmup, load_ms: o.loadMs,
    step_ms: median(step), step_ms_all: step, compute_ms: median(comp), comm_wait_ms: median(wait), wall_ms_per_step: o.wallMs / o.steps,
    flat_buffer_bytes: o.flatBytes, eps_bytes: o.epsBytes, bytes_per_step_per_peer: o.flatBytes + o.epsBytes, sync_steps: syncSteps,
    vs_ideal: null, speedup_vs_n1: null,
  };
}

/** Fills vs_ideal and speedup_vs_n1 in place. */
export function addRatios(rows: CaseRow[]): void {
  for (const r of rows) {
    const ideal = rows.find((x) => x.px === r.px && x.n === r.n && x.mode === 'no_sync');
    const one = rows.find((x) => x.px === r.px && x.n === 1);
    r.vs_ideal = ideal ? r.step_ms / ideal.step_ms : null;
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
    'Ideal = no_sync with commFree (no bytes at all per step). N = 1 is the single-device run.',
    '',
    '| px | model | latent | N | mode | step ms | compute ms | wait ms | MB/step/peer | vs ideal | speed-up vs N=1 | load s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...doc.rows.map((r) => `| ${r.px} | ${r.model} | ${r.latent} | ${r.n} | ${r.n === 1 ? 'single' : r.mode === 'no_sync' ? 'ideal (no comm)' : r.mode} | ${f(r.step_ms)} | ${f(r.compute_ms)} | ${f(r.comm_wait_ms)} | ${f(r.bytes_per_step_per_peer / 1e6, 2)} | ${f(r.vs_ideal, 2)} | ${f(r.speedup_vs_n1, 2)} | ${f(r.load_ms / 1000)} |`),
    '',
    'Goal: corrected_async_gn / ideal <= 1.1 (DistriFusion paper: 1.2). Anchors: DistriFusion 1.8x (2 GPUs) and 3.4x (4 GPUs) at 3840 px on A100s.',
  ];
  if (doc.failure) out.push('', '**Failed:**', '```', doc.failure, '```');
  return out.join('\n') + '\n';
}
