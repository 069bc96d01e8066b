// Pipelined f32 GEMM with a fixed 128x256 tile (shaders/gemm/gemm_reg_p16x8.wgsl): C[M,N] = A[M,K] * B[K,N],
// or A * B^T with B[N,K]. Aligned shapes only (M % 128, N % 256, K % bk); an experiment aimed at 4096^3 on
// the H100 (issue 7), timed beside gemm_reg_r16x8 by bench/gemm50.ts. Not used by matmul() unless it wins.
import code from '../../shaders/gemm/gemm_reg_p16x8.wgsl?raw';
import type { Gpu, Kernel } from '../gpu/gpu';

export { reference } from './gemm-reg';

const FILE = 'shaders/gemm/gemm_reg_p16x8.wgsl';
export const PIPE_BM = 128;
export const PIPE_BN = 256;

/** Schedule knobs of gemm_reg_p16x8 (the tile, threads and 16x8 outputs per thread are fixed). */
export interface GemmPipeConfig {
  bk: 8 | 16;
  stages: 1 | 2; // 2: next tile copied in parts during the FMAs, one barrier per tile
  warpX: 0 | 4 | 8 | 16 | 32; // threads along N inside a 32-wide subgroup; 0 = row-major threads
  groupM: number; // L2 swizzle group (tile rows); 0 or 1 = raster order
}

export const GEMM_PIPE_DEFAULT: GemmPipeConfig = { bk: 16, stages: 2, warpX: 4, groupM: 0 };

/** Workgroup memory bytes: stages * bk * (32 + 64) vec4s (bk16 s2: exactly 48 KiB). */
export function gemmPipeSharedBytes(cfg: GemmPipeConfig): number {
  return cfg.stages * cfg.bk * (PIPE_BM / 4 + PIPE_BN / 4) * 16;
}

/** Why the shape or config cannot run (alignment, knobs, device limits), or null. */
export function gemmPipeError(M: number, N: number, K: number, cfg: GemmPipeConfig,
  limits?: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }): string | null {
  if (cfg.bk !== 8 && cfg.bk !== 16) return 'bk must be 8 or 16';
  if (cfg.stages !== 1 && cfg.stages !== 2) return 'stages must be 1 or 2';
  if (![0, 4, 8, 16, 32].includes(cfg.warpX)) return 'warpX must be 0, 4, 8, 16 or 32';
  if (M % PIPE_BM || N % PIPE_BN || K % cfg.bk || K === 0) return `shape must be aligned: M % ${PIPE_BM}, N % ${PIPE_BN}, K % ${cfg.bk}`;
  if (limits) {
    if (limits.maxComputeInvocationsPerWorkgroup < 256) return 'needs 256 invocations per workgroup';
    if (gemmPipeSharedBytes(cfg) > limits.maxComputeWorkgroupStorageSize) return 'too much workgroup memory for this device';
  }
  return null;
}

export interface GemmPipeDispatch {
  kernel: Kernel;
  params: Uint32Array;
  workgroups: [number, number];
}

/** Kernel, params and grid for one GEMM; throws on an unaligned shape. */
export function planGemmPipe(M: number, N: number, K: number, opts: { bT?: boolean; config?: GemmPipeConfig } = {}): GemmPipeDispatch {
  const cfg = opts.config ?? GEMM_PIPE_DEFAULT;
  const err = gemmPipeError(M, N, K, cfg);
  if (err) throw new Error(`gemm_reg_p16x8 ${M}x${N}x${K} ${JSON.stringify(cfg)}: ${err}`);
  return {
    kernel: { code, file: FILE, constants: { BK: cfg.bk, STAGES: cfg.stages, WARP_X: cfg.warpX, GROUP_M: cfg.groupM, B_T: opts.bT ? 1 : 0 } },
    params: new Uint32Array([M, N, K, 0]),
    workgroups: [N / PIPE_BN, M / PIPE_BM],
  };
}

/** Encodes C = A * op(B) into `out` (or a new pooled buffer): a [M,K], b [K,N]|[N,K], C [M,N]. */
export function gemmPipe(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, M: number, N: number, K: number,
  opts: { bT?: boolean; config?: GemmPipeConfig; out?: GPUBuffer } = {}): GPUBuffer {
  const c = opts.out ?? gpu.alloc(M * N * 4, 'gemm_pipe.c'); // [M, N]
  const d = planGemmPipe(M, N, K, opts);
  gpu.run(d.kernel, d.params, [a, b, c], d.workgroups);
  return c;
}

/** Short label for tables: "p 128x256 bk16 s2 w4 g0". */
export function gemmPipeLabel(cfg: GemmPipeConfig): string {
  return `p 128x256 t16x8 bk${cfg.bk} s${cfg.stages} w${cfg.warpX} g${cfg.groupM}`;
}
