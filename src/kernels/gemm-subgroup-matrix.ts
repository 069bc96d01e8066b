// Int8 GEMM on subgroup matrices (shaders/gemm/gemm_subgroup_matrix_i8.wgsl, one subgroup per 64x64 block loading
// from storage; shaders/gemm/gemm_subgroup_matrix_i8_tiled.wgsl, SG_M x SG_N subgroups staging A and B tiles
// through workgroup memory): C[M,N] i32 = A[M,K] i8 * B[N,K]^T i8. Only for devices with the `chromium-experimental-subgroup-matrix` feature and an i8 -> i32 16x16x32
// config (what the H100 offers through Dawn with allow_unsafe_apis); the shader does not compile elsewhere,
// so callers gate on subgroupMatrixSupport() first. Measured by bench/gemm-subgroup-matrix.ts.
import code from '../../shaders/gemm/gemm_subgroup_matrix_i8.wgsl?raw';
import tiledCode from '../../shaders/gemm/gemm_subgroup_matrix_i8_tiled.wgsl?raw';
import type { Kernel } from '../gpu/gpu';

export const SGM_FEATURE = 'chromium-experimental-subgroup-matrix';
export const SGM_TILE = 64; // C block per workgroup (one subgroup)

/** One adapter subgroup-matrix config, its fields read by name (they are getters: JSON.stringify prints {}). */
export interface SubgroupMatrixConfig { componentType: string; resultComponentType: string; M: number; N: number; K: number }

/** The adapter's configs as plain objects ([] when the feature is absent). */
export function subgroupMatrixConfigs(info: unknown): SubgroupMatrixConfig[] {
  const smc = (info as { subgroupMatrixConfigs?: ArrayLike<Record<string, unknown>> } | undefined)?.subgroupMatrixConfigs;
  if (!smc) return [];
  return Array.from({ length: Number(smc.length) || 0 }, (_, i) => smc[i]).map((c) => ({
    componentType: String(c.componentType), resultComponentType: String(c.resultComponentType),
    M: Number(c.M), N: Number(c.N), K: Number(c.K) }));
}

/** Null when the i8 shader can run on this adapter, else why not. */
export function subgroupMatrixSupport(features: ReadonlySet<string> | Iterable<string>, info: unknown): string | null {
  if (![...features].includes(SGM_FEATURE)) return `no ${SGM_FEATURE} feature`;
  const ok = subgroupMatrixConfigs(info).some((c) => c.componentType === 'i8' && c.resultComponentType === 'i32' && c.M === 16 && c.N === 16 && c.K === 32);
  return ok ? null : 'no i8 -> i32 16x16x32 subgroup-matrix config';
}

/** int8 values (-128..127) -> i32 words, 4 per word, little-endian; length must be a multiple of 4. */
export function packI8(v: Int8Array): Int32Array {
  if (v.length % 4) throw new Error('packI8: length must be a multiple of 4');
  return new Int32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.length));
}

/** CPU reference: A [M,K] i8, B [N,K] i8 -> C [M,N] i32 (exact). */
export function referenceI8(a: Int8Array, b: Int8Array, M: number, N: number, K: number): Int32Array {
  const c = new Int32Array(M * N); // [M, N]
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * b[n * K + k];
      c[m * N + n] = s;
    }
  }
  return c;
}

/** Kernel, params and grid; unit = i8 elements per load offset/stride unit (4: array words, 1: matrix elements). */
export function planGemmSubgroupMatrix(M: number, N: number, K: number, unit: 1 | 4 = 4): { kernel: Kernel; params: Uint32Array; workgroups: [number, number] } {
  if (M % SGM_TILE || N % SGM_TILE || K % 32 || K === 0) throw new Error(`gemm_subgroup_matrix_i8: shape ${M}x${N}x${K} must have M, N % 64 and K % 32 == 0`);
  return {
    kernel: { code, file: 'shaders/gemm/gemm_subgroup_matrix_i8.wgsl', constants: { UNIT: unit } },
    params: new Uint32Array([M, N, K, 0]),
    workgroups: [N / SGM_TILE, M / SGM_TILE],
  };
}

/** Tiled kernel knobs: SG_M x SG_N subgroups of 32 (each a 64x64 block of C), k per staged tile, row padding in words;
 *  swizzle: lane-rotated staging stores, bank-conflict-free when (bk/4 + pad)/4 is odd (default true: 219.9 vs 193.2
 *  TOPS plain on the H200 at 4096^3). Double-buffered tiles lost on the H200 and were removed (docs/arch-gemm.md,
 *  code at ea8a5a5). */
export interface SgmTiledConfig { sgM: number; sgN: number; bk: 32 | 64; pad: number; swizzle?: boolean }

// A per-subgroup tile larger than 64x64 (4x8 result matrices) is not offered: an i32 16x16 result matrix holds 8
// registers per lane, so 32 accumulators alone would take 256 of the 255 registers a thread may use.

/** Device limits the tiled kernel must fit; WebGPU's defaults when omitted (Dawn grants more on request). */
export interface SgmTiledLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  /** Dawn needs the workgroup x size to be a multiple of it when a shader uses subgroup matrices. */
  subgroupMaxSize?: number;
}

// The H200's best (bench/results/gemm-subgroup-matrix-i8-tiled-v2-*): 219.9 TOPS at 4096^3.
export const SGM_TILED_DEFAULT: SgmTiledConfig = { sgM: 2, sgN: 2, bk: 64, pad: 4, swizzle: true };
export const SGM_TILED_MAXV = 8; // the shader's MAXV: vec4 registers per operand for the next tile
export const SGM_TILED_MAX_WG_BYTES = 48 * 1024; // the budget we keep to, whatever the device allows
const WEBGPU_DEFAULT_LIMITS: SgmTiledLimits = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 };

