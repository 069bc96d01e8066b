// Single-head spatial self-attention, queries from one buffer and keys/values from another
// (shaders/diffusion/attention.wgsl), so a patch's queries can attend over a K/V buffer that holds
// fresh local rows and stale remote rows (DistriFusion).
import code from '../../../shaders/diffusion/attention.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export interface AttentionShape {
  c: number; // channels (single head), <= 512
  lq: number; // query positions
  lk: number; // key/value positions, <= 1024
  qBase: number; // float offset of q[0, 0] in qBuf; q[ch, i] = qBuf[qBase + ch * lq + i]
  kBase: number; // float offset of k[0, 0] in kvBuf; k[ch, j] = kvBuf[kBase + ch * lk + j]
  vBase: number; // float offset of v[0, 0] in kvBuf
}

export const ATTN_MAX_C = 512;
export const ATTN_MAX_KEYS = 1024;

/** o [c, lq] = v softmax(q^T k / sqrt(c))^T, with scores and sums in float64. */
export function reference(qBuf: Float32Array, kvBuf: Float32Array, s: AttentionShape): Float32Array {
  const { c, lq, lk } = s;
  const o = new Float32Array(c * lq); // [c, lq]
  const sc = new Float64Array(lk); // [lk]
  const scale = 1 / Math.sqrt(c);
  for (let i = 0; i < lq; i++) {
    let mx = -Infinity;
    for (let j = 0; j < lk; j++) {
      let d = 0;
      for (let ch = 0; ch < c; ch++) d += qBuf[s.qBase + ch * lq + i] * kvBuf[s.kBase + ch * lk + j];
      sc[j] = d * scale;
      if (sc[j] > mx) mx = sc[j];
    }
    let tot = 0;
    for (let j = 0; j < lk; j++) tot += sc[j] = Math.exp(sc[j] - mx);
    for (let ch = 0; ch < c; ch++) {
      let acc = 0;
      for (let j = 0; j < lk; j++) acc += sc[j] * kvBuf[s.vBase + ch * lk + j];
      o[ch * lq + i] = acc / tot;
    }
  }
  return o;
}

/** Encode the attention; returns a pooled buffer [c, lq] the caller frees. qBuf may equal kvBuf. */
export function attention(gpu: Gpu, qBuf: GPUBuffer, kvBuf: GPUBuffer, s: AttentionShape): GPUBuffer {
  if (s.c > ATTN_MAX_C || s.lk > ATTN_MAX_KEYS) throw new Error(`attention: c ${s.c} > ${ATTN_MAX_C} or lk ${s.lk} > ${ATTN_MAX_KEYS}`);
  const out = gpu.alloc(s.c * s.lq * 4, 'attention.out'); // [c, lq]
  const params = new ArrayBuffer(32);
  const dv = new DataView(params);
  [s.c, s.lq, s.lk, s.qBase, s.kBase, s.vBase].forEach((v, i) => dv.setUint32(4 * i, v, true));
  dv.setFloat32(24, 1 / Math.sqrt(s.c), true);
  gpu.run({ code, file: 'shaders/diffusion/attention.wgsl' }, new Uint8Array(params), [qBuf, kvBuf, out], [s.lq]);
  return out;
}
