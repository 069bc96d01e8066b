// f32 GEMM (shaders/gemm/gemm.wgsl): C[M,N] = A[M,K] * B[K,N], or A * B^T with B[N,K] (weights layout).
// Tile sizes are override constants; tuneGemm() picks them per adapter through autotune.ts.
import code from '../../shaders/gemm/gemm.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { autotune, defaultTuneCache, tuneKey, wallClock, type TuneCache, type TuneResult } from './autotune';
import { gemmReg, gemmRegConfigError, type GemmRegConfig, type GemmRegDispatch } from './gemm-reg';

const FILE = 'shaders/gemm/gemm.wgsl';

/** Threads (wgX along N, wgY along M) and K step; each thread computes an 8x8 block of C. */
export interface GemmConfig {
  wgX: number;
  wgY: number;
  bk: number;
  swiz?: boolean; // warp tiling: 32 consecutive threads own an 8x4 block of threads (see gemm.wgsl)
}

export interface GemmOptions {
  bT?: boolean; // B is [N, K] (row-major weights) instead of [K, N]
  config?: GemmConfig;
  // Selects the register-tiled kernel (shaders/gemm/gemm_reg.wgsl) with this config instead of gemm.wgsl.
  reg?: GemmRegConfig;
}

/** The autotuner's candidates: 128x128, 128x64, 64x128 and 64x64 tiles at two K steps. */
export const GEMM_CANDIDATES: GemmConfig[] = [
  { wgX: 16, wgY: 16, bk: 8 },
  { wgX: 16, wgY: 16, bk: 8, swiz: true },
  { wgX: 16, wgY: 16, bk: 16, swiz: true },
  { wgX: 16, wgY: 8, bk: 16, swiz: true },
  { wgX: 16, wgY: 8, bk: 8, swiz: true },
  { wgX: 8, wgY: 16, bk: 8, swiz: true },
  { wgX: 16, wgY: 16, bk: 16 },
  { wgX: 8, wgY: 16, bk: 16 },
  { wgX: 16, wgY: 8, bk: 16 },
  { wgX: 8, wgY: 16, bk: 8 },
  { wgX: 16, wgY: 8, bk: 8 },
  { wgX: 8, wgY: 8, bk: 8 },
  { wgX: 8, wgY: 8, bk: 16 },
];

/**
 * gemm_reg.wgsl configs the autotuner tries beside GEMM_CANDIDATES: the leaders of the H100 sweep
 * (bench/results/gemm-sweep-nvidia-h100-2026-11-28.md, 4096^3: 44.4, 43.9, 43.2, 42.6, 41.5 TFLOPS vs
 * 31.5 for the best gemm.wgsl), the winner in the hand-unrolled shader (not yet timed on a GPU: the
 * tuner decides), and a 64x64 one that fits small adapters (64 threads, 9 KB shared).
 */
export const GEMM_REG_TUNE: GemmRegConfig[] = [
  { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 4, groupM: 0 }, // 128x128 t16x8 bk8 s1 w4 g0
  { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 4, groupM: 0, unroll: true }, // the same, unrolled shader
  // gemm_reg_r16x8.wgsl: unrolled with named prefetch registers (nothing for robustness to clamp); not yet
  // timed on a GPU when added: the tuner and bench/gemm-sweep.ts decide.
  { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 4, groupM: 0, regs: true },
  { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 16, groupM: 0, regs: true },
  { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 16, groupM: 0 }, // w16
  { wgX: 16, wgY: 16, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 4, groupM: 0 }, // 256x128
  { wgX: 16, wgY: 8, tm: 8, tn: 4, bk: 16, stages: 1, warpX: 8, groupM: 16 }, // 64x128 t8x4 bk16
  { wgX: 8, wgY: 16, tm: 8, tn: 4, bk: 16, stages: 1, warpX: 8, groupM: 8 }, // 128x64 t8x4 bk16
  { wgX: 8, wgY: 8, tm: 8, tn: 8, bk: 8, stages: 2, warpX: 8, groupM: 8 }, // 64x64, small adapters
];

