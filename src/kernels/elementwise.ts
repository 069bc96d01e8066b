// Element-wise kernels of the Llama block: SwiGLU activation and the residual add.
import addWgsl from '../../shaders/llm/add.wgsl?raw';
import siluWgsl from '../../shaders/llm/silu_mul.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params } from './common';

/** CPU reference of siluMul: silu(g) * u. */
export function siluMulReference(g: Float32Array, u: Float32Array): Float32Array {
  return g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]); // [n]
}

/** CPU reference of add: x + y. */
export function addReference(x: Float32Array, y: Float32Array): Float32Array {
  return x.map((v, i) => v + y[i]); // [n]
}

/** One reference() per module as the kernel rule asks; here it is the pair above. */
export const reference = { siluMul: siluMulReference, add: addReference };

/** g [n] <- silu(g) * u [n]. */
export function siluMul(gpu: Gpu, g: GPUBuffer, u: GPUBuffer, n: number): void {
  gpu.run({ code: siluWgsl, file: 'shaders/llm/silu_mul.wgsl' }, params(n), [g, u], grid(Math.ceil(n / 256)));
}

/** x [n] <- x + y [n]. */
export function add(gpu: Gpu, x: GPUBuffer, y: GPUBuffer, n: number): void {
  gpu.run({ code: addWgsl, file: 'shaders/llm/add.wgsl' }, params(n), [x, y], grid(Math.ceil(n / 256)));
}
