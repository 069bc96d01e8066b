// Random-weight Llama shards with real model shapes (f16, or q8_0 for the quantized decode path), for GPU
// timing benches: the values do not change the timing, and generating 13 GB of distinct randoms in JS would
// take minutes.
import type { LlamaConfig, ModelShard, WeightTensor } from '../src/model/types';

export const SHAPES: Record<string, Omit<LlamaConfig, 'headDim' | 'ropeTheta' | 'rmsEps' | 'contextLength' | 'bos' | 'eos' | 'tiedOutput'>> = {
  '1B (TinyLlama-1.1B shape)': { dim: 2048, hiddenDim: 5632, nLayers: 22, nHeads: 32, nKvHeads: 4, vocabSize: 32000 },
  '7B (Llama-2-7B shape)': { dim: 4096, hiddenDim: 11008, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32000 },
  'tiny (smoke tests on a CPU adapter)': { dim: 256, hiddenDim: 512, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 1000 },
};

// One block of random f16 weights (uniform in about ±0.02) reused for every matrix: timing does not
// depend on the values, and generating 13 GB of distinct randoms in JS would take minutes.
const POOL = new Uint16Array(32 << 20); // 64 MiB
for (let i = 0, s = 12345; i < POOL.length; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  POOL[i] = 0x2000 | (s >>> 22) | ((s & 1) << 15); // small positive/negative halves
}
const half = (rows: number, cols: number): WeightTensor => {
  const n = rows * cols;
  const data = new Uint8Array(n * 2);
  for (let o = 0; o < n; o += POOL.length) data.set(new Uint8Array(POOL.buffer, 0, Math.min(POOL.length, n - o) * 2), o * 2);
  return { type: 'f16', rows, cols, data };
};
// q8_0 the same way: a pool of GGUF blocks (f16 scale 0.02/127, then 32 int8 quants) tiled over the matrix.
const Q8_POOL = new Uint8Array(34 << 20); // 1M blocks, 34 MiB
for (let b = 0, s = 54321; b < Q8_POOL.length / 34; b++) {
  Q8_POOL[b * 34] = 0x29; // f16 0x0a29 ~ 1.575e-4 = 0.02 / 127 (little endian)
  Q8_POOL[b * 34 + 1] = 0x0a;
  for (let j = 0; j < 32; j++) {
    s = (s * 1103515245 + 12345) >>> 0;
    Q8_POOL[b * 34 + 2 + j] = s >>> 24; // any int8
  }
}
const q8 = (rows: number, cols: number): WeightTensor => {
  const bytes = (rows * cols / 32) * 34;
  const data = new Uint8Array(bytes);
  for (let o = 0; o < bytes; o += Q8_POOL.length) data.set(Q8_POOL.subarray(0, Math.min(Q8_POOL.length, bytes - o)), o);
  return { type: 'q8_0', rows, cols, data };
};
const ones = (n: number) => new Float32Array(n).fill(1);

/** The weight type of the benches' random shards: WEIGHTS=f16 (default) or q8_0. */
export function benchWeights(env: Record<string, string | undefined> = process.env): 'f16' | 'q8_0' {
  const t = env.WEIGHTS ?? 'f16';
  if (t !== 'f16' && t !== 'q8_0') throw new Error(`WEIGHTS must be f16 or q8_0, not ${t}`);
  return t;
}

/** KV_HEADS=n overrides a shape's kv heads (7B with KV_HEADS=8: the Llama-3-8B attention shape, 32q/8kv/128):
 *  the shape to build and the name its rows carry. */
export function withKvHeads(name: string, base: (typeof SHAPES)[string], env: Record<string, string | undefined> = process.env): { label: string; shape: (typeof SHAPES)[string] } {
  const n = env.KV_HEADS;
  return n ? { label: `${name}, ${n} kv heads`, shape: { ...base, nKvHeads: Number(n) } } : { label: name, shape: base };
}

export function shardOf(base: (typeof SHAPES)[string], tp: number, type: 'f16' | 'q8_0' = 'f16'): ModelShard {
  const f16 = type === 'q8_0' ? q8 : half; // every matrix in `type` (the embedding table too: the model dequantizes its rows)
  const headDim = base.dim / base.nHeads;
  const config: LlamaConfig = { ...base, headDim, ropeTheta: 10000, rmsEps: 1e-5, contextLength: 4096, bos: 1, eos: 2, tiedOutput: false };
  const nH = base.nHeads / tp, nKv = Math.max(1, base.nKvHeads / tp), hid = Math.ceil(base.hiddenDim / tp), vocab = Math.ceil(base.vocabSize / tp);
  const layers = Array.from({ length: base.nLayers }, () => ({
    attnNorm: ones(base.dim), ffnNorm: ones(base.dim),
    wq: f16(nH * headDim, base.dim), wk: f16(nKv * headDim, base.dim), wv: f16(nKv * headDim, base.dim), wo: f16(base.dim, nH * headDim),
    wGate: f16(hid, base.dim), wUp: f16(hid, base.dim), wDown: f16(base.dim, hid),
  }));
  return {
    config, rank: 0, tp, nHeadsLocal: nH, nKvHeadsLocal: nKv, hiddenLocal: hid,
    kvHeadOfLocalHead: Array.from({ length: nH }, (_, h) => Math.floor((h * nKv) / nH)),
    tokenEmbd: f16(base.vocabSize, base.dim), layers, outputNorm: ones(base.dim), output: f16(vocab, base.dim), vocabStart: 0,
  };
}