/** One autotune candidate: a gemm.wgsl config, or a gemm_reg.wgsl config wrapped as { reg }. */
export type GemmChoice = GemmConfig | { reg: GemmRegConfig };

/** What tuneGemm() tries by default: the register-tiled leaders first, then every gemm.wgsl config. */
export const GEMM_TUNE_CANDIDATES: GemmChoice[] = [...GEMM_REG_TUNE.map((reg) => ({ reg })), ...GEMM_CANDIDATES];

/** The gemm() options that run `choice` (spread them into the call's options). */
export function gemmChoiceOptions(choice: GemmChoice): Pick<GemmOptions, 'config' | 'reg'> {
  return 'reg' in choice ? { reg: choice.reg } : { config: choice };
}

/** Why `choice` cannot run (shader constraints or the adapter's limits), or null. */
export function gemmChoiceError(choice: GemmChoice,
  limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number }): string | null {
  if ('reg' in choice) return gemmRegConfigError(choice.reg, limits);
  if (choice.wgX * choice.wgY > limits.maxComputeInvocationsPerWorkgroup) return 'too many threads for this device';
  return gemmConfigError(choice);
}

/** A safe default before tuning: 64x64 tiles (64 threads) fit every WebGPU adapter's limits. */
export const GEMM_DEFAULT: GemmConfig = { wgX: 8, wgY: 8, bk: 8 };

/** Why `cfg` cannot run (the shader's load split), or null if it can. */
export function gemmConfigError(cfg: GemmConfig): string | null {
  const { wgX, wgY, bk } = cfg;
  if (bk % 4 !== 0) return 'bk must be a multiple of 4';
  if ((2 * bk) % wgX !== 0 || (2 * bk) % wgY !== 0) return '2*bk must be a multiple of wgX and wgY';
  if ((2 * bk) / Math.min(wgX, wgY) > 4) return 'at most 4 vec4 loads per thread per operand';
  if (cfg.swiz && (wgX % 8 !== 0 || wgY % 4 !== 0)) return 'swiz needs wgX % 8 == 0 and wgY % 4 == 0';
  return null;
}

// The CPU reference (f64 accumulation, NN or NT) is shared with the register-tiled family.
export { reference } from './gemm-reg';

/** Kernel, params and grid of one dispatch (the same shape as the register-tiled family's). */
export type Dispatch = GemmRegDispatch;

/** Kernel, params and grid for one GEMM: the fast path (no bounds checks) when the shape is tile-aligned. */
export function planGemm(M: number, N: number, K: number, opts: GemmOptions = {}): Dispatch {
  const cfg = opts.config ?? GEMM_DEFAULT;
  const err = gemmConfigError(cfg);
  if (err) throw new Error(`gemm config ${JSON.stringify(cfg)}: ${err}`);
  const bm = 8 * cfg.wgY;
  const bn = 8 * cfg.wgX;
  const aligned = M % bm === 0 && N % bn === 0 && K % cfg.bk === 0;
  return {
    kernel: {
      code,
      file: FILE,
      constants: { WG_X: cfg.wgX, WG_Y: cfg.wgY, BK: cfg.bk, B_T: opts.bT ? 1 : 0, CHECK: aligned ? 0 : 1,
        SWIZ: cfg.swiz ? 1 : 0 },
    },
    params: new Uint32Array([M, N, K, 0]),
    workgroups: [Math.ceil(N / bn), Math.ceil(M / bm)],
  };
}

/** Encodes C = A * op(B) into `out` (or a new pooled buffer) and returns it: a [M,K], b [K,N]|[N,K], C [M,N]. */
export function gemm(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, M: number, N: number, K: number,
  opts: GemmOptions & { out?: GPUBuffer } = {}): GPUBuffer {
  // No kernel named: the adapter's cached tuneGemm() winner for this shape class (GEMM_DEFAULT if untuned).
  if (!opts.config && !opts.reg) opts = { ...opts, ...gemmTuned(gpu, M, N, K, { bT: opts.bT }) };
  if (opts.reg) return gemmReg(gpu, a, b, M, N, K, { bT: opts.bT, config: opts.reg, out: opts.out });
  const c = opts.out ?? gpu.alloc(M * N * 4, 'gemm.c'); // [M, N]
  const d = planGemm(M, N, K, opts);
  gpu.run(d.kernel, d.params, [a, b, c], d.workgroups);
  return c;
}

