// Register-tiled f32 GEMM (shaders/gemm/gemm_reg.wgsl): C[M,N] = A[M,K] * B[K,N], or A * B^T with B[N,K].
// Same contract as gemm.ts; the shader's shared-memory layout keeps Dawn's robustness clamps out of the
// inner loop (see its header). Configs are override constants; GEMM_REG_CANDIDATES is what the bench
// sweeps and what tuneGemm() may try once device numbers justify it.
import code from '../../shaders/gemm/gemm_reg.wgsl?raw';
import codeU16x8 from '../../shaders/gemm/gemm_reg_u16x8.wgsl?raw';
import codeU8x16 from '../../shaders/gemm/gemm_reg_u8x16.wgsl?raw';
import codeU8x8 from '../../shaders/gemm/gemm_reg_u8x8.wgsl?raw';
import codeR16x8 from '../../shaders/gemm/gemm_reg_r16x8.wgsl?raw';
import type { Gpu, Kernel } from '../gpu/gpu';

const FILE = 'shaders/gemm/gemm_reg.wgsl';

/** Threads (wgX along N, wgY along M), outputs per thread (tm x tn), K step and scheduling knobs. */
export interface GemmRegConfig {
  wgX: number;
  wgY: number;
  tm: number; // rows of C per thread, multiple of 4
  tn: number; // columns of C per thread, multiple of 4
  bk: number; // multiple of 8
  stages: 1 | 2; // shared-memory stages (2: one barrier per K tile)
  warpX: number; // threads along N inside a 32-wide subgroup; 0 = row-major threads
  groupM: number; // L2 swizzle group (tile rows); 0 or 1 = raster order
  // Hand-unrolled shader (shaders/gemm/gemm_reg_u{tm}x{tn}.wgsl: 16x8, 8x16 or 8x8) instead of the
  // loop-and-array one; same knobs otherwise.
  unroll?: boolean;
  // shaders/gemm/gemm_reg_r16x8.wgsl (tm x tn = 16x8): unrolled, prefetch in named registers (no function
  // arrays for robustness to clamp), f16 and q8_0 weights (GemmRegOptions.bF16 / bQ8), a ragged-M vec4 path. Wins over
  // `unroll` when both are set.
  regs?: boolean;
}

/** The hand-unrolled shaders by `${tm}x${tn}`. */
const UNROLLED: Record<string, string> = { '16x8': codeU16x8, '8x16': codeU8x16, '8x8': codeU8x8 };

export interface GemmRegOptions {
  bT?: boolean; // B is [N, K] (row-major weights) instead of [K, N]
  config?: GemmRegConfig;
  // B holds f16 pairs packed in u32 words (GGUF f16 bytes). Needs bT and a `regs` config (bk % 8 == 0).
  bF16?: boolean;
  // B holds q8_0 repacked (src/kernels/common.ts repack(): quants, then f32 scales at word `scaleOff`). Same
  // needs as bF16 (both are read in pieces of 8 values along K).
  bQ8?: boolean;
  scaleOff?: number;
}

export const GEMM_REG_DEFAULT: GemmRegConfig = { wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8, stages: 2, warpX: 8, groupM: 8 };

export function gemmRegTile(cfg: GemmRegConfig): { bm: number; bn: number; threads: number } {
  return { bm: cfg.wgY * cfg.tm, bn: cfg.wgX * cfg.tn, threads: cfg.wgX * cfg.wgY };
}

/** Workgroup memory bytes: stages * (bk/8) * (BM/4 + BN/4) chunks of 9 vec4s. */
export function gemmRegSharedBytes(cfg: GemmRegConfig): number {
  const { bm, bn } = gemmRegTile(cfg);
  return cfg.stages * (cfg.bk / 8) * (bm / 4 + bn / 4) * 9 * 16;
}

