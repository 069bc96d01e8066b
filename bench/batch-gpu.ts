// Batched decode throughput of the WGSL engine on one real GPU (Node + Dawn): the serving goal of
// issue 4 ("batch 8 at 4x or more the tokens/s of batch 1") measured where it is decided, in the
// model's decodeBatch (one forward over B slots; the path BatchLoop drives). B slots are prefilled
// with PROMPT tokens each, then STEPS batched decode steps are timed, for the batched GEMV (the default on GPUs) and the tiled GEMM. Also times the single-sequence
// forward (the gemv decode path of the LLM panel) as the unbatched baseline. SHAPE=1B|7B, BATCHES=1,2,..,
// WEIGHTS=f16|q8_0.
// Run: node scripts/bundle.mjs bench/batch-gpu.ts .gpu-node/batch.mjs (see README), on the GPU machine.
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import { Gpu } from '../src/gpu/gpu';
import { LlamaGpu } from '../src/model/llama';
import { SHAPES, benchWeights, shardOf } from './random-shard';

Object.assign(globalThis, globals);

const only = process.env.SHAPE ?? '1B';
const batches = (process.env.BATCHES ?? '1,2,4,8,16').split(',').map(Number);
const PROMPT = Number(process.env.PROMPT ?? 64);
const STEPS = Number(process.env.STEPS ?? 32);
const [name, base] = Object.entries(SHAPES).find(([n]) => n.startsWith(only))!;
const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU });
const maxSlots = Math.max(...batches);
const weights = benchWeights(); // WEIGHTS=f16|q8_0
const model = await LlamaGpu.load(gpu, shardOf(base, 1, weights), { maxSeqLen: PROMPT + STEPS + 8 /* warm-up steps */, maxSlots });
const prompt = new Int32Array(PROMPT).map((_, i) => (i * 7919) % base.vocabSize); // [PROMPT]
const prefill = async (B: number) => {
  for (let s = 0; s < B; s++) {
    model.reset(s);
    await model.forward(prompt, 0, undefined, s); // [PROMPT] into slot s
  }
};
await prefill(1);

const rows: Record<string, unknown>[] = [];
// Unbatched baseline: the single-sequence decode (slot 0 positions continue after the prompt).
{
  await model.forward(Int32Array.of(5), PROMPT, undefined, 0); // warm-up / compile
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) await model.forward(Int32Array.of(7 + i), PROMPT + 1 + i, undefined, 0);
  const ms = (performance.now() - t0) / STEPS;
  rows.push({ path: 'forward (unbatched gemv)', B: 1, step_ms: ms, tok_s: 1000 / ms });
}
const impls = (process.env.IMPLS ?? 'gemv-batch,tiled').split(',') as ('gemv-batch' | 'tiled')[];
for (const impl of impls) for (const B of batches) {
  // Every B starts from freshly prefilled slots, so each sees the same attention lengths.
  await prefill(B);
  const stepAt = (i: number) => model.decodeBatch(Array.from({ length: B }, (_, s) => ({ slot: s, token: (11 + i + s) % base.vocabSize, pos: PROMPT + i })), undefined, impl);
  await stepAt(0); // compile this B's pipelines
  const t0 = performance.now();
  for (let i = 1; i <= STEPS; i++) await stepAt(i);
  const ms = (performance.now() - t0) / STEPS;
  rows.push({ path: `decodeBatch ${impl}`, B, step_ms: ms, tok_s: (1000 * B) / ms });
}
// Ratios against the best single-sequence decode (the unbatched GEMV row): what batching buys a server.
const b1 = rows[0].tok_s as number;
for (const r of rows) r.vs_unbatched = (r.tok_s as number) / b1;
for (const r of rows) console.log(JSON.stringify(r));
const doc = { name: 'batch-gpu', model: name, weights, prompt: PROMPT, steps: STEPS, date: new Date().toISOString(), adapter: gpu.report, rows };
if (process.env.OUT) fs.writeFileSync(`${process.env.OUT}/batch-gpu-${only}${weights === 'f16' ? '' : '-' + weights}.json`, JSON.stringify(doc, null, 2));
const cols = Object.keys(rows[0]);
console.log([`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cols.map((c) => (typeof r[c] === 'number' ? (r[c] as number).toFixed(2) : String(r[c]))).join(' | ')} |`)].join('\n'));
process.exit(0);
