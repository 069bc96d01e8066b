// GroupNorm statistics on the GPU, two-pass per group (shaders/diffusion/group_norm_stats.wgsl):
// either final [mean, rstd] for norm_apply, or local [mean, var] moments for patch-parallel peers.
// Large groups go through group_norm_partial + group_norm_merge instead (see groupNormStats).
import code from '../../../shaders/diffusion/group_norm_stats.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { groupNormMerge } from './group-norm-merge';
import { chunksOf, groupNormPartial } from './group-norm-partial';

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

/**
 * The split path's chunk: 4096 elements = 16 per thread of a 256-thread workgroup. Groups of at least
 * SPLIT_MIN_ELEMS take it: one workgroup per group (32 for GroupNorm(32)) keeps most of a large GPU
 * idle, while below 4 chunks a group's single workgroup loops <= 64 times per pass and a second
 * dispatch would cost more than it spreads. Exported so tests can force either path.
 */
export const gnSplit = { chunkElems: 4096, minElems: 16384 };

/** Encode the statistics; returns a pooled buffer [groups, 2] the caller frees. */
export function groupNormStats(gpu: Gpu, x: GPUBuffer, s: GroupStatsShape, finalize: boolean): GPUBuffer {
  if (s.channels % s.groups !== 0) throw new Error(`group_norm_stats: ${s.channels} channels, ${s.groups} groups`);
  const groupElems = (s.channels / s.groups) * s.plane;
  if (groupElems >= gnSplit.minElems) {
    const shape = { groupElems, groups: s.groups, chunkElems: gnSplit.chunkElems };
    const part = groupNormPartial(gpu, x, shape); // [groups, chunks, 4]
    const out = groupNormMerge(gpu, part, s.groups, chunksOf(shape), s.eps, finalize); // [groups, 2]
    gpu.free(part);
    return out;
  }
  const out = gpu.alloc(2 * s.groups * 4, 'group_norm_stats.out'); // [groups, 2]
  const params = new ArrayBuffer(16);
  const dv = new DataView(params);
  dv.setUint32(0, (s.channels / s.groups) * s.plane, true);
  dv.setUint32(4, s.groups, true);
  dv.setFloat32(8, s.eps, true);
  gpu.run(
    { code, file: 'shaders/diffusion/group_norm_stats.wgsl', constants: { FINALIZE: finalize ? 1 : 0 } },
    new Uint8Array(params),
    [x, out],
    [s.groups],
  );
  return out;
}
