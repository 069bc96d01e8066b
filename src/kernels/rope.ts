// Rotary position embedding, llama.cpp "normal" (adjacent pairs) mode, with a precomputed cos/sin table;
// ropeQkv: the same rotation as the epilogue of the fused q|k|v projection, storing k and v in the KV cache.
import qkvWgsl from '../../shaders/llm/rope_qkv.wgsl?raw';
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

/**
 * CPU reference of ropeQkv (angles in f64): splits qkv [T, qDim + 2*kvDim] into rotated q [T, qDim]
 * and writes rotated k / plain v of row t into cache row rows[t].base + rows[t].pos of kc / vc [cacheRows, kvDim].
 */
export function ropeQkvReference(qkv: Float32Array, rows: { base: number; pos: number }[], qDim: number, kvDim: number,
  headDim: number, theta: number, kc: Float32Array, vc: Float32Array): Float32Array {
  const width = qDim + 2 * kvDim;
  const q = new Float32Array(rows.length * qDim); // [T, qDim]
  const rot = (src: Float32Array, n: number, pos: number): Float32Array => { // [n] rotated copy
    const y = Float32Array.from(src);
    for (let e = 0; e < n; e += 2) {
      const a = pos * Math.pow(theta, -(e % headDim) / headDim);
      y[e] = src[e] * Math.cos(a) - src[e + 1] * Math.sin(a);
      y[e + 1] = src[e] * Math.sin(a) + src[e + 1] * Math.cos(a);
    }
    return y;
  };
  rows.forEach(({ base, pos }, t) => {
    const row = qkv.subarray(t * width, (t + 1) * width); // [qDim + 2*kvDim]
    q.set(rot(row.subarray(0, qDim), qDim, pos), t * qDim);
    kc.set(rot(row.subarray(qDim, qDim + kvDim), kvDim, pos), (base + pos) * kvDim);
    vc.set(row.subarray(qDim + kvDim), (base + pos) * kvDim);
  });
  return q;
}

/**
 * The fused projection's epilogue (shaders/llm/rope_qkv.wgsl): qkv [T, qDim + 2*kvDim] -> rotated q [T, qDim],
 * rotated k and v into cache row base+pos of kc / vc for each row; `rows` is a u32 [T, 2] (base, pos) buffer.
 */
export function ropeQkv(gpu: Gpu, qkv: GPUBuffer, table: GPUBuffer, rows: GPUBuffer, q: GPUBuffer, kc: GPUBuffer, vc: GPUBuffer,
  T: number, qDim: number, kvDim: number, headDim: number): void {
  if (headDim % 2 || qDim % headDim || kvDim % headDim) throw new Error(`ropeQkv: headDim ${headDim}, qDim ${qDim}, kvDim ${kvDim}`);
  const pairs = (T * (qDim + 2 * kvDim)) / 2;
  gpu.run({ code: qkvWgsl, file: 'shaders/llm/rope_qkv.wgsl' }, params(T, qDim, kvDim, headDim), [qkv, table, rows, q, kc, vc],
    grid(Math.ceil(pairs / 256)));
}
