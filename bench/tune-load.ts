// What load-time kernel tuning (src/engines/tune-model.ts) costs and buys on one real GPU: for one Llama
// shape with random f16 weights at tp=1, a 512-token prefill with the untuned rule, then tuneModel() on a
// fresh cache (its wall time: what a user's first load on a new GPU pays), the same prefill with the tuned
// choices, and tuneModel() again (all cached: what every later load pays). Every choice is listed beside
// the rule's. One shape per process (SHAPE=1B|7B|tiny): Dawn-for-Node has aborted on a second multi-GB
// weight set. Writes JSON + markdown to $OUT (default bench/out).
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gpu } from '../src/gpu/gpu';
import { LlamaGpu } from '../src/model/llama';
import { MemoryTuneCache, installTuneCache } from '../src/kernels/autotune';
import { matmulChoice, matmulDefaultChoice, type MatmulChoice } from '../src/kernels/matmul';
import { TUNE_PROMPT_CLASSES, tuneModel } from '../src/engines/tune-model';
import { gemmRegLabel } from '../src/kernels/gemm-reg';
import { SHAPES, shardOf } from './random-shard';

Object.assign(globalThis, globals);
const only = process.env.SHAPE ?? '1B';
const [name, base] = Object.entries(SHAPES).find(([n]) => n.startsWith(only))!;
const T = Number(process.env.PROMPT ?? 512);
const outDir = path.resolve(process.env.OUT ?? 'bench/out');

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU });
const cache = new MemoryTuneCache();
installTuneCache(cache); // the model's matmuls read this cache, as the worker's IndexedDB one in the app
const model = await LlamaGpu.load(gpu, shardOf(base, 1), { maxSeqLen: T + 16 });
const prompt = new Int32Array(T).map((_, i) => (i * 7919) % base.vocabSize); // [T]

async function prefillTokS(reps = 3): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    model.reset();
    const t0 = performance.now();
    await model.forward(prompt, 0);
    best = Math.min(best, performance.now() - t0);
  }
  return T / (best / 1000);
}

const label = (c: MatmulChoice) => ('tiled' in c ? 'matmul.wgsl 64x64' : gemmRegLabel(c.reg));
await prefillTokS(1); // compile the rule's pipelines
const untuned = await prefillTokS();
const first = await tuneModel(gpu, model.projectionShapes());
const tuned = await prefillTokS();
const again = await tuneModel(gpu, model.projectionShapes());
const choices = TUNE_PROMPT_CLASSES.flatMap((M) => model.projectionShapes().map((s) => ({
  M, N: s.N, K: s.K, type: s.type,
  rule: label(matmulDefaultChoice(M, s.N, s.K, s.type, gpu.report.limits)),
  tuned: label(matmulChoice(gpu, M, s.N, s.K, s.type)),
})));
const doc = {
  name: 'tune-load', date: new Date().toISOString(), shape: name, prompt_tokens: T,
  machine: { hostname: os.hostname(), cpus: os.cpus().length }, adapter: gpu.report,
  first_load: first, later_load: again, prefill_tok_s: { untuned, tuned, ratio: tuned / untuned }, choices,
};
const md = [
  `# Load-time kernel tuning: ${name}, f16, tp=1 (${gpu.report.vendor} ${gpu.report.description}, ${doc.date.slice(0, 10)})`, '',
  `First load on this GPU: ${first.tuned} entries timed in ${(first.ms / 1000).toFixed(1)} s${first.skipped ? ` (${first.skipped})` : ''}; a later load: ${again.cached} cached, ${again.ms.toFixed(1)} ms.`,
  `Prefill of ${T} tokens: ${untuned.toFixed(0)} tok/s with the untuned rule, ${tuned.toFixed(0)} tok/s tuned (${(tuned / untuned).toFixed(2)}x, same run).`, '',
  '| M class | N | K | rule | tuned |', '|---|---|---|---|---|',
  ...choices.map((c) => `| ${c.M} | ${c.N} | ${c.K} | ${c.rule} | ${c.tuned} |`), '',
].join('\n');
fs.mkdirSync(outDir, { recursive: true });
const base_ = path.join(outDir, `tune-load-${only}-${(gpu.report.vendor || 'gpu').replace(/\W+/g, '-')}-${doc.date.slice(0, 10)}`);
fs.writeFileSync(`${base_}.json`, JSON.stringify(doc, null, 1));
fs.writeFileSync(`${base_}.md`, md);
console.log(md);
model.destroy();
gpu.destroy();
