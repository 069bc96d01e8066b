// Partial per-group [sum, sumsq] over a patch's local rows (shaders/diffusion/norm_stats.wgsl).
import code from '../../../shaders/diffusion/norm_stats.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { normStatsReference, type NormShape } from './norm-ref';

export type { NormShape } from './norm-ref';
export const reference = normStatsReference;
const KERNEL = { code, file: 'shaders/diffusion/norm_stats.wgsl' };
const CHUNK = 4096; // elements per workgroup: enough work per 256 threads, few partials to read back

/** Encode the partial sums; returns a pooled buffer [groups, chunks, 2] and the chunk count. */
export function normStatsPartial(gpu: Gpu, x: GPUBuffer, s: NormShape): { partial: GPUBuffer; chunks: number } {
  const groupElems = (s.channels / s.groups) * s.rows * s.width;
  const chunks = Math.max(1, Math.ceil(groupElems / CHUNK));
  const partial = gpu.alloc(s.groups * chunks * 2 * 4, 'norm_stats.partial'); // [groups, chunks, 2]
  gpu.run(KERNEL, new Uint32Array([groupElems, chunks, CHUNK, 0]), [x, partial], [chunks, s.groups]);
  return { partial, chunks };
}

/** Run and read back: per group [sum, sumsq] as float64 (partials added on the host in float64). */
export async function normStats(gpu: Gpu, x: GPUBuffer, s: NormShape): Promise<Float64Array> {
  const { partial, chunks } = normStatsPartial(gpu, x, s);
  const parts = new Float32Array(await gpu.read(partial, s.groups * chunks * 2 * 4)); // [groups, chunks, 2]
  gpu.free(partial);
  const out = new Float64Array(2 * s.groups); // [groups, 2]
  for (let g = 0; g < s.groups; g++) {
    for (let c = 0; c < chunks; c++) {
      out[2 * g] += parts[(g * chunks + c) * 2];
      out[2 * g + 1] += parts[(g * chunks + c) * 2 + 1];
    }
  }
  return out;
}
