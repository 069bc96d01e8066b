// RMSNorm over the rows of x (attention / MLP / output norms).
import rowsWgsl from '../../shaders/llm/rmsnorm_rows.wgsl?raw';
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
export function rmsnorm(gpu: Gpu, x: GPUBuffer, w: GPUBuffer, y: GPUBuffer, rows: number, dim: number, eps: number,
  impl: 'rows' | 'shared' = gpu.report.isFallback ? 'rows' : 'shared'): void {
  if (impl === 'rows') {
    // CPU-backed adapter: thread per row, no barriers (see shaders/llm/matvec_rows.wgsl).
    gpu.run({ code: rowsWgsl, file: 'shaders/llm/rmsnorm_rows.wgsl' }, params(rows, dim, { f: eps }), [x, w, y], grid(Math.ceil(rows / 64)));
    return;
  }
  gpu.run({ code: wgsl, file: 'shaders/llm/rmsnorm.wgsl' }, params(rows, dim, { f: eps }), [x, w, y], grid(rows));
}
