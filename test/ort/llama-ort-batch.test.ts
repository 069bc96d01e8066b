// LlamaOrt.decodeBatch (continuous batching on ONNX Runtime): B sequences in their own KV slots at
// different positions, one batched step, checked row by row against an independent CPU reference
// (src/model/reference.ts) that ran each sequence alone; at tp = 2 (ORT + ORT) each reduce point is
// ONE call carrying [B*dim]; and a BatchLoop over LlamaOrt gives the golden greedy ids.
import { beforeAll, describe, expect, it } from 'vitest';
import { readRange } from '../../src/model/gguf';
import { LlamaOrt } from '../../src/model/ort/llama-ort';
import { LlamaCpu } from '../../src/model/reference';
import { LlamaTokenizer } from '../../src/model/tokenizer';
import { parseSamplingParams } from '../../src/model/sampling';
import type { ModelShard } from '../../src/model/types';
import { makeShard } from '../../src/parallel/tp';
import { BatchLoop, llamaBatchModel } from '../../src/engines/batch-loop';
import { soloComm } from '../../src/collectives/types';
import { GOLDEN_IDS } from '../model/fixtures';
import { loadStories, type LoadedModel } from '../model/models';
import { SumBarrier } from '../parallel/mesh';

let stories: LoadedModel;
beforeAll(async () => {
  stories = await loadStories();
});

async function shards(tp: number): Promise<ModelShard[]> {
  return Promise.all(Array.from({ length: tp }, (_, r) => makeShard(stories.index, (s, e) => readRange(stories.buf, s, e), r, tp)));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Three sequences of different lengths in slots 2, 0, 1 (out of order on purpose).
const PROMPTS = [[1, 403, 407, 261, 378], [1, 300], [1, 410, 408, 419]];
const SLOTS = [2, 0, 1];

describe('LlamaOrt.decodeBatch (stories260K, wasm)', () => {
  it('tp=1: each row of a batched step equals the CPU reference run alone (1e-4), for 4 steps', async () => {
    const [full] = await shards(1);
    const ort = await LlamaOrt.load(full, { maxSeqLen: 32, maxSlots: 3, backend: 'wasm' });
    const refs = PROMPTS.map(() => new LlamaCpu(full, 32));
    const next: number[] = [];
    for (let b = 0; b < PROMPTS.length; b++) {
      const p = Int32Array.from(PROMPTS[b]);
      const got = await ort.forward(p, 0, undefined, SLOTS[b]);
      expect(maxAbsDiff(got, await refs[b].forward(p, 0))).toBeLessThan(1e-4);
      next.push(300 + b);
    }
    const vocab = full.config.vocabSize;
    for (let step = 0; step < 4; step++) {
      const rows = PROMPTS.map((p, b) => ({ slot: SLOTS[b], token: next[b], pos: p.length + step }));
      const out = await ort.decodeBatch(rows); // [B, vocab]
      expect(out.length).toBe(rows.length * vocab);
      for (let b = 0; b < rows.length; b++) {
        const want = await refs[b].forward(Int32Array.of(next[b]), rows[b].pos);
        expect(maxAbsDiff(out.subarray(b * vocab, (b + 1) * vocab), want)).toBeLessThan(1e-4);
        next[b] = (next[b] * 7 + 11) % vocab;
      }
    }
    expect(ort.lengths).toEqual([PROMPTS[1].length + 4, PROMPTS[2].length + 4, PROMPTS[0].length + 4]);
    await expect(ort.decodeBatch([{ slot: 0, token: 1, pos: 3 }])).rejects.toThrow(/pos 3/);
    await expect(ort.decodeBatch([{ slot: 0, token: 1, pos: 6 }, { slot: 0, token: 1, pos: 6 }])).rejects.toThrow(/repeated slot/);
    ort.destroy();
  });

  it('tp=2 (ORT + ORT): one reduce call per layer point for the whole batch, rows equal the tp=1 reference', async () => {
    const [full] = await shards(1);
    const parts = await shards(2);
    const ranks = await Promise.all(parts.map((s) => LlamaOrt.load(s, { maxSeqLen: 24, maxSlots: 2, backend: 'wasm' })));
    const barrier = new SumBarrier(2);
    const hook = (p: Float32Array) => barrier.reduce(p);
    const refs = [new LlamaCpu(full, 24), new LlamaCpu(full, 24)];
    const prompts = [Int32Array.of(1, 403, 407), Int32Array.of(1, 300, 301, 302, 303)];
    for (let b = 0; b < 2; b++) {
      await Promise.all(ranks.map((m) => m.forward(prompts[b], 0, hook, b)));
      await refs[b].forward(prompts[b], 0);
    }
    const before = barrier.calls;
    const rows = [{ slot: 0, token: 261, pos: 3 }, { slot: 1, token: 378, pos: 5 }];
    const outs = await Promise.all(ranks.map((m) => m.decodeBatch(rows, hook))); // per rank [2, vocabLocal]
    expect(barrier.calls - before).toBe(2 * full.config.nLayers);
    const vl = outs.map((o) => o.length / 2);
    for (let b = 0; b < 2; b++) {
      const row = new Float32Array([...outs[0].subarray(b * vl[0], (b + 1) * vl[0]), ...outs[1].subarray(b * vl[1], (b + 1) * vl[1])]); // [vocab]
      expect(maxAbsDiff(row, await refs[b].forward(Int32Array.of(rows[b].token), rows[b].pos))).toBeLessThan(1e-4);
    }
    for (const m of ranks) m.destroy();
  });

  it('a BatchLoop over LlamaOrt: three greedy requests together each give the golden ids', async () => {
    const [full] = await shards(1);
    const ort = await LlamaOrt.load(full, { maxSeqLen: 80, maxSlots: 3, backend: 'wasm' });
    const tok = new LlamaTokenizer(stories.index.tokenizer);
    const loop = new BatchLoop(llamaBatchModel(ort), tok, soloComm, { batchWaitMs: 5 });
    const params = parseSamplingParams({ temperature: 0, max_tokens: 64 });
    const res = await Promise.all([1, 2, 3].map((key) => loop.submit({ key, prompt: '', params, seed: 1 })));
    for (const r of res) expect(r.outputs[0].token_ids).toEqual(GOLDEN_IDS);
    expect(loop.stats.maxRows).toBe(3);
    ort.destroy();
  });

  it('one slot (max_batch_size 1): the BatchLoop still serves, one request at a time, golden ids', async () => {
    const [full] = await shards(1);
    const ort = await LlamaOrt.load(full, { maxSeqLen: 80, maxSlots: 1, backend: 'wasm' });
    const loop = new BatchLoop(llamaBatchModel(ort), new LlamaTokenizer(stories.index.tokenizer), soloComm, { batchWaitMs: 0 });
    const params = parseSamplingParams({ temperature: 0, max_tokens: 64 });
    const res = await Promise.all([1, 2].map((key) => loop.submit({ key, prompt: '', params, seed: 1 })));
    for (const r of res) expect(r.outputs[0].token_ids).toEqual(GOLDEN_IDS);
    expect(loop.stats.maxRows).toBe(1);
    ort.destroy();
  });
});
