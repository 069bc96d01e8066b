// Causal GQA attention of T new tokens against the KV cache (keys and values already stored).
import rowsWgsl from '../../shaders/llm/attention_rows.wgsl?raw';
import wgsl from '../../shaders/llm/attention.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params } from './common';

export interface AttnShape {
  T: number; // new tokens
  pos: number; // position of the first new token
  nHeads: number; // local query heads
  headDim: number;
  kvDim: number; // nKvHeadsLocal * headDim: row length of the cache
}

/**
 * CPU reference. q [T, nHeads*headDim]; kc, vc [>= pos+T, kvDim] (one layer); kvmap [nHeads].
 * Returns [T, nHeads*headDim]: softmax(q.k / sqrt(headDim)) over positions 0..pos+t, times v.
 */
export function reference(q: Float32Array, kc: Float32Array, vc: Float32Array, kvmap: number[], s: AttnShape): Float32Array {
  const { T, pos, nHeads, headDim: hd, kvDim } = s;
  const out = new Float32Array(T * nHeads * hd); // [T, nHeads*hd]
  const scale = 1 / Math.sqrt(hd);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const n = pos + t + 1;
      const sc = new Float64Array(n); // [n]
      const qo = (t * nHeads + h) * hd, ko = kvmap[h] * hd;
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[qo + i] * kc[j * kvDim + ko + i];
        sc[j] = d * scale;
        m = Math.max(m, sc[j]);
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += (sc[j] = Math.exp(sc[j] - m));
      for (let i = 0; i < hd; i++) {
        let a = 0;
        for (let j = 0; j < n; j++) a += sc[j] * vc[j * kvDim + ko + i];
        out[qo + i] = a / sum;
      }
    }
  }
  return out;
}

/**
 * out [T, nHeads*headDim] = attention(q, cache). kc / vc are the whole caches [nLayers, maxSeqLen, kvDim];
 * layerOff is this layer's first float; kvmap a u32 [nHeads] buffer.
 */
export function attention(gpu: Gpu, q: GPUBuffer, kc: GPUBuffer, vc: GPUBuffer, kvmap: GPUBuffer, out: GPUBuffer,
  s: AttnShape, layerOff: number, impl: 'rows' | 'shared' = gpu.report.isFallback ? 'rows' : 'shared'): void {
  if (s.headDim > 256) throw new Error(`attention: headDim ${s.headDim} > 256`);
  if (impl === 'rows') {
    // CPU-backed adapter: thread per (token, head), no barriers (see shaders/llm/matvec_rows.wgsl).
    gpu.run({ code: rowsWgsl, file: 'shaders/llm/attention_rows.wgsl' },
      params(s.T, s.pos, s.nHeads, s.headDim, s.kvDim, layerOff, { f: 1 / Math.sqrt(s.headDim) }),
      [q, kc, vc, kvmap, out], grid(Math.ceil((s.T * s.nHeads) / 64)));
    return;
  }
  gpu.run({ code: wgsl, file: 'shaders/llm/attention.wgsl' },
    params(s.T, s.pos, s.nHeads, s.headDim, s.kvDim, layerOff, { f: 1 / Math.sqrt(s.headDim) }),
    [q, kc, vc, kvmap, out], grid(s.T * s.nHeads));
}
