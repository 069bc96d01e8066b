import { beforeAll, describe, expect, it } from 'vitest';
import { readRange } from '../../src/model/gguf';
import { LlamaCpu } from '../../src/model/reference';
import { argmax } from '../../src/model/sampling';
import { makeShard } from '../../src/parallel/tp';
import type { ModelShard } from '../../src/model/types';
import { GOLDEN_IDS } from './fixtures';
import { loadStories, rebuild, type LoadedModel } from './models';
import { loadGgufIndex } from '../../src/model/gguf';

async function greedy(m: LlamaCpu, n: number): Promise<number[]> {
  m.reset();
  let logits = await m.forward(Int32Array.of(1), 0); // BOS
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(argmax(logits));
    logits = await m.forward(Int32Array.of(ids[i]), i + 1);
  }
  return ids;
}

let stories: LoadedModel;
let shard: ModelShard;
beforeAll(async () => {
  stories = await loadStories();
  shard = await makeShard(stories.index, (s, e) => readRange(stories.buf, s, e), 0, 1);
});

describe('LlamaCpu on stories260K', () => {
  it('greedy from BOS reproduces the 64 golden ids (PROVENANCE.md, independent numpy forward)', async () => {
    expect(await greedy(new LlamaCpu(shard, 128), 64)).toEqual(GOLDEN_IDS);
  });

  it('a batched prefill gives the same last logits as feeding the tokens one by one', async () => {
    const prompt = Int32Array.from([1, ...GOLDEN_IDS.slice(0, 20)]); // [21]
    const a = new LlamaCpu(shard, 64);
    const batched = await a.forward(prompt, 0);
    const b = new LlamaCpu(shard, 64);
    let step: Float32Array = new Float32Array(0);
    for (let i = 0; i < prompt.length; i++) step = await b.forward(prompt.subarray(i, i + 1), i);
    for (let i = 0; i < batched.length; i++) expect(Math.abs(batched[i] - step[i])).toBeLessThan(1e-5);
    // and decoding continues identically from either cache
    const na = await a.forward(Int32Array.of(7), prompt.length);
    const nb = await b.forward(Int32Array.of(7), prompt.length);
    for (let i = 0; i < na.length; i++) expect(Math.abs(na[i] - nb[i])).toBeLessThan(1e-5);
  });

  it('calls the reduce hook twice per layer per forward, before the residual add', async () => {
    const m = new LlamaCpu(shard, 16);
    let calls = 0;
    const base = await new LlamaCpu(shard, 16).forward(Int32Array.of(1, 403), 0);
    // A hook that doubles the partial changes the result; identity does not.
    const same = await m.forward(Int32Array.of(1, 403), 0, async (p) => {
      calls++;
      expect(p.length).toBe(2 * 64); // [T, dim]
      return p;
    });
    expect(calls).toBe(2 * 5);
    expect(Array.from(same)).toEqual(Array.from(base));
    m.reset();
    const doubled = await m.forward(Int32Array.of(1, 403), 0, async (p) => p.map((v) => 2 * v));
    expect(Array.from(doubled)).not.toEqual(Array.from(base));
  });

  it('a tied head (no output.weight) reads token_embd and gives the same logits (the two are equal here)', async () => {
    const tiedBuf = await rebuild(stories, { drop: ['output.weight'] });
    const idx = await loadGgufIndex(tiedBuf);
    const tied = await makeShard(idx, (s, e) => readRange(tiedBuf, s, e), 0, 1);
    expect(await greedy(new LlamaCpu(tied, 128), 64)).toEqual(GOLDEN_IDS);
  });

  it('checks positions against the cache', async () => {
    const m = new LlamaCpu(shard, 4);
    await expect(m.forward(Int32Array.of(1), 1)).rejects.toThrow(/cache holds 0/);
    await expect(m.forward(Int32Array.of(1, 2, 3, 4, 5), 0)).rejects.toThrow(/exceed maxSeqLen/);
  });
});
