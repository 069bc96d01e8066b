// Rotary position embedding, llama.cpp "normal" (adjacent pairs) mode, with a precomputed cos/sin table.
import wgsl from '../../shaders/llm/rope.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params } from './common';

/** The (cos, sin) table [maxSeqLen, headDim/2, 2], computed in f64 then rounded once to f32. */
export function ropeTable(maxSeqLen: number, headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const tab = new Float32Array(maxSeqLen * half * 2); // [maxSeqLen, headDim/2, 2]
  for (let p = 0; p < maxSeqLen; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * Math.pow(theta, (-2 * i) / headDim);
      tab[(p * half + i) * 2] = Math.cos(a);
      tab[(p * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  return tab;
}

/** CPU reference (computes its angles directly, in f64): rotates x [T, nHeads*headDim] for positions pos+t. */
export function reference(x: Float32Array, T: number, nHeads: number, headDim: number, pos: number, theta: number): Float32Array {
  const y = Float32Array.from(x); // [T, nHeads*headDim]
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < headDim; i += 2) {
        const a = (pos + t) * Math.pow(theta, -i / headDim);
        const o = (t * nHeads + h) * headDim + i;
        const x0 = x[o], x1 = x[o + 1];
        y[o] = x0 * Math.cos(a) - x1 * Math.sin(a);
        y[o + 1] = x0 * Math.sin(a) + x1 * Math.cos(a);
      }
    }
  }
  return y;
}

/** Rotates x [T, nHeads*headDim] in place for positions [pos, pos+T); `table` from ropeTable() on the GPU. */
export function rope(gpu: Gpu, x: GPUBuffer, table: GPUBuffer, T: number, nHeads: number, headDim: number, pos: number): void {
  if (headDim % 2) throw new Error('rope: odd headDim');
  const pairs = (T * nHeads * headDim) / 2;
  gpu.run({ code: wgsl, file: 'shaders/llm/rope.wgsl' }, params(T, nHeads, headDim, pos), [x, table], grid(Math.ceil(pairs / 256)));
}
