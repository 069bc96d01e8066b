// Strided block copy on the GPU (shaders/diffusion/copy_strided.wgsl): rows between a conv tile,
// a flat comm segment and a full K/V buffer, without a host round trip.
import code from '../../../shaders/diffusion/copy_strided.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export interface CopyStridedShape {
  count: number; // runs
  len: number; // floats per run
  srcBase: number; // float offsets and strides
  srcStride: number;
  dstBase: number;
  dstStride: number;
}

/** dst with dst[dstBase + j dstStride + i] = src[srcBase + j srcStride + i] (a modified copy of dst). */
export function reference(src: Float32Array, dst: Float32Array, s: CopyStridedShape): Float32Array {
  const out = dst.slice(); // same shape as dst
  for (let j = 0; j < s.count; j++) {
    for (let i = 0; i < s.len; i++) out[s.dstBase + j * s.dstStride + i] = src[s.srcBase + j * s.srcStride + i];
  }
  return out;
}

/** Encode the copy (src and dst must be different buffers). */
export function copyStrided(gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, s: CopyStridedShape): void {
  if (src === dst) throw new Error('copy_strided: src and dst must differ');
  gpu.run(
    { code, file: 'shaders/diffusion/copy_strided.wgsl' },
    new Uint32Array([s.count, s.len, s.srcBase, s.srcStride, s.dstBase, s.dstStride]),
    [src, dst],
    [Math.ceil(s.len / 64), s.count],
  );
}
