// conv2d over a halo-padded tile (shaders/diffusion/conv2d.wgsl) + its plain-TS reference.
import code from '../../../shaders/diffusion/conv2d.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { conv2dOutSize, conv2dReference, type Conv2dShape } from './conv2d-ref';

export { conv2dOutSize, type Conv2dShape } from './conv2d-ref';
export const reference = conv2dReference;
const KERNEL = { code, file: 'shaders/diffusion/conv2d.wgsl' };

/** Encode out = conv(input) on the GPU; returns a pooled buffer [cout, outRows, outW] the caller frees. */
export function conv2d(gpu: Gpu, input: GPUBuffer, weight: GPUBuffer, bias: GPUBuffer, s: Conv2dShape): GPUBuffer {
  if (s.stride !== 1 && s.stride !== 2) throw new Error(`conv2d: stride ${s.stride} not supported (1 or 2)`);
  const { outRows, outW } = conv2dOutSize(s);
  const out = gpu.alloc(s.cout * outRows * outW * 4, 'conv2d.out'); // [cout, outRows, outW]
  const params = new Uint32Array([s.cin, s.cout, s.inRows, s.width, s.k, s.stride, s.padW, outRows, outW]);
  gpu.run(KERNEL, params, [input, weight, bias, out], [Math.ceil((outRows * outW) / 64), s.cout]);
  return out;
}
