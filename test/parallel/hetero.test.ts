// Proportional (heterogeneous) tensor-parallel shares: the split arithmetic, the plans it gives, and a
// stories260K group with a 3:1 split (rank 0 on ORT wasm, rank 1 on the CPU reference) that must
// reproduce the tp=1 reference logits.
import { describe, expect, it } from 'vitest';
import { readRange } from '../../src/model/gguf';
import { rowBytes } from '../../src/model/quant';
import { LlamaOrt } from '../../src/model/ort/llama-ort';
import { LlamaCpu } from '../../src/model/reference';
import type { ModelShard, WeightTensor } from '../../src/model/types';
import { kvHeadsFor, planHetero, proportionalSplit } from '../../src/parallel/hetero';
import { makeShard, planTp, sliceCols, splitRange, TpConfigError, type TpPlan } from '../../src/parallel/tp';
import { mulberry32 } from '../../src/model/prng';
import { GOLDEN_IDS } from '../model/fixtures';
import { loadStories } from '../model/models';
import { SumBarrier } from './mesh';

describe('proportionalSplit', () => {
  it('equal weights give exactly tp.ts splitRange', () => {
    for (const [n, k, unit] of [[172, 3, 1], [96, 3, 32], [160, 4, 32], [512, 8, 1], [7, 7, 1], [100, 6, 1]]) {
      const want = Array.from({ length: k }, (_, r) => splitRange(n, k, r, unit));
      expect(proportionalSplit(n, new Array<number>(k).fill(2.5), unit)).toEqual(want);
    }
  });

  it('splits in proportion, in whole units, contiguous and covering [0, n)', () => {
    expect(proportionalSplit(172, [3, 1])).toEqual([[0, 129], [129, 172]]);
    expect(proportionalSplit(8, [1, 2, 5], 2)).toEqual([[0, 2], [2, 4], [4, 8]]); // quotas 0.5, 1, 2.5 units: ties to the lower rank
    expect(proportionalSplit(5632, [10, 1], 32)).toEqual([[0, 5120], [5120, 5632]]);
    const r = mulberry32(3);
    for (let trial = 0; trial < 200; trial++) {
      const k = 1 + Math.floor(r() * 6);
      const unit = [1, 2, 32][Math.floor(r() * 3)];
      const n = unit * (k + Math.floor(r() * 300));
      const w = Array.from({ length: k }, () => 0.05 + r() * 10);
      const s = proportionalSplit(n, w, unit);
      expect(s[0][0]).toBe(0);
      expect(s[k - 1][1]).toBe(n);
      const total = w.reduce((a, b) => a + b, 0);
      for (let i = 0; i < k; i++) {
        if (i > 0) expect(s[i][0]).toBe(s[i - 1][1]);
        const units = (s[i][1] - s[i][0]) / unit;
        expect(Number.isInteger(units) && units >= 1).toBe(true);
        // Largest remainder is within one unit of the exact quota, unless the one-unit minimum moved it.
        const quota = ((n / unit) * w[i]) / total;
        if (quota >= 1) expect(Math.abs(units - quota)).toBeLessThan(1 + k);
        if (s.every(([a, b]) => (b - a) / unit >= 2)) expect(Math.abs(units - quota)).toBeLessThan(1);
      }
    }
  });

  it('gives every rank at least one unit, and rejects impossible or invalid requests', () => {
    expect(proportionalSplit(4, [1000, 1, 1])).toEqual([[0, 2], [2, 3], [3, 4]]);
    expect(() => proportionalSplit(2, [1, 1, 1])).toThrow(TpConfigError);
    expect(() => proportionalSplit(10, [1, 0])).toThrow(/positive/);
    expect(() => proportionalSplit(10, [1, NaN])).toThrow(/positive/);
    expect(() => proportionalSplit(33, [1, 1], 32)).toThrow(/units/);
    expect(() => proportionalSplit(10, [])).toThrow(/no ranks/);
  });
});

describe('planHetero', () => {
  it('equal weights reproduce planTp; 3:1 on stories260K moves heads, hidden and vocab', async () => {
    const { index } = await loadStories();
    for (const tp of [1, 2, 4, 8]) {
      for (let r = 0; r < tp; r++) expect(planHetero(index.config, r, new Array<number>(tp).fill(1))).toEqual(planTp(index, r, tp));
    }
    expect(planHetero(index.config, 0, [3, 1])).toMatchObject({ heads: [0, 6], kvHeads: [0, 3], hidden: [0, 129], vocab: [0, 384] });
    expect(planHetero(index.config, 1, [3, 1])).toMatchObject({ heads: [6, 8], kvHeads: [3, 4], kvHeadOfLocalHead: [0, 0] });
    // 5 ranks > 4 kv heads: heads cut one by one, a shared kv head appears on two ranks
    const p = [0, 1, 2, 3, 4].map((r) => planHetero(index.config, r, [4, 1, 1, 1, 1]));
    expect(p.map((x) => x.heads)).toEqual([[0, 4], [4, 5], [5, 6], [6, 7], [7, 8]]);
    expect(kvHeadsFor(index.config, [3, 6])).toEqual({ kvHeads: [1, 3], kvHeadOfLocalHead: [0, 1, 1] });
    expect(() => planHetero(index.config, 0, new Array<number>(9).fill(1))).toThrow(TpConfigError);
  });
});

