// Mutation bench of gemm_reg_r16x8 (shaders/gemm/gemm_reg_q16x8.wgsl): f32 C[M,N] = A[M,K] * B[K,N], or
// A * B^T with B[N,K]. Aligned shapes only (M % BM, N % BN, K % bk); an experiment aimed at 4096^3 on the
// H100 (issue 7), timed beside r16x8 by bench/gemm50b.ts. Not used by matmul() unless it wins.
import code from '../../shaders/gemm/gemm_reg_q16x8.wgsl?raw';
import type { Gpu, Kernel } from '../gpu/gpu';

export { reference } from './gemm-reg';

const FILE = 'shaders/gemm/gemm_reg_q16x8.wgsl';

/** Threads (wgX along N, wgY along M; 16x8 outputs each), K step and the schedule knobs of the shader. */
export interface GemmQConfig {
  wgX: number;
  wgY: number;
  bk: 8 | 16 | 24 | 32;
  stages: 1 | 2;
  warpX: 0 | 4 | 8 | 16 | 32; // threads along N inside a 32-wide subgroup; 0 = row-major threads
  groupM: number; // L2 swizzle group (tile rows); 0 or 1 = raster order
  unrollKc: boolean; // chunk loop written out straight (one basic block per tile)
  pfUncond: boolean; // next-tile loads/stores without a branch (last tile re-reads itself)
}

export const GEMM_Q_DEFAULT: GemmQConfig = { wgX: 32, wgY: 8, bk: 16, stages: 1, warpX: 4, groupM: 0, unrollKc: false, pfUncond: false };

export function gemmQTile(cfg: GemmQConfig): { bm: number; bn: number; threads: number } {
  return { bm: cfg.wgY * 16, bn: cfg.wgX * 8, threads: cfg.wgX * cfg.wgY };
}

/** Workgroup memory bytes: stages * (bk/8) * (BM/4 + BN/4) chunks of 9 vec4s (128x256 bk16 s1: 27 KiB). */
export function gemmQSharedBytes(cfg: GemmQConfig): number {
  const { bm, bn } = gemmQTile(cfg);
  return cfg.stages * (cfg.bk / 8) * (bm / 4 + bn / 4) * 9 * 16;
}

/** Why the shape or config cannot run (alignment, knobs, device limits), or null. */
export function gemmQError(M: number, N: number, K: number, cfg: GemmQConfig,
  limits?: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }): string | null {
  const { bm, bn, threads } = gemmQTile(cfg);
  if (![8, 16, 24, 32].includes(cfg.bk)) return 'bk must be 8, 16, 24 or 32';
  if (cfg.stages !== 1 && cfg.stages !== 2) return 'stages must be 1 or 2';
  const aq = (bm * cfg.bk) / 4 / threads; // A_LOADS
  const bq = (bn * cfg.bk) / 4 / threads; // B_LOADS
  if (!Number.isInteger(aq) || !Number.isInteger(bq) || aq < 1 || bq < 1 || aq > 8 || bq > 8) {
    return 'tile quads must split into 1..8 vec4 loads per thread per operand';
  }
  const { warpX } = cfg;
  if (![0, 4, 8, 16, 32].includes(warpX)) return 'warpX must be 0, 4, 8, 16 or 32';
  if (warpX > 0 && (threads % 32 !== 0 || cfg.wgX % warpX !== 0 || cfg.wgY % (32 / warpX) !== 0)) {
    return 'warp tiling needs threads % 32 == 0, wgX % warpX == 0, wgY % (32/warpX) == 0';
  }
  if (M % bm || N % bn || K % cfg.bk || K === 0) return `shape must be aligned: M % ${bm}, N % ${bn}, K % ${cfg.bk}`;
  if (limits) {
    if (threads > limits.maxComputeInvocationsPerWorkgroup) return 'too many threads for this device';
    if (gemmQSharedBytes(cfg) > limits.maxComputeWorkgroupStorageSize) return 'too much workgroup memory for this device';
  }
  return null;
}

export interface GemmQDispatch {
  kernel: Kernel;
  params: Uint32Array;
  workgroups: [number, number];
}

/** Kernel, params and grid for one GEMM; throws on an unaligned shape or a bad config. */
export function planGemmQ(M: number, N: number, K: number, opts: { bT?: boolean; config?: GemmQConfig } = {}): GemmQDispatch {
  const cfg = opts.config ?? GEMM_Q_DEFAULT;
  const err = gemmQError(M, N, K, cfg);
  if (err) throw new Error(`gemm_reg_q16x8 ${M}x${N}x${K} ${JSON.stringify(cfg)}: ${err}`);
  const { bm, bn } = gemmQTile(cfg);
  return {
    kernel: { code, file: FILE, constants: {
      WG_X: cfg.wgX, WG_Y: cfg.wgY, BK: cfg.bk, STAGES: cfg.stages, WARP_X: cfg.warpX, GROUP_M: cfg.groupM,
      B_T: opts.bT ? 1 : 0, UNROLL_KC: cfg.unrollKc ? 1 : 0, PF_UNCOND: cfg.pfUncond ? 1 : 0 } },
    params: new Uint32Array([M, N, K, 0]),
    workgroups: [N / bn, M / bm],
  };
}

/** Encodes C = A * op(B) into `out` (or a new pooled buffer): a [M,K], b [K,N]|[N,K], C [M,N]. */
export function gemmQ(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, M: number, N: number, K: number,
  opts: { bT?: boolean; config?: GemmQConfig; out?: GPUBuffer } = {}): GPUBuffer {
  const c = opts.out ?? gpu.alloc(M * N * 4, 'gemm_q.c'); // [M, N]
  const d = planGemmQ(M, N, K, opts);
  gpu.run(d.kernel, d.params, [a, b, c], d.workgroups);
  return c;
}

/** Short label for tables: "q 128x256 bk16 s1 w4 g0 U P" (U = unrollKc, P = pfUncond). */
export function gemmQLabel(cfg: GemmQConfig): string {
  const { bm, bn } = gemmQTile(cfg);
  return `q ${bm}x${bn} bk${cfg.bk} s${cfg.stages} w${cfg.warpX} g${cfg.groupM}${cfg.unrollKc ? ' U' : ''}${cfg.pfUncond ? ' P' : ''}`;
}
