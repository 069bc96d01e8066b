// RMSNorm over the rows of x (attention / MLP / output norms).
import wgsl from '../../shaders/llm/rmsnorm.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params } from './common';

/** CPU reference: y[r, :] = x[r, :] * w / sqrt(mean(x[r, :]^2) + eps). */
export function reference(x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): Float32Array {
  const y = new Float32Array(rows * dim); // [rows, dim]
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * inv * w[i];
  }
  return y;
}

/** y [rows, dim] = rmsnorm(x [rows, dim]) * w [dim]. y must not alias x. */
export function rmsnorm(gpu: Gpu, x: GPUBuffer, w: GPUBuffer, y: GPUBuffer, rows: number, dim: number, eps: number): void {
  gpu.run({ code: wgsl, file: 'shaders/llm/rmsnorm.wgsl' }, params(rows, dim, { f: eps }), [x, w, y], grid(rows));
}
