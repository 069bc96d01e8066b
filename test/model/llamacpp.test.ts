// Against llama.cpp itself: test/fixtures/llamacpp-stories260K.json holds llama.cpp's tokenization
// and raw next-token logits (via node-llama-cpp, made by scripts/llamacpp-fixtures.mjs) for several
// prompts. Our tokenizer must produce the same ids, and our CPU reference and our WGSL forward, at
// tp = 1, 2 and 4 (partials summed in-process), the same logits within 1e-4.
import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import { LlamaTokenizer } from '../../src/model/tokenizer';
import { LlamaGpu } from '../../src/model/llama';
import { makeShard } from '../../src/parallel/tp';
import { readRange } from '../../src/model/gguf';
import { loadStories, type LoadedModel } from './models';
import { CpuMesh, SumBarrier } from '../parallel/mesh';
import { testGpu } from '../helpers/gpu';

interface Fixture { llamaCpp: string; prompts: { text: string; tokens: number[]; logits: number[] }[] }
const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/llamacpp-stories260K.json', import.meta.url), 'utf8')) as Fixture;

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe(`stories260K against llama.cpp (${fixture.llamaCpp})`, () => {
  let stories: LoadedModel;
  beforeAll(async () => {
    stories = await loadStories();
  });

  it('tokenizes every prompt exactly as llama.cpp', () => {
    const tok = new LlamaTokenizer(stories.index.tokenizer);
    for (const p of fixture.prompts) expect(Array.from(tok.encode(p.text)), JSON.stringify(p.text)).toEqual(p.tokens);
  });

  for (const tp of [1, 2, 4]) {
    it(`CPU reference logits equal llama.cpp's within 1e-4 (tp=${tp})`, async () => {
      const mesh = await CpuMesh.create(stories, tp, 64);
      for (const p of fixture.prompts) {
        mesh.reset();
        const logits = await mesh.forward(Int32Array.from(p.tokens), 0); // [vocab]
        expect(maxAbsDiff(logits, p.logits), JSON.stringify(p.text)).toBeLessThan(1e-4);
      }
    });

    it(`WGSL forward logits equal llama.cpp's within 1e-4 (tp=${tp})`, async () => {
      const gpu = await testGpu();
      const shards = await Promise.all(Array.from({ length: tp }, (_, r) => makeShard(stories.index, (s, e) => readRange(stories.buf, s, e), r, tp)));
      const models = await Promise.all(shards.map((s) => LlamaGpu.load(gpu, s, { maxSeqLen: 64 })));
      const barrier = new SumBarrier(tp);
      try {
        for (const p of fixture.prompts) {
          for (const m of models) m.reset();
          const parts = await Promise.all(models.map((m) => m.forward(Int32Array.from(p.tokens), 0, tp > 1 ? (x) => barrier.reduce(x) : undefined)));
          const logits = Float32Array.from(parts.flatMap((x) => Array.from(x))); // [vocab], rank order
          expect(maxAbsDiff(logits, p.logits), JSON.stringify(p.text)).toBeLessThan(1e-4);
        }
      } finally {
        for (const m of models) m.destroy();
      }
    });
  }
});
