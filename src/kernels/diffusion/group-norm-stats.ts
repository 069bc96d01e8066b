// GroupNorm statistics on the GPU, two-pass per group (shaders/diffusion/group_norm_stats.wgsl):
// either final [mean, rstd] for norm_apply, or local [mean, var] moments for patch-parallel peers.
// Large groups are split into chunks whose moments group_norm_merge.wgsl merges (see groupNormStats).
import code from '../../../shaders/diffusion/group_norm_stats.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { groupNormMerge } from './group-norm-merge';

export interface GroupStatsShape {
  channels: number;
  plane: number; // rows * width of the tensor [channels, rows, width]
  groups: number; // channels % groups == 0; a group's channels are contiguous
  eps: number;
}

/** Per group [mean, rstd] (finalize) or [mean, var] (biased), two-pass in float64. */
export function reference(x: Float32Array /* [C, plane] */, s: GroupStatsShape, finalize: boolean): Float32Array {
  const n = (s.channels / s.groups) * s.plane;
  const out = new Float32Array(2 * s.groups); // [groups, 2]
  for (let g = 0; g < s.groups; g++) {
    let sum = 0;
    for (let i = g * n; i < (g + 1) * n; i++) sum += x[i];
    const mean = sum / n;
    let m2 = 0;
    for (let i = g * n; i < (g + 1) * n; i++) m2 += (x[i] - mean) ** 2;
    out[2 * g] = mean;
    out[2 * g + 1] = finalize ? 1 / Math.sqrt(m2 / n + s.eps) : m2 / n;
  }
  return out;
}

/** The kernel's chunked output [groups, chunks, 4]: each chunk's count, mean and centred sum of squares (float64). */
export function chunkMomentsReference(x: Float32Array /* [groups * groupElems] */, groupElems: number, groups: number, chunkElems: number): Float32Array {
  const chunks = Math.ceil(groupElems / chunkElems);
  const out = new Float32Array(groups * chunks * 4); // [groups, chunks, 4]
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < chunks; c++) {
      const lo = g * groupElems + c * chunkElems;
      const hi = g * groupElems + Math.min((c + 1) * chunkElems, groupElems);
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

/**
 * The chunk: 4096 elements = 16 per thread of a 256-thread workgroup. Groups of at least minElems are
 * split: one workgroup per group (32 for GroupNorm(32)) keeps most of a large GPU idle, while below 4
 * chunks a group's single workgroup loops <= 64 times per pass and the merge dispatch would cost more
 * than it spreads. Exported so tests and benches can move the threshold.
 */
export const gnSplit = { chunkElems: 4096, minElems: 16384 };

/** Encodes the kernel alone: out [groups, 2] (chunks = 1) or [groups, chunks, 4]; a pooled buffer the caller frees. */
export function groupNormStatsPass(gpu: Gpu, x: GPUBuffer, groupElems: number, groups: number, chunkElems: number, eps: number, finalize: boolean): GPUBuffer {
  const chunks = Math.ceil(groupElems / chunkElems);
  const out = gpu.alloc(groups * (chunks === 1 ? 2 : 4 * chunks) * 4, 'group_norm_stats.out'); // [groups, 2] or [groups, chunks, 4]
  const params = new ArrayBuffer(16);
  const dv = new DataView(params);
  dv.setUint32(0, groupElems, true);
  dv.setUint32(4, chunkElems, true);
  dv.setUint32(8, chunks, true);
  dv.setFloat32(12, eps, true);
  gpu.run({ code, file: 'shaders/diffusion/group_norm_stats.wgsl', constants: { FINALIZE: finalize ? 1 : 0 } }, new Uint8Array(params), [x, out], [chunks, groups]);
  return out;
}

/** Encode the statistics; returns a pooled buffer [groups, 2] the caller frees. */
export function groupNormStats(gpu: Gpu, x: GPUBuffer, s: GroupStatsShape, finalize: boolean): GPUBuffer {
  if (s.channels % s.groups !== 0) throw new Error(`group_norm_stats: ${s.channels} channels, ${s.groups} groups`);
  const groupElems = (s.channels / s.groups) * s.plane;
  if (groupElems < gnSplit.minElems) return groupNormStatsPass(gpu, x, groupElems, s.groups, groupElems, s.eps, finalize); // [groups, 2]
  const part = groupNormStatsPass(gpu, x, groupElems, s.groups, gnSplit.chunkElems, s.eps, finalize); // [groups, chunks, 4]
  const out = groupNormMerge(gpu, part, s.groups, Math.ceil(groupElems / gnSplit.chunkElems), s.eps, finalize); // [groups, 2]
  gpu.free(part);
  return out;
}
