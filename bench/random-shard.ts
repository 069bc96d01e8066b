// Random-weight Llama shards with real model shapes (f16), for GPU timing benches: the values do not
// change the timing, and generating 13 GB of distinct randoms in JS would take minutes.
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
const f16 = (rows: number, cols: number): WeightTensor => {
  const n = rows * cols;
  const data = new Uint8Array(n * 2);
  for (let o = 0; o < n; o += POOL.length) data.set(new Uint8Array(POOL.buffer, 0, Math.min(POOL.length, n - o) * 2), o * 2);
  return { type: 'f16', rows, cols, data };
};
const ones = (n: number) => new Float32Array(n).fill(1);

export function shardOf(base: (typeof SHAPES)[string], tp: number): ModelShard {
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

