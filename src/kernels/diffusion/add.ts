// Elementwise add for residual connections (shaders/diffusion/add.wgsl).
import code from '../../../shaders/diffusion/add.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export function reference(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + b[i]); // [n]
}

/** Encode y = a + b over n floats; returns a pooled buffer [n]. */
export function add(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, n: number): GPUBuffer {
  const y = gpu.alloc(n * 4, 'add.out'); // [n]
  gpu.run({ code, file: 'shaders/diffusion/add.wgsl' }, new Uint32Array([n]), [a, b, y], [Math.ceil(n / 64)]);
  return y;
}
