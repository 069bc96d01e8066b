// GroupNorm statistics of large groups, step 1: per (group, chunk) moments [count, mean, M2, 0]
// (shaders/diffusion/group_norm_partial.wgsl); group-norm-merge.ts merges them. groupNormStats()
// (./group-norm-stats.ts) picks this path by group size.
import code from '../../../shaders/diffusion/group_norm_partial.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export interface GroupPartialShape {
  groupElems: number; // elements per group (channels / groups * plane)
  groups: number;
  chunkElems: number; // elements per chunk; the last chunk of a group may be shorter
}

export const chunksOf = (s: GroupPartialShape): number => Math.ceil(s.groupElems / s.chunkElems);

/** [groups, chunks, 4]: each chunk's count, mean and centred sum of squares (two-pass, float64). */
export function reference(x: Float32Array /* [groups * groupElems] */, s: GroupPartialShape): Float32Array {
  const chunks = chunksOf(s);
  const out = new Float32Array(s.groups * chunks * 4); // [groups, chunks, 4]
  for (let g = 0; g < s.groups; g++) {
    for (let c = 0; c < chunks; c++) {
      const lo = g * s.groupElems + c * s.chunkElems;
      const hi = g * s.groupElems + Math.min((c + 1) * s.chunkElems, s.groupElems);
      let sum = 0;
      for (let i = lo; i < hi; i++) sum += x[i];
      const mean = sum / (hi - lo);
      let m2 = 0;
      for (let i = lo; i < hi; i++) m2 += (x[i] - mean) ** 2;
      out.set([hi - lo, mean, m2, 0], 4 * (g * chunks + c));
    }
  }
  return out;
}

/** Encode the chunk moments; returns a pooled buffer [groups, chunks, 4] the caller frees. */
export function groupNormPartial(gpu: Gpu, x: GPUBuffer, s: GroupPartialShape): GPUBuffer {
  const chunks = chunksOf(s);
  const part = gpu.alloc(s.groups * chunks * 16, 'group_norm_partial.out'); // [groups, chunks, 4]
  gpu.run({ code, file: 'shaders/diffusion/group_norm_partial.wgsl' }, new Uint32Array([s.groupElems, s.chunkElems, chunks, 0]), [x, part], [chunks, s.groups]);
  return part;
}
