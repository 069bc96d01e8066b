// Test helpers for fm-unet: seeded random weights with the spec's names and shapes (scaled like
// PyTorch's default init so activations stay O(1)), and a tiny safetensors writer so the loader is
// exercised on real file bytes.
import type { AttentionShape } from '../../src/kernels/diffusion/attention';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { FM_UNET_CONFIG, loadUnet, unetTensorShapes, type UnetConfig, type UnetModel } from '../../src/model/unet/config';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** Random tensors for every spec name: weights ~ N(0, 1/fan_in), norm gammas ~ 1 + 0.2 N, biases 0.2 N. */
export function randomUnetTensors(seed: number, c: UnetConfig = FM_UNET_CONFIG): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  unetTensorShapes(c).forEach(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const g = gaussianNoise(seed, i + 1, n); // [n]
    const isNorm = /norm\d?\.weight$/.test(name);
    const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    let data: Float32Array;
    if (isNorm) data = g.map((v) => 1 + 0.2 * v);
    else if (name === 'class_emb.weight') data = g.map((v) => 0.5 * v);
    else if (shape.length >= 2) data = g.map((v) => v / Math.sqrt(fanIn));
    else data = g.map((v) => 0.2 * v);
    out.set(name, { shape, data });
  });
  return out;
}

/** Serialise F32 tensors as .safetensors bytes (8-byte header length, JSON header, raw data). */
export function writeSafetensors(tensors: Map<string, NamedTensor>): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' '; // pad so the data section is 8-byte aligned
  const hdr = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hdr.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hdr.length), true);
  out.set(hdr, 8);
  let p = 8 + hdr.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** A random fm-unet loaded through the real safetensors loader. */
export function randomUnet(seed: number, c: UnetConfig = FM_UNET_CONFIG): UnetModel {
  return loadUnet(writeSafetensors(randomUnetTensors(seed, c)), c);
}

/** max |got - want| / (1 + |want|). */
export function maxRelErr(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  return worst;
}

export function maxAbsErr(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  return worst;
}

/** The fm-unet architecture at toy size (8x8, 8/16 channels, 4 groups): fast multi-step tests. */
export const TINY_UNET: UnetConfig = {
  ...FM_UNET_CONFIG,
  size: 8,
  baseCh: 8,
  levels: [
    { ch: 8, attn: false },
    { ch: 16, attn: true },
    { ch: 16, attn: true },
  ],
  timeFreqDim: 8,
  tembDim: 16,
  groups: 4,
};

/** One attention test case's layout: q [c, lq] and k, v [c, lk], each after `gap` junk floats; same = one buffer. */
export interface AttentionLayoutCase { c: number; lq: number; lk: number; gap: number; same: boolean; qScale?: number; kvScale?: number }

/** Host buffers and the shape for one case (q scaled by qScale, default 1; k and v by kvScale, default 2). */
export function attentionLayout(k: AttentionLayoutCase, seed: number): { qHost: Float32Array; kvHost: Float32Array; shape: AttentionShape } {
  const { c, lq, lk, gap } = k;
  const qScale = k.qScale ?? 1, kvScale = k.kvScale ?? 2;
  const q = gaussianNoise(seed, 1, c * lq).map((v) => qScale * v); // [c, lq]
  const kv = gaussianNoise(seed, 2, 2 * c * lk).map((v) => kvScale * v); // [2c, lk]: k then v
  const junk = (n: number) => gaussianNoise(seed, 3, n).map((v) => 1e3 * v); // huge: leaks would show
  if (k.same) {
    const all = new Float32Array(gap + c * lq + gap + 2 * c * lk + gap); // [junk | q | junk | k | v | junk]
    all.set(junk(all.length));
    all.set(q, gap);
    const kBase = 2 * gap + c * lq;
    all.set(kv, kBase);
    return { qHost: all, kvHost: all, shape: { c, lq, lk, qBase: gap, kBase, vBase: kBase + c * lk } };
  }
  const qHost = new Float32Array(gap + c * lq + gap); // [junk | q | junk]
  qHost.set(junk(qHost.length));
  qHost.set(q, gap);
  const kvHost = new Float32Array(2 * gap + 2 * c * lk + gap); // [junk | k | junk | v | junk]
  kvHost.set(junk(kvHost.length));
  kvHost.set(kv.subarray(0, c * lk), gap);
  kvHost.set(kv.subarray(c * lk), 2 * gap + c * lk);
  return { qHost, kvHost, shape: { c, lq, lk, qBase: gap, kBase: gap, vBase: 2 * gap + c * lk } };
}
