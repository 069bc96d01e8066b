// Elementwise GELU (exact erf) / SiLU (shaders/diffusion/activation.wgsl).
import code from '../../../shaders/diffusion/activation.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { activationReference } from './misc-ref';

export const reference = activationReference;

/** Encode y = act(x) over n floats; returns a pooled buffer [n]. */
export function activation(gpu: Gpu, x: GPUBuffer, n: number, act: 'gelu' | 'silu'): GPUBuffer {
  const y = gpu.alloc(n * 4, `activation.${act}`); // [n]
  gpu.run({ code, file: 'shaders/diffusion/activation.wgsl', entryPoint: act }, new Uint32Array([n]), [x, y], [Math.ceil(n / 64)]);
  return y;
}
