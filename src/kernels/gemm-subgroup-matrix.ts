// Int8 GEMM on subgroup matrices (shaders/gemm/gemm_subgroup_matrix_i8.wgsl): C[M,N] i32 = A[M,K] i8 * B[N,K]^T
// i8. Only for devices with the `chromium-experimental-subgroup-matrix` feature and an i8 -> i32 16x16x32
// config (what the H100 offers through Dawn with allow_unsafe_apis); the shader does not compile elsewhere,
// so callers gate on subgroupMatrixSupport() first. Measured by bench/gemm-subgroup-matrix.ts.
import code from '../../shaders/gemm/gemm_subgroup_matrix_i8.wgsl?raw';
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