/** Shape class for the tuning cache: log2 of the geometric-mean dimension, and the B layout. v3: the
 * candidate set gained gemm_reg_r16x8.wgsl (v2: gemm_reg.wgsl), so older cached winners are not reused. */
export function gemmShapeKey(M: number, N: number, K: number, bT = false): string {
  return `gemm.v3|${bT ? 'nt' : 'nn'}|s${Math.round(Math.log2(M * N * K) / 3)}`;
}

/**
 * Picks (and caches per adapter) the fastest candidate for this shape class, timing it with wall clock.
 * Run once per shape class at load time (e.g. a prefill-sized matmul); gemmTuned() then reads the cache.
 */
export async function tuneGemm(gpu: Gpu, M: number, N: number, K: number,
  opts: { bT?: boolean; cache?: TuneCache; candidates?: GemmChoice[] } = {}): Promise<TuneResult<GemmChoice>> {
  const limits = gpu.report.limits;
  const candidates = (opts.candidates ?? GEMM_TUNE_CANDIDATES).filter((c) => !gemmChoiceError(c, limits));
  const a = gpu.alloc(M * K * 4, 'tune.a'); // [M, K]
  const b = gpu.alloc(K * N * 4, 'tune.b'); // [K, N] or [N, K]
  const c = gpu.alloc(M * N * 4, 'tune.c'); // [M, N]
  // Random-ish data, not zeros: zeros can run faster than real data.
  gpu.write(a, new Float32Array(M * K).map((_, i) => ((i * 7919) % 17) / 17 - 0.5));
  gpu.write(b, new Float32Array(K * N).map((_, i) => ((i * 104729) % 13) / 13 - 0.5));
  const key = tuneKey(gpu.report, gemmShapeKey(M, N, K, opts.bT));
  try {
    const res = await autotune({
      key,
      candidates,
      cache: opts.cache,
      measure: (choice) => wallClock(gpu, () => gemm(gpu, a, b, M, N, K, { bT: opts.bT, ...gemmChoiceOptions(choice), out: c })),
    });
    tunedMemo.get(gpu)?.delete(key); // the next gemmTuned() reads the new winner
    return res;
  } finally {
    gpu.free(a);
    gpu.free(b);
    gpu.free(c);
  }
}

// gemmTuned() memo per Gpu and cache key (default cache only): gemm() without a config asks for every
// dispatch, and reading + parsing the cached JSON each time is avoidable. tuneGemm() drops the key it tunes.
const tunedMemo = new WeakMap<Gpu, Map<string, Pick<GemmOptions, 'config' | 'reg'>>>();

/**
 * The cached tuneGemm() winner for this shape class on this adapter (synchronous: no tuning), or
 * GEMM_DEFAULT when none is cached or the cached one no longer validates. Memoized for the default cache.
 */
export function gemmTuned(gpu: Gpu, M: number, N: number, K: number,
  opts: { bT?: boolean; cache?: TuneCache } = {}): Pick<GemmOptions, 'config' | 'reg'> {
  const key = tuneKey(gpu.report, gemmShapeKey(M, N, K, opts.bT));
  let memo = opts.cache ? undefined : tunedMemo.get(gpu);
  if (!opts.cache && !memo) tunedMemo.set(gpu, (memo = new Map()));
  const known = memo?.get(key);
  if (known) return known;
  let picked: Pick<GemmOptions, 'config' | 'reg'> = { config: GEMM_DEFAULT };
  const hit = (opts.cache ?? defaultTuneCache()).get(key);
  if (hit) {
    try {
      const choice = JSON.parse(hit) as GemmChoice;
      if (!gemmChoiceError(choice, gpu.report.limits)) picked = gemmChoiceOptions(choice);
    } catch {
      // corrupt entry: fall through to the default
    }
  }
  memo?.set(key, picked);
  return picked;
}
