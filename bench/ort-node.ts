// Decode speed in Node of LlamaOrt (ONNX Runtime Web, wasm, 1 thread) vs the plain-TS CPU reference on
// stories260K at tp = 1: 256 greedy tokens from BOS, one token per forward. Also the per-layer pieces
// (what tp > 1 runs, here without communication) to show what the split itself costs.
// Run:  node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/ort-node.ts', 'bench/out/ort-node.mjs', { external: ['onnxruntime-web'] }))" && node bench/out/ort-node.mjs [model.gguf]
import fs from 'node:fs';
import { loadGgufIndex } from '../src/model/gguf';
import { LlamaOrt } from '../src/model/ort/llama-ort';
import { LlamaCpu } from '../src/model/reference';
import type { ReduceHook } from '../src/model/shard-model';
import { makeShard } from '../src/parallel/tp';

const file = process.argv[2] ?? '../shared/models/stories260K/stories260K.gguf';
const N = Number(process.env.TOKENS ?? 256);
const buf = fs.readFileSync(file);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
const index = await loadGgufIndex(ab);
const shard = await makeShard(index, async (s, e) => new Uint8Array(ab.slice(s, e)), 0, 1);

interface Fwd {
  forward(tokens: Int32Array, pos: number, reduce?: ReduceHook): Promise<Float32Array>;
  reset(): void;
}

/**
 * Greedy decode of N tokens from BOS, twice: the first pass only warms up (Node runs wasm on its
 * baseline compiler until the optimizing tier has compiled it in the background, which takes seconds
 * on a busy machine), the second is timed, after 4 more warm-up steps.
 */
async function run(name: string, m: Fwd, loadMs: number): Promise<number[]> {
  await pass(m, null);
  return pass(m, { name, loadMs });
}

async function pass(m: Fwd, report: { name: string; loadMs: number } | null): Promise<number[]> {
  m.reset();
  let tok = 1;
  const ids: number[] = [];
  let t0 = 0;
  const step: number[] = [];
  for (let i = 0; i < N; i++) {
    if (i === 4) t0 = performance.now();
    const ts = performance.now();
    const logits = await m.forward(Int32Array.of(tok), i); // [vocab]
    if (i >= 4) step.push(performance.now() - ts);
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    tok = best;
    ids.push(tok);
  }
  const secs = (performance.now() - t0) / 1000;
  if (!report) return ids;
  const { name, loadMs } = report;
  step.sort((x, y) => x - y);
  // This machine may be shared: the median step is reported beside the mean rate, and the fastest
  // step shows what an idle core does.
  console.log(JSON.stringify({
    engine: name, load_ms: Math.round(loadMs), tokens: N, tokens_per_s: +((N - 4) / secs).toFixed(1),
    p50_ms: +step[step.length >> 1].toFixed(3), min_ms: +step[0].toFixed(3),
  }));
  return ids;
}

const timed = async <T>(f: () => Promise<T> | T): Promise<[T, number]> => {
  const t = performance.now();
  const v = await f();
  return [v, performance.now() - t];
};

// ENGINES=fused,pieces,cpu (default all three) picks what runs: the reference is slow on big shapes.
const engines = (process.env.ENGINES ?? 'fused,pieces,cpu').split(',');
const ids: number[][] = [];
if (engines.includes('fused')) {
  const [m, ms] = await timed(() => LlamaOrt.load(shard, { maxSeqLen: N + 1, backend: 'wasm' }));
  ids.push(await run('ort-wasm-1t fused graph', m, ms));
  m.destroy();
}
if (engines.includes('pieces')) {
  const [m, ms] = await timed(() => LlamaOrt.load(shard, { maxSeqLen: N + 1, backend: 'wasm', split: true }));
  ids.push(await run('ort-wasm-1t per-layer pieces', m, ms));
  m.destroy();
}
if (engines.includes('cpu')) {
  const [m, ms] = await timed(() => new LlamaCpu(shard, N + 1));
  ids.push(await run('cpu reference (plain TS)', m, ms));
}
console.log(JSON.stringify({ same_ids: ids.every((x) => x.every((t, i) => t === ids[0][i])) }));
process.exit(0);