/** Derived sizes, named as the shader's overrides: WG invocations, BM x BN block, ROW words per staged row,
 *  VA/VB vec4 copied per invocation per tile, workgroup storage in bytes (both tiles). */
export function sgmTiledGeometry(cfg: SgmTiledConfig) {
  const wg = 32 * cfg.sgM * cfg.sgN;
  const bm = 64 * cfg.sgM;
  const bn = 64 * cfg.sgN;
  const row = cfg.bk / 4 + cfg.pad;
  return { wg, bm, bn, row, va: (bm * cfg.bk) / 16 / wg, vb: (bn * cfg.bk) / 16 / wg, workgroupBytes: 4 * (bm + bn) * row };
}

/** Null when the config compiles to a valid pipeline under these limits (as far as the host can tell), else why not. */
export function sgmTiledConfigError(cfg: SgmTiledConfig, limits: SgmTiledLimits = WEBGPU_DEFAULT_LIMITS): string | null {
  const { sgM, sgN, bk, pad } = cfg;
  if (![sgM, sgN].every((x) => Number.isInteger(x) && x >= 1)) return `sgM, sgN must be positive integers (got ${sgM}, ${sgN})`;
  if (bk !== 32 && bk !== 64) return `bk must be 32 or 64 (got ${String(bk)})`;
  // Rows of the staged tiles must stay 16-byte aligned (vec4 copies, matrix loads from workgroup memory).
  if (!Number.isInteger(pad) || pad < 0 || pad % 4) return `pad must be a non-negative multiple of 4 words (got ${pad})`;
  if (cfg.swizzle !== undefined && typeof cfg.swizzle !== 'boolean') return `swizzle must be a boolean (got ${String(cfg.swizzle)})`;
  const g = sgmTiledGeometry(cfg);
  if (g.wg > limits.maxComputeInvocationsPerWorkgroup || g.wg > limits.maxComputeWorkgroupSizeX) {
    return `workgroup of ${g.wg} invocations exceeds the device limit (${Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX)})`;
  }
  if (limits.subgroupMaxSize && g.wg % limits.subgroupMaxSize) return `workgroup size ${g.wg} is not a multiple of maxSubgroupSize ${limits.subgroupMaxSize}`;
  // Each invocation copies a whole number of vec4 per tile, at most MAXV (the shader's register arrays).
  for (const [name, v] of [['A', g.va], ['B', g.vb]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > SGM_TILED_MAXV) return `${name} tile needs ${v} vec4 per invocation (must be an integer in 1..${SGM_TILED_MAXV})`;
  }
  const cap = Math.min(limits.maxComputeWorkgroupStorageSize, SGM_TILED_MAX_WG_BYTES);
  if (g.workgroupBytes > cap) return `workgroup storage ${g.workgroupBytes} B exceeds ${cap} B`;
  return null;
}

/** Null when M x N x K tiles exactly for this config, else why not. */
export function sgmTiledShapeError(cfg: SgmTiledConfig, M: number, N: number, K: number): string | null {
  const { bm, bn } = sgmTiledGeometry(cfg);
  if (!(M > 0 && N > 0 && K > 0) || M % bm || N % bn || K % cfg.bk) return `shape ${M}x${N}x${K} must have M % ${bm}, N % ${bn}, K % ${cfg.bk} == 0`;
  return null;
}

/** Lane-rotated stores unless a config turns them off. */
const swizzled = (cfg: SgmTiledConfig): boolean => cfg.swizzle ?? true;

/** swizzle (the default) shows as ' swz', plain stores as ' plain'. */
export function sgmTiledLabel(cfg: SgmTiledConfig): string {
  const g = sgmTiledGeometry(cfg);
  return `tiled ${g.bm}x${g.bn} sg${cfg.sgM}x${cfg.sgN} bk${cfg.bk} pad${cfg.pad} ${swizzled(cfg) ? 'swz' : 'plain'}`;
}

/** Kernel, params and grid for the tiled kernel; unit as for planGemmSubgroupMatrix. Throws on an invalid config or shape. */
export function planGemmSubgroupMatrixTiled(M: number, N: number, K: number, cfg: SgmTiledConfig = SGM_TILED_DEFAULT, unit: 1 | 4 = 4,
  limits?: SgmTiledLimits): { kernel: Kernel; params: Uint32Array; workgroups: [number, number] } {
  const why = sgmTiledConfigError(cfg, limits) ?? sgmTiledShapeError(cfg, M, N, K);
  if (why) throw new Error(`gemm_subgroup_matrix_i8_tiled ${sgmTiledLabel(cfg)}: ${why}`);
  const g = sgmTiledGeometry(cfg);
  return {
    // Only the independent knobs travel: ROW, BM, BN, A_WORDS, B_WORDS, VA, VB default to expressions of these.
    kernel: { code: tiledCode, file: 'shaders/gemm/gemm_subgroup_matrix_i8_tiled.wgsl',
      constants: { UNIT: unit, SG_M: cfg.sgM, SG_N: cfg.sgN, WG: g.wg, BK: cfg.bk, PAD: cfg.pad, SWZ: swizzled(cfg) ? 1 : 0 } },
    params: new Uint32Array([M, N, K, 0]),
    workgroups: [N / g.bn, M / g.bm],
  };
}
