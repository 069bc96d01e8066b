// LLM speed of the WGSL engine on one real GPU (Node + Dawn), for Llama shapes with random f16
// weights: prefill and decode tokens/s at tp=1, and the per-rank cost of tp=2/4 shards (each rank's
// compute plus its GPU read-back/write-back at the two all-reduce points per layer, network excluded:
// the compute-side ceiling of tensor-parallel scaling). Prints JSON and a markdown table; writes the
// JSON to $OUT when set. SHAPE=1B|7B and TP=n pick one case: Dawn-for-Node has aborted when a
// process allocates a second multi-GB weight set after freeing one, so run one case per process. Run: node scripts/bundle.mjs bench/llm-gpu.ts .gpu-node/llm.mjs (see README).
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import { Gpu } from '../src/gpu/gpu';
import { LlamaGpu } from '../src/model/llama';
import type { LlamaConfig, ModelShard, WeightTensor } from '../src/model/types';

Object.assign(globalThis, globals);

const SHAPES: Record<string, Omit<LlamaConfig, 'headDim' | 'ropeTheta' | 'rmsEps' | 'contextLength' | 'bos' | 'eos' | 'tiedOutput'>> = {
  '1B (TinyLlama-1.1B shape)': { dim: 2048, hiddenDim: 5632, nLayers: 22, nHeads: 32, nKvHeads: 4, vocabSize: 32000 },
  '7B (Llama-2-7B shape)': { dim: 4096, hiddenDim: 11008, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32000 },
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

function shardOf(base: (typeof SHAPES)[string], tp: number): ModelShard {
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

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU });
const rows: Record<string, unknown>[] = [];
const only = process.env.SHAPE;
for (const [name, base] of Object.entries(SHAPES)) {
  if (only && !name.startsWith(only)) continue;
  for (const tp of process.env.TP ? [Number(process.env.TP)] : [1, 2, 4]) {
    const shard = shardOf(base, tp);
    const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: 512 });
    const hook = tp > 1 ? async (p: Float32Array) => p : undefined; // read-back + write-back, no network
    const prompt = new Int32Array(128).map((_, i) => (i * 7919) % base.vocabSize); // [128]
    await model.forward(prompt.subarray(0, 8), 0, hook); // compile pipelines
    model.reset();
    let t0 = performance.now();
    await model.forward(prompt, 0, hook);
    const prefillMs = performance.now() - t0;
    const steps = 64;
    t0 = performance.now();
    for (let i = 0; i < steps; i++) await model.forward(new Int32Array([i + 3]), 128 + i, hook);
    const decodeMs = (performance.now() - t0) / steps;
    const row = { model: name, tp, weights: 'f16', weight_GB: model.weightBytes() / 1e9, prefill_tok_s: 128 / (prefillMs / 1000), decode_ms_per_token: decodeMs, decode_tok_s: 1000 / decodeMs, decode_weight_GBps: model.weightBytes() / 1e9 / (decodeMs / 1000) };
    console.log(JSON.stringify(row));
    rows.push(row);
    model.destroy();
  }
}
const doc = { name: 'llm-gpu', date: new Date().toISOString(), adapter: gpu.report, rows };
if (process.env.OUT) fs.writeFileSync(`${process.env.OUT}/llm-gpu-${(only ?? 'all').split(' ')[0]}-tp${process.env.TP ?? 'all'}.json`, JSON.stringify(doc, null, 2));
const cols = Object.keys(rows[0] ?? {});
console.log([`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cols.map((c) => (typeof r[c] === 'number' ? (r[c] as number).toFixed(2) : String(r[c]))).join(' | ')} |`)].join('\n'));
process.exit(0);