/** Why `cfg` cannot run (shader constraints, or the given device limits), or null if it can. */
export function gemmRegConfigError(cfg: GemmRegConfig,
  limits?: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number }): string | null {
  const { wgX, wgY, tm, tn, bk, stages, warpX } = cfg;
  const { bm, bn, threads } = gemmRegTile(cfg);
  if (![4, 8, 12, 16].includes(tm) || ![4, 8, 12, 16].includes(tn)) return 'tm, tn must be 4, 8, 12 or 16';
  if (tm * tn > 128) return 'tm*tn must be <= 128 (32 vec4 accumulators)';
  if (cfg.unroll && !UNROLLED[`${tm}x${tn}`]) return 'unroll needs tm x tn = 16x8, 8x16 or 8x8';
  if (cfg.regs) {
    if (tm !== 16 || tn !== 8) return 'regs needs tm x tn = 16x8';
    // Named prefetch registers: 1..8 A quads and 1..8 B quads per thread (f16 / q8_0 B: gemmRegPackedError).
    if ((bm * bk) / 4 / threads > 8 || (bn * bk) / 4 / threads > 8) return 'regs needs 1..8 global loads per thread per operand';
  }
  if (bk % 8 !== 0 || bk <= 0) return 'bk must be a positive multiple of 8';
  if (stages !== 1 && stages !== 2) return 'stages must be 1 or 2';
  const aq = (bm * bk) / 4;
  const bq = (bn * bk) / 4;
  if (aq % threads !== 0 || bq % threads !== 0) return 'tile quads must split evenly over threads';
  if (aq / threads > 8 || bq / threads > 8) return 'at most 8 vec4 loads per thread per operand';
  if (warpX > 0) {
    if (threads % 32 !== 0 || 32 % warpX !== 0 || wgX % warpX !== 0 || wgY % (32 / warpX) !== 0) {
      return 'warp tiling needs threads % 32 == 0, wgX % warpX == 0, wgY % (32/warpX) == 0';
    }
  }
  if (limits) {
    if (threads > limits.maxComputeInvocationsPerWorkgroup) return 'too many threads for this device';
    if (gemmRegSharedBytes(cfg) > limits.maxComputeWorkgroupStorageSize) return 'too much workgroup memory for this device';
  }
  return null;
}

/** Why `cfg` cannot read packed B (f16 or q8_0, bT), or null: a regs config whose B tile splits into pieces
 * of 8 values along K evenly over its threads. */
export function gemmRegPackedError(cfg: GemmRegConfig): string | null {
  if (!cfg.regs) return 'f16 / q8_0 B needs a regs (gemm_reg_r16x8) config';
  const { bn, threads } = gemmRegTile(cfg);
  const pieces = (bn * cfg.bk) / 8 / threads;
  return Number.isInteger(pieces) && pieces >= 1 ? null : 'f16 / q8_0 B tile must split into >= 1 piece of 8 values per thread';
}

/** CPU reference in f64 accumulation: A [M,K], B [K,N] (or [N,K] if bT) -> C [M,N]. */
export function reference(a: Float32Array, b: Float32Array, M: number, N: number, K: number, bT = false): Float32Array {
  const c = new Float32Array(M * N); // [M, N]
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * (bT ? b[n * K + k] : b[k * N + n]);
      c[m * N + n] = s;
    }
  }
  return c;
}

export interface GemmRegDispatch {
  kernel: Kernel;
  params: Uint32Array;
  workgroups: [number, number];
}

