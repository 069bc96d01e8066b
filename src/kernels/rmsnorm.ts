// RMSNorm over the rows of x (attention / MLP / output norms), alone or fused with the residual add before it.
import addWgsl from '../../shaders/llm/add_rmsnorm.wgsl?raw';
import add4Wgsl from '../../shaders/llm/add_rmsnorm4.wgsl?raw';
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

// add_rmsnorm4.wgsl: 256 threads x 4 floats per step, at most 8 steps a thread (its KMAX).
const ADD4_STEP = 1024;
const ADD4_MAX = 8192;

/** CPU reference of addRmsnorm: x [rows, dim] + d, and its rmsnorm times w. Returns both (x not modified). */
export function addRmsnormReference(x: Float32Array, d: Float32Array, w: Float32Array, rows: number, dim: number,
  eps: number): { x: Float32Array; y: Float32Array } {
  const sum = x.map((v, i) => v + d[i]); // [rows, dim]
  return { x: sum, y: reference(sum, w, rows, dim, eps) };
}

/** Whether addRmsnorm can write y's int8 form at this width: the vec4 kernel's widths (1024 * 1..8, the Llama dims). */
export function addRmsnormWritesInt8(dim: number): boolean {
  return dim % ADD4_STEP === 0 && dim <= ADD4_MAX;
}

/**
 * x [rows, dim] += d [rows, dim]; y [rows, dim] = rmsnorm(x) * w [dim]: the residual add and the next norm in one
 * dispatch. With `yq` (the 'shared' kernel, addRmsnormWritesInt8(dim)) y is also quantized into it as quantize_q8
 * would ([rows*dim/4 + rows*dim/32] words), for a q8_0 decode projection that reads int8 x.
 */
export function addRmsnorm(gpu: Gpu, x: GPUBuffer, d: GPUBuffer, w: GPUBuffer, y: GPUBuffer, rows: number, dim: number, eps: number,
  impl: 'rows' | 'shared' = gpu.report.isFallback ? 'rows' : 'shared', yq?: GPUBuffer): void {
  if (yq && (impl === 'rows' || !addRmsnormWritesInt8(dim))) throw new Error(`addRmsnorm: int8 output needs the shared kernel and a width of 1024 * 1..8 (dim ${dim})`);
  const entryPoint = impl === 'rows' ? 'rows' : yq ? 'main_q8' : 'main';
  // Widths of 1024 * 1..8 (the Llama dims) take the vec4 kernel with the width compiled in (see its header).
  const kernel = impl === 'shared' && addRmsnormWritesInt8(dim)
    ? { code: add4Wgsl, file: 'shaders/llm/add_rmsnorm4.wgsl', entryPoint, constants: { DIM: dim } }
    : { code: addWgsl, file: 'shaders/llm/add_rmsnorm.wgsl', entryPoint };
  gpu.run(kernel, params(rows, dim, { f: eps }), yq ? [x, d, w, y, yq] : [x, d, w, y], grid(impl === 'rows' ? Math.ceil(rows / 64) : rows));
}
