// GroupNorm statistics of large groups, step 2: merges each group's chunk moments (group_norm_stats.wgsl's
// chunked output, ./group-norm-stats.ts) into [mean, rstd] (finalize) or [mean, var] (shaders/diffusion/group_norm_merge.wgsl).
import code from '../../../shaders/diffusion/group_norm_merge.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

/** Per group [mean, rstd] or [mean, var] from part [groups, chunks, 4] = [count, mean, M2, 0] (float64). */
export function reference(part: Float32Array, groups: number, chunks: number, eps: number, finalize: boolean): Float32Array {
  const out = new Float32Array(2 * groups); // [groups, 2]
  for (let g = 0; g < groups; g++) {
    let [n, mean, m2] = [0, 0, 0];
    for (let c = 0; c < chunks; c++) {
      const o = 4 * (g * chunks + c);
      const [nb, mb, qb] = [part[o], part[o + 1], part[o + 2]];
      if (nb === 0) continue;
      const t = n + nb;
      const d = mb - mean;
      m2 += qb + (d * d * n * nb) / t;
      mean += (d * nb) / t;
      n = t;
    }
    out[2 * g] = mean;
    out[2 * g + 1] = finalize ? 1 / Math.sqrt(m2 / n + eps) : m2 / n;
  }
  return out;
}

/** Encode the merge; returns a pooled buffer [groups, 2] the caller frees. */
export function groupNormMerge(gpu: Gpu, part: GPUBuffer, groups: number, chunks: number, eps: number, finalize: boolean): GPUBuffer {
  const out = gpu.alloc(2 * groups * 4, 'group_norm_merge.out'); // [groups, 2]
  const params = new ArrayBuffer(16);
  const dv = new DataView(params);
  dv.setUint32(0, chunks, true);
  dv.setFloat32(4, eps, true);
  gpu.run({ code, file: 'shaders/diffusion/group_norm_merge.wgsl', constants: { FINALIZE: finalize ? 1 : 0 } }, new Uint8Array(params), [part, out], [groups]);
  return out;
}