/** Kernel, params and grid for one GEMM; the fast path (no bounds checks) when the shape is tile-aligned. */
export function planGemmReg(M: number, N: number, K: number, opts: GemmRegOptions = {}): GemmRegDispatch {
  const cfg = opts.config ?? GEMM_REG_DEFAULT;
  const err = gemmRegConfigError(cfg);
  if (err) throw new Error(`gemm_reg config ${JSON.stringify(cfg)}: ${err}`);
  if (opts.bF16 || opts.bQ8) {
    if (opts.bF16 && opts.bQ8) throw new Error('gemm_reg: B is f16 or q8_0, not both');
    const e = opts.bT ? gemmRegPackedError(cfg) : 'f16 / q8_0 B needs bT';
    if (e) throw new Error(`gemm_reg config ${JSON.stringify(cfg)}: ${e}`);
    if (opts.bQ8 && K % 32 !== 0) throw new Error(`gemm_reg q8_0 B needs K % 32 == 0 (got K=${K})`);
  }
  const { bm, bn } = gemmRegTile(cfg);
  const aligned = M % bm === 0 && N % bn === 0 && K % cfg.bk === 0;
  if (cfg.regs) {
    // CHECK 1 (only M ragged) keeps the vec4 loads for prompts of any length when N and K are aligned.
    const check = aligned ? 0 : N % bn === 0 && K % cfg.bk === 0 ? 1 : 2;
    return {
      kernel: { code: codeR16x8, file: 'shaders/gemm/gemm_reg_r16x8.wgsl', constants: {
        WG_X: cfg.wgX, WG_Y: cfg.wgY, BK: cfg.bk, STAGES: cfg.stages, WARP_X: cfg.warpX, GROUP_M: cfg.groupM,
        B_T: opts.bT ? 1 : 0, B_F16: opts.bF16 ? 1 : 0, B_Q8: opts.bQ8 ? 1 : 0, CHECK: check } },
      params: new Uint32Array([M, N, K, opts.bQ8 ? opts.scaleOff ?? (N * K) / 4 : 0]),
      workgroups: [Math.ceil(N / bn), Math.ceil(M / bm)],
    };
  }
  const constants: Record<string, number> = {
    WG_X: cfg.wgX, WG_Y: cfg.wgY, BK: cfg.bk, STAGES: cfg.stages,
    WARP_X: cfg.warpX, GROUP_M: cfg.groupM, B_T: opts.bT ? 1 : 0, CHECK: aligned ? 0 : 1,
  };
  const u = `${cfg.tm}x${cfg.tn}`;
  // The unrolled shaders fix TM and TN as consts: passing them as overrides would fail the pipeline.
  const kernel: Kernel = cfg.unroll
    ? { code: UNROLLED[u], file: `shaders/gemm/gemm_reg_u${u}.wgsl`, constants }
    : { code, file: FILE, constants: { ...constants, TM: cfg.tm, TN: cfg.tn } };
  return {
    kernel,
    params: new Uint32Array([M, N, K, 0]),
    workgroups: [Math.ceil(N / bn), Math.ceil(M / bm)],
  };
}

/** Encodes C = A * op(B) into `out` (or a new pooled buffer) and returns it: a [M,K], b [K,N]|[N,K], C [M,N]. */
export function gemmReg(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, M: number, N: number, K: number,
  opts: GemmRegOptions & { out?: GPUBuffer } = {}): GPUBuffer {
  const c = opts.out ?? gpu.alloc(M * N * 4, 'gemm_reg.c'); // [M, N]
  const d = planGemmReg(M, N, K, opts);
  gpu.run(d.kernel, d.params, [a, b, c], d.workgroups);
  return c;
}

/** Short label for tables: "128x128 t8x8 bk8 s2 w8 g8" (" u" for the unrolled shaders, " r" for gemm_reg_r16x8). */
export function gemmRegLabel(cfg: GemmRegConfig): string {
  const { bm, bn } = gemmRegTile(cfg);
  return `${bm}x${bn} t${cfg.tm}x${cfg.tn} bk${cfg.bk} s${cfg.stages} w${cfg.warpX} g${cfg.groupM}${cfg.regs ? ' r' : cfg.unroll ? ' u' : ''}`;
}

/**
 * The sweep's first phase: tile shapes x K step x stages, with warp tiling and L2 grouping on
 * (the second phase varies those for the leaders; see bench/gemm-sweep.ts).
 */
export function gemmRegCandidates(): GemmRegConfig[] {
  const shapes: [number, number, number, number][] = [ // wgX, wgY, tm, tn
    [16, 16, 8, 8], // 128x128, 256 threads (CUTLASS SIMT default)
    [16, 16, 8, 16], // 128x256
    [16, 16, 16, 8], // 256x128
    [16, 8, 8, 8], // 64x128, 128 threads
    [8, 16, 8, 8], // 128x64
    [16, 16, 4, 8], // 64x128, 256 threads
    [16, 16, 8, 4], // 128x64, 256 threads
    [32, 8, 8, 4], // 64x128, 256 threads, 8x4 per thread
    [8, 8, 8, 8], // 64x64, 64 threads
    [16, 8, 16, 8], // 128x128, 128 threads, 16x8 per thread
    [8, 16, 8, 16], // 128x128, 128 threads, 8x16 per thread
  ];
  const out: GemmRegConfig[] = [];
  for (const [wgX, wgY, tm, tn] of shapes) {
    for (const bk of [8, 16, 32]) {
      for (const stages of [2, 1] as const) {
        const cfg: GemmRegConfig = { wgX, wgY, tm, tn, bk, stages, warpX: 8, groupM: 8 };
        if (gemmRegConfigError(cfg)) cfg.warpX = 0; // e.g. 64 threads with wgY < 4: plain threads
        if (!gemmRegConfigError(cfg)) out.push(cfg);
      }
    }
  }
  return out;
}
