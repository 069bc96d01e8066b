// What load-time kernel tuning (src/engines/tune-model.ts) costs and buys on one real GPU: for one Llama
// shape with random f16 (WEIGHTS=q8_0: q8_0) weights at tp=1, a 512-token prefill with every projection on the
// 64x64 tiled kernel (forced through the tune cache: the GEMM's baseline), with the untuned rule, then tuneModel() on a
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
import { MemoryTuneCache, installTuneCache, tuneKey } from '../src/kernels/autotune';
import { forgetMatmulChoices, matmulChoice, matmulDefaultChoice, matmulShapeKey, type MatmulChoice } from '../src/kernels/matmul';
import { TUNE_PROMPT_CLASSES, tuneModel } from '../src/engines/tune-model';
import { gemmRegLabel } from '../src/kernels/gemm-reg';
import { SHAPES, benchWeights, shardOf } from './random-shard';

Object.assign(globalThis, globals);
const only = process.env.SHAPE ?? '1B';
const [name, base] = Object.entries(SHAPES).find(([n]) => n.startsWith(only))!;
const T = Number(process.env.PROMPT ?? 512);
const outDir = path.resolve(process.env.OUT ?? 'bench/out');
const weights = benchWeights(); // WEIGHTS=f16|q8_0

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU });
const model = await LlamaGpu.load(gpu, shardOf(base, 1, weights), { maxSeqLen: T + 16 });
// Every projection of this prompt's shape class on the tiled kernel, as if a tuner had picked it.
installTuneCache(new MemoryTuneCache(Object.fromEntries(model.projectionShapes().map((s) =>
  [tuneKey(gpu.report, matmulShapeKey(T, s.N, s.K, s.type)), JSON.stringify({ tiled: true })]))));
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
await prefillTokS(1); // compile the tiled pipelines
const tiledOnly = await prefillTokS();
const cache = new MemoryTuneCache();
installTuneCache(cache); // the model's matmuls read this cache, as the worker's IndexedDB one in the app
forgetMatmulChoices(gpu); // the rule from here on (the memo still holds the forced choices)
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
  name: 'tune-load', date: new Date().toISOString(), shape: name, weights, prompt_tokens: T,
  machine: { hostname: os.hostname(), cpus: os.cpus().length }, adapter: gpu.report,
  first_load: first, later_load: again,
  prefill_tok_s: { tiled_only: tiledOnly, untuned, tuned, ratio: tuned / untuned, rule_vs_tiled: untuned / tiledOnly }, choices,
};
const md = [
  `# Load-time kernel tuning: ${name}, ${weights}, tp=1 (${gpu.report.vendor} ${gpu.report.description}, ${doc.date.slice(0, 10)})`, '',
  `First load on this GPU: ${first.tuned} entries timed in ${(first.ms / 1000).toFixed(1)} s${first.skipped ? ` (${first.skipped})` : ''}; a later load: ${again.cached} cached, ${again.ms.toFixed(1)} ms.`,
  `Prefill of ${T} tokens: ${tiledOnly.toFixed(0)} tok/s with every projection on the 64x64 tiled kernel, ${untuned.toFixed(0)} tok/s with the untuned rule (${(untuned / tiledOnly).toFixed(2)}x), ${tuned.toFixed(0)} tok/s tuned (${(tuned / untuned).toFixed(2)}x the rule; same run).`, '',
  '| M class | N | K | rule | tuned |', '|---|---|---|---|---|',
  ...choices.map((c) => `| ${c.M} | ${c.N} | ${c.K} | ${c.rule} | ${c.tuned} |`), '',
].join('\n');
fs.mkdirSync(outDir, { recursive: true });
const base_ = path.join(outDir, `tune-load-${only}${weights === 'f16' ? '' : '-' + weights}-${(gpu.report.vendor || 'gpu').replace(/\W+/g, '-')}-${doc.date.slice(0, 10)}`);
fs.writeFileSync(`${base_}.json`, JSON.stringify(doc, null, 1));
fs.writeFileSync(`${base_}.md`, md);
console.log(md);
model.destroy();
gpu.destroy();
