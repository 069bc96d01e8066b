// Kernels of the batched decode (continuous batching): RoPE with one position per row, and attention
// of B query rows each against its own slot of the KV cache. Both keep the arithmetic order of their
// single-sequence counterparts (rope.wgsl, attention*.wgsl; the split-KV decode kernel is the same
// shader for both) so a batched row equals a lone decode.
import attnRowsWgsl from '../../shaders/llm/attention_batch_rows.wgsl?raw';
import attnWgsl from '../../shaders/llm/attention_batch.wgsl?raw';
import ropeWgsl from '../../shaders/llm/rope_batch.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { runSplit, splitPlan, splitWritesInt8, type AttnImpl } from './attention';
import { grid, params } from './common';

export interface BatchAttnShape {
  nHeads: number; // local query heads
  headDim: number;
  kvDim: number; // nKvHeadsLocal * headDim: row length of the cache
  kvRegular?: boolean; // kvmap is the regular map (as AttnShape.kvRegular)
}

/** One query row: its slot's first cache row and the token's position in that sequence. */
export interface BatchRow {
  base: number; // slot * maxSeqLen
  pos: number;
}

/** CPU reference (angles in f64): rotates x [T, nHeads*headDim] row t by position pos[t]. */
export function ropeReference(x: Float32Array, nHeads: number, headDim: number, pos: ArrayLike<number>, theta: number): Float32Array {
  const y = Float32Array.from(x); // [T, nHeads*headDim]
  for (let t = 0; t < pos.length; t++) {
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < headDim; i += 2) {
        const a = pos[t] * Math.pow(theta, -i / headDim);
        const o = (t * nHeads + h) * headDim + i;
        const x0 = x[o], x1 = x[o + 1];
        y[o] = x0 * Math.cos(a) - x1 * Math.sin(a);
        y[o + 1] = x0 * Math.sin(a) + x1 * Math.cos(a);
      }
    }
  }
  return y;
}

/** Rotates x [T, nHeads*headDim] in place, row t at position pos[t] (`pos` a u32 [T] buffer). */
export function ropeBatch(gpu: Gpu, x: GPUBuffer, table: GPUBuffer, pos: GPUBuffer, T: number, nHeads: number, headDim: number): void {
  if (headDim % 2) throw new Error('ropeBatch: odd headDim');
  const pairs = (T * nHeads * headDim) / 2;
  gpu.run({ code: ropeWgsl, file: 'shaders/llm/rope_batch.wgsl' }, params(T, nHeads, headDim), [x, table, pos], grid(Math.ceil(pairs / 256)));
}

/**
 * CPU reference. q [B, nHeads*headDim]; kc, vc [cacheRows, kvDim] (one layer); kvmap [nHeads].
 * Row b attends to cache rows rows[b].base .. rows[b].base + rows[b].pos. Returns [B, nHeads*headDim].
 */
export function attentionReference(q: Float32Array, kc: Float32Array, vc: Float32Array, kvmap: number[], rows: BatchRow[], s: BatchAttnShape): Float32Array {
  const { nHeads, headDim: hd, kvDim } = s;
  const out = new Float32Array(rows.length * nHeads * hd); // [B, nHeads*hd]
  const scale = 1 / Math.sqrt(hd);
  rows.forEach(({ base, pos }, b) => {
    const n = pos + 1;
    for (let h = 0; h < nHeads; h++) {
      const qo = (b * nHeads + h) * hd;
      const sc = new Float64Array(n); // [n]
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = (base + j) * kvDim + kvmap[h] * hd;
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[qo + i] * kc[ko + i];
        sc[j] = d * scale;
        m = Math.max(m, sc[j]);
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += (sc[j] = Math.exp(sc[j] - m));
      for (let i = 0; i < hd; i++) {
        let a = 0;
        for (let j = 0; j < n; j++) a += sc[j] * vc[(base + j) * kvDim + kvmap[h] * hd + i];
        out[qo + i] = a / sum;
      }
    }
  });
  return out;
}

/** The rows buffer's contents: u32 [B, 2] = (base, pos) per row. */
export function packRows(rows: BatchRow[]): Uint32Array {
  const a = new Uint32Array(rows.length * 2); // [B, 2]
  rows.forEach((r, b) => { a[2 * b] = r.base; a[2 * b + 1] = r.pos; });
  return a;
}

/**
 * out [B, nHeads*headDim] = per-row attention over each row's cache slot; `rows` is packRows() on the GPU.
 * outq: out's q8 form too where the split kernel runs and splitWritesInt8 (see runSplit); returns whether it was.
 */
export function attentionBatch(gpu: Gpu, q: GPUBuffer, kc: GPUBuffer, vc: GPUBuffer, kvmap: GPUBuffer, rows: GPUBuffer,
  out: GPUBuffer, B: number, s: BatchAttnShape, impl?: AttnImpl, outq?: GPUBuffer): boolean {
  if (s.headDim > 256) throw new Error(`attentionBatch: headDim ${s.headDim} > 256`);
  // The split-KV kernel wherever attention() uses it for a lone decode, so a row gives the same bits
  // alone or batched (its chunking depends only on its own length). Row lengths live on the GPU, so
  // every row gets nct chunk workgroups; those past a short row's keys exit at once.
  const plan = !impl || impl === 'split' ? splitPlan(gpu, s.nHeads, s.headDim, s.kvDim, s.kvRegular) : null;
  impl ??= gpu.report.isFallback ? 'rows' : plan ? 'split' : 'shared';
  if (impl === 'split') {
    if (!plan) throw new Error('attentionBatch: split kernel needs subgroups and headDim % 4 = 0');
    const q8 = outq && splitWritesInt8(s.headDim) ? outq : undefined;
    runSplit(gpu, plan, q, kc, vc, kvmap, rows, out, B, s.nHeads, s.headDim, 0, 0, q8);
    return q8 !== undefined;
  }
  const u = params(B, s.nHeads, s.headDim, s.kvDim, { f: 1 / Math.sqrt(s.headDim) });
  if (impl === 'rows') {
    gpu.run({ code: attnRowsWgsl, file: 'shaders/llm/attention_batch_rows.wgsl' }, u, [q, kc, vc, kvmap, rows, out],
      grid(Math.ceil((B * s.nHeads) / 64)));
    return false;
  }
  gpu.run({ code: attnWgsl, file: 'shaders/llm/attention_batch.wgsl' }, u, [q, kc, vc, kvmap, rows, out], grid(B * s.nHeads));
  return false;
}
