// Row softmax (in place), e.g. for probabilities over logits.
import wgsl from '../../shaders/llm/softmax.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params } from './common';

/** CPU reference: softmax of each row of x [rows, cols]. */
export function reference(x: Float32Array, rows: number, cols: number): Float32Array {
  const y = new Float32Array(rows * cols); // [rows, cols]
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let i = 0; i < cols; i++) m = Math.max(m, x[r * cols + i]);
    let s = 0;
    for (let i = 0; i < cols; i++) s += Math.exp(x[r * cols + i] - m);
    for (let i = 0; i < cols; i++) y[r * cols + i] = Math.exp(x[r * cols + i] - m) / s;
  }
  return y;
}

/** x [rows, cols] <- softmax(x) row by row. */
export function softmax(gpu: Gpu, x: GPUBuffer, rows: number, cols: number): void {
  gpu.run({ code: wgsl, file: 'shaders/llm/softmax.wgsl' }, params(rows, cols), [x], grid(rows));
}
