// GroupNorm statistics of a row patch combined with the other peers' on the GPU
// (shaders/diffusion/gn_combine.wgsl): the DistriFusion modes of src/parallel/patch-stats.ts
// without a read-back, plus this patch's [sum, sumsq] written straight into the comm buffer.
import code from '../../../shaders/diffusion/gn_combine.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export type GnCombineMode = 'local' | 'exact' | 'stale_gn' | 'corrected';
const MODE_CODE: Record<GnCombineMode, number> = { local: 0, exact: 1, stale_gn: 2, corrected: 3 };
export const GN_COMBINE_MAX_PEERS = 16;

export interface GnCombineShape {
  groups: number;
  rank: number;
  counts: number[]; // elements per group on each rank
  bases: number[]; // float offset of each rank's [groups, 2] sums in `ranks` (unused for 'local')
  sumsOff: number; // float offset where this patch's sums go in `sums`
  eps: number;
}

/**
 * Plain-TS mirror of the shader (float64): { sums [groups, 2], meanRstd [groups, 2] }.
 * Tests check it against patch-stats.ts's combineStats, the runner's CPU path.
 */
export function reference(localMv: Float32Array, ranks: Float32Array, mode: GnCombineMode, s: GnCombineShape): { sums: Float32Array; meanRstd: Float32Array } {
  const sums = new Float32Array(2 * s.groups); // [groups, 2]
  const meanRstd = new Float32Array(2 * s.groups); // [groups, 2]
  const nMe = s.counts[s.rank];
  const nAll = s.counts.reduce((a, b) => a + b, 0);
  for (let g = 0; g < s.groups; g++) {
    const fm = localMv[2 * g];
    const fv = localMv[2 * g + 1];
    const f2 = fv + fm * fm;
    sums[2 * g] = fm * nMe;
    sums[2 * g + 1] = f2 * nMe;
    let m = fm;
    let v = fv;
    if (mode !== 'local') {
      let S = 0;
      let Q = 0;
      s.counts.forEach((_, r) => {
        const own = mode === 'stale_gn' && r === s.rank;
        S += own ? fm * nMe : ranks[s.bases[r] + 2 * g];
        Q += own ? f2 * nMe : ranks[s.bases[r] + 2 * g + 1];
      });
      m = S / nAll;
      let e2 = Q / nAll;
      if (mode === 'corrected') {
        m += fm - ranks[s.bases[s.rank] + 2 * g] / nMe;
        e2 += f2 - ranks[s.bases[s.rank] + 2 * g + 1] / nMe;
      }
      v = e2 - m * m;
      if (mode === 'corrected' && v < 0) {
        m = fm;
        v = fv;
      }
    }
    meanRstd[2 * g] = m;
    meanRstd[2 * g + 1] = 1 / Math.sqrt(Math.max(v, 0) + s.eps);
  }
  return { sums, meanRstd };
}

/**
 * Encode the combine: writes this patch's sums into `sums` at sumsOff and returns a pooled buffer
 * [groups, 2] of [mean, rstd]. `ranks` may be null for 'local'.
 */
export function gnCombine(gpu: Gpu, localMv: GPUBuffer, ranks: GPUBuffer | null, sums: GPUBuffer, mode: GnCombineMode, s: GnCombineShape): GPUBuffer {
  const n = s.counts.length;
  if (n > GN_COMBINE_MAX_PEERS) throw new Error(`gn_combine: ${n} peers > ${GN_COMBINE_MAX_PEERS}`);
  const out = gpu.alloc(2 * s.groups * 4, 'gn_combine.out'); // [groups, 2]
  const params = new ArrayBuffer(32 + 2 * 16 * 4);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u.set([s.groups, n, s.rank, s.sumsOff]);
  f[4] = s.eps;
  s.counts.forEach((c, r) => (f[8 + r] = c));
  s.bases.forEach((b, r) => (u[8 + GN_COMBINE_MAX_PEERS + r] = b));
  gpu.run(
    { code, file: 'shaders/diffusion/gn_combine.wgsl', constants: { MODE: MODE_CODE[mode] } },
    new Uint8Array(params),
    [localMv, ranks ?? localMv, sums, out], // localMv doubles as the unused read binding
    [Math.ceil(s.groups / 64)],
  );
  return out;
}
