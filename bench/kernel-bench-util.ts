// Shared pieces of the single-kernel GPU benches (bench/unet-kernels.ts, bench/conv-gemm-sweep.ts):
// timing many calls of one op in one pass, seeded random inputs, and one error number per comparison.
import type { Gpu } from '../src/gpu/gpu';

// The GPU's idle state: an H200 idles at 345 MHz, reads 1980 MHz 0.3 s after work starts, but its power draw takes
// ~2 s to climb and work timed in that window ran at ~60% speed (bench/results/decode-warmup-nvidia-h200-*); its
// clock stays up ~4 s after the last work. A bench whose host prepares data between cases (random weights,
// quantization in JS) would time each case's first passes cold: warmIfIdle() runs the case's own pass for
// WARM_MS when the GPU has been idle for IDLE_MS.
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 1500);
const IDLE_MS = 1000;
let lastWork = 0;

/** Repeats `pass` for WARM_MS if no timed GPU work ended in the last IDLE_MS (see above); then marks work. */
export async function warmIfIdle(pass: () => Promise<unknown>): Promise<void> {
  if (performance.now() - lastWork > IDLE_MS) for (const t0 = performance.now(); performance.now() - t0 < WARM_MS;) await pass();
  lastWork = performance.now();
}

/** Marks the end of timed GPU work (warmIfIdle's idle clock). */
export function markWork(): void {
  lastWork = performance.now();
}

/**
 * GPU seconds per call of `enqueue` (which returns a pooled buffer that is freed at once): the median
 * of 3 passes of enough calls to last ~targetSec (at most maxReps), from timestamp queries when the
 * Gpu's timer is on (gpu.enableTimer()), else the wall clock over the same pass.
 */
export async function timeCalls(gpu: Gpu, enqueue: () => GPUBuffer, targetSec: number, maxReps: number): Promise<number> {
  const pass = async (reps: number): Promise<number> => {
    await gpu.sync();
    await gpu.gpuTimes(); // drops earlier passes
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) gpu.free(enqueue());
    await gpu.sync();
    const wall = (performance.now() - t0) / 1e3;
    const t = await gpu.gpuTimes();
    return (t && t.passes ? t.busyMs / 1e3 : wall) / reps;
  };
  const est = await pass(2); // compiles
  const reps = Math.max(3, Math.min(maxReps, Math.ceil(targetSec / Math.max(est, 1e-6))));
  await warmIfIdle(() => pass(reps));
  const runs = [await pass(reps), await pass(reps), await pass(reps)].sort((a, b) => a - b);
  markWork();
  return runs[1];
}

let seed = 12345;
/** n uniform floats in [-scale/2, scale/2) from one LCG stream per process (reproducible runs). */
export function randomF32(n: number, scale = 1): Float32Array {
  const f = new Float32Array(n); // [n]
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    f[i] = (seed / 4294967296 - 0.5) * scale;
  }
  return f;
}

/** max |a - b| / max |b|: one number per comparison, robust to near-zero elements. */
export function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
}
