// Nearest-neighbour integer upsample (shaders/diffusion/upsample_nearest.wgsl).
import code from '../../../shaders/diffusion/upsample_nearest.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { upsampleNearestReference } from './misc-ref';

export const reference = upsampleNearestReference;

/** Encode [C, H, W] -> [C, H*f, W*f]; returns a pooled buffer. */
export function upsampleNearest(gpu: Gpu, x: GPUBuffer, C: number, H: number, W: number, factor: number): GPUBuffer {
  const y = gpu.alloc(C * H * factor * W * factor * 4, 'upsample.out'); // [C, H*f, W*f]
  gpu.run(
    { code, file: 'shaders/diffusion/upsample_nearest.wgsl' },
    new Uint32Array([C, H, W, factor]),
    [x, y],
    [Math.ceil((H * factor * W * factor) / 64), C],
  );
  return y;
}