/** Rows [r0, r1) of a matrix (row slices are contiguous bytes). */
function rows(w: WeightTensor, r0: number, r1: number): WeightTensor {
  const rb = rowBytes(w.type, w.cols);
  return { ...w, rows: r1 - r0, data: w.data.subarray(r0 * rb, r1 * rb) };
}

/** The shard a plan describes, cut from the whole model in memory (the same cuts makeShard makes from the file). */
function sliceShard(full: ModelShard, plan: TpPlan): ModelShard {
  const hd = full.config.headDim;
  const [h0, h1] = plan.heads;
  const [k0, k1] = plan.kvHeads;
  const [a, b] = plan.hidden;
  return {
    ...full,
    rank: plan.rank,
    tp: plan.tp,
    nHeadsLocal: h1 - h0,
    nKvHeadsLocal: k1 - k0,
    kvHeadOfLocalHead: plan.kvHeadOfLocalHead,
    hiddenLocal: b - a,
    layers: full.layers.map((L) => ({
      ...L,
      wq: rows(L.wq, h0 * hd, h1 * hd),
      wk: rows(L.wk, k0 * hd, k1 * hd),
      wv: rows(L.wv, k0 * hd, k1 * hd),
      wo: sliceCols(L.wo, h0 * hd, h1 * hd),
      wGate: rows(L.wGate, a, b),
      wUp: rows(L.wUp, a, b),
      wDown: sliceCols(L.wDown, a, b),
    })),
    output: rows(full.output, plan.vocab[0], plan.vocab[1]),
    vocabStart: plan.vocab[0],
  };
}

describe('a 3:1 heterogeneous group on stories260K', () => {
  for (const weights of [[3, 1], [1, 2, 5]]) {
    it(`weights ${weights}: ORT rank 0 + CPU ranks equal the tp=1 reference within 1e-4`, async () => {
      const m = await loadStories();
      const full = await makeShard(m.index, (s, e) => readRange(m.buf, s, e), 0, 1);
      // Each rank's shard both ways: cut from the whole model in memory by the plan (sliceShard, written
      // here independently), and fetched by makeShard with `weights` (the byte ranges a peer downloads).
      const shards = weights.map((_, r) => sliceShard(full, planHetero(full.config, r, weights)));
      const fetched = await Promise.all(weights.map((_, r) => makeShard(m.index, (s, e) => readRange(m.buf, s, e), r, weights.length, { weights })));
      fetched.forEach((f, r) => {
        expect(f.hiddenLocal).toBe(shards[r].hiddenLocal);
        expect(f.layers[1].wDown.data).toEqual(shards[r].layers[1].wDown.data);
        expect(f.layers[0].wq.data).toEqual(shards[r].layers[0].wq.data);
        expect(f.vocabStart).toBe(shards[r].vocabStart);
      });
      expect(shards.map((s) => s.hiddenLocal).reduce((x, y) => x + y, 0)).toBe(172);
      const ranks = [await LlamaOrt.load(shards[0], { maxSeqLen: 32, backend: 'wasm' }), ...shards.slice(1).map((s) => new LlamaCpu(s, 32))];
      const ref = new LlamaCpu(full, 32);
      const barrier = new SumBarrier(ranks.length);
      const seq = [1, ...GOLDEN_IDS];
      const step = async (tokens: Int32Array, pos: number) => {
        const parts = await Promise.all(ranks.map((x) => x.forward(tokens, pos, (p) => barrier.reduce(p))));
        const got = Float32Array.from(parts.flatMap((p) => Array.from(p))); // [vocab]
        const want = await ref.forward(tokens, pos); // [vocab]
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        return worst;
      };
      expect(await step(Int32Array.from(seq.slice(0, 7)), 0)).toBeLessThan(1e-4);
      for (let i = 7; i < 12; i++) expect(await step(Int32Array.of(seq[i]), i)).toBeLessThan(1e-4);
      ranks[0].reset();
    });
  }
});
