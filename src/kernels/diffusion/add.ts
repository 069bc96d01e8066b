// Elementwise add for residual connections (shaders/diffusion/add.wgsl).
import code from '../../../shaders/diffusion/add.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export function reference(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + b[i]); // [n]
}

/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** `groups` workgroups folded into [x, y] with x <= 65535 (shaders map id = y * x + x-id and bounds-check). */
export function foldGroups(groups: number): [number, number] {
  const x = Math.min(groups, MAX_WORKGROUPS_PER_DIM);
  return [x, Math.ceil(groups / Math.max(x, 1))];
}

/** ceil(n / 64) workgroups as a 2D grid [x, y] with x <= 65535, and the elements per grid row (64 x). */
export function grid1d(n: number): { x: number; y: number; rowLen: number } {
  const [x, y] = foldGroups(Math.max(1, Math.ceil(n / 64)));
  return { x, y, rowLen: 64 * x };
}

/** Encodes a wire codec kernel (f16 / i8 pack or unpack: Params [count, srcBase, dstBase, rowLen], one thread
 *  per u32 carrier word, `words` of them) from src into dst, which must differ (one binding reads, one writes). */
export function runCodec(gpu: Gpu, kernel: { code: string; file: string }, src: GPUBuffer, dst: GPUBuffer, s: { count: number; srcBase: number; dstBase: number }, words: number): void {
  if (src === dst) throw new Error(`${kernel.file}: src and dst must differ`);
  const g = grid1d(words);
  gpu.run(kernel, new Uint32Array([s.count, s.srcBase, s.dstBase, g.rowLen]), [src, dst], [g.x, g.y]);
}

/** Encode y = a + b over n floats; returns a pooled buffer [n]. */
export function add(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, n: number): GPUBuffer {
  const y = gpu.alloc(n * 4, 'add.out'); // [n]
  const g = grid1d(n);
  gpu.run({ code, file: 'shaders/diffusion/add.wgsl' }, new Uint32Array([n, g.rowLen]), [a, b, y], [g.x, g.y]);
  return y;
}
