// Per-channel add (bias or time embedding) over [C, plane] (shaders/diffusion/channel_add.wgsl).
import code from '../../../shaders/diffusion/channel_add.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { channelAddReference } from './misc-ref';

export const reference = channelAddReference;

/** Encode y[c, q] = x[c, q] + v[c]; returns a pooled buffer [C, plane]. */
export function channelAdd(gpu: Gpu, x: GPUBuffer, v: GPUBuffer, C: number, plane: number): GPUBuffer {
  const y = gpu.alloc(C * plane * 4, 'channel_add.out'); // [C, plane]
  gpu.run({ code, file: 'shaders/diffusion/channel_add.wgsl' }, new Uint32Array([C, plane]), [x, v, y], [Math.ceil(plane / 64), C]);
  return y;
}
