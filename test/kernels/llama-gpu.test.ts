import { beforeAll, describe, expect, it } from 'vitest';
import { loadGgufIndex, readRange } from '../../src/model/gguf';
import { prefillPlan, splitPlan, splitTuning } from '../../src/kernels/attention';
import { gemvDecodeConfig } from '../../src/kernels/gemv';
import { LlamaGpu } from '../../src/model/llama';
import { LlamaCpu } from '../../src/model/reference';
import type { ModelShard } from '../../src/model/types';
import { makeShard } from '../../src/parallel/tp';
import { testGpu } from '../helpers/gpu';
import { GOLDEN_IDS } from '../model/fixtures';
import { loadStories, q8Types, rebuild, synthetic, type LoadedModel } from '../model/models';
import { maxAbsDiff } from './rand';

function argmax(a: Float32Array): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

async function shards(m: LoadedModel, tp: number): Promise<ModelShard[]> {
  return Promise.all(Array.from({ length: tp }, (_, r) => makeShard(m.index, (s, e) => readRange(m.buf, s, e), r, tp)));
}

/** Runs tp shards in lockstep in one process: the reduce hook sums every rank's partials (an in-process all-reduce). */
class InProcessTp {
  private pending: { part: Float32Array; resolve: (v: Float32Array) => void }[] = [];
  constructor(readonly models: LlamaGpu[]) {}
  private hook = (partial: Float32Array): Promise<Float32Array> =>
    new Promise((resolve) => {
      this.pending.push({ part: partial, resolve });
      if (this.pending.length === this.models.length) {
        const sum = new Float32Array(partial.length); // [T*dim]
        for (const p of this.pending) for (let i = 0; i < sum.length; i++) sum[i] += p.part[i];
        const ps = this.pending;
        this.pending = [];
        for (const p of ps) p.resolve(Float32Array.from(sum));
      }
    });
  /** The full logits: every rank's vocab slice, concatenated in rank order. */
  async forward(tokens: Int32Array, pos: number): Promise<Float32Array> {
    const parts = await Promise.all(this.models.map((m) => m.forward(tokens, pos, this.models.length > 1 ? this.hook : undefined)));
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

describe('LlamaGpu on stories260K', () => {
  let stories: LoadedModel;
  beforeAll(async () => {
    stories = await loadStories();
  });

  it('greedy from BOS reproduces the golden ids, and logits match the CPU reference (tp=1)', async () => {
    const gpu = await testGpu();
    const [shard] = await shards(stories, 1);
    const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: 64 });
    const cpu = new LlamaCpu(shard, 64);
    const ids: number[] = [];
    let tok = 1;
    let worst = 0;
    for (let pos = 0; pos < 24; pos++) {
      const got = await model.forward(Int32Array.of(tok), pos); // [vocab]
      const want = await cpu.forward(Int32Array.of(tok), pos); // [vocab]
      worst = Math.max(worst, maxAbsDiff(got, want));
      tok = argmax(got);
      ids.push(tok);
    }
    expect(ids).toEqual(GOLDEN_IDS.slice(0, 24));
    expect(worst).toBeLessThan(1e-4);
    model.destroy();
  });

  it('prefill of a prompt then decode equals token-by-token, and reset() restarts', async () => {
    const gpu = await testGpu();
    const [shard] = await shards(stories, 1);
    const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: 32 });
    const cpu = new LlamaCpu(shard, 32);
    const prompt = Int32Array.from([1, ...GOLDEN_IDS.slice(0, 9)]); // [10]
    const got = await model.forward(prompt, 0);
    const want = await cpu.forward(prompt, 0);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    const got2 = await model.forward(Int32Array.of(GOLDEN_IDS[9]), 10);
    expect(maxAbsDiff(got2, await cpu.forward(Int32Array.of(GOLDEN_IDS[9]), 10))).toBeLessThan(1e-4);
    expect(argmax(got2)).toBe(GOLDEN_IDS[10]);
    await expect(model.forward(Int32Array.of(1), 3)).rejects.toThrow(/pos 3/);
    model.reset();
    expect(maxAbsDiff(await model.forward(prompt, 0), got)).toBeLessThan(1e-6);
    model.destroy();
  });

  it('tp=2 (partials summed in-process) reproduces the golden ids and the tp=1 logits', async () => {
    const gpu = await testGpu();
    const full = await shards(stories, 1);
    const cpu = new LlamaCpu(full[0], 64);
    const tp2 = new InProcessTp(await Promise.all((await shards(stories, 2)).map((s) => LlamaGpu.load(gpu, s, { maxSeqLen: 64 }))));
    const prompt = Int32Array.of(1, 403, 407, 261); // [4] prefill through the hook as well
    let logits = await tp2.forward(prompt, 0);
    expect(maxAbsDiff(logits, await cpu.forward(prompt, 0))).toBeLessThan(1e-4);
    const ids = [argmax(logits)];
    for (let pos = 4; pos < 18; pos++) {
      logits = await tp2.forward(Int32Array.of(ids[ids.length - 1]), pos);
      const want = await cpu.forward(Int32Array.of(ids[ids.length - 1]), pos);
      expect(maxAbsDiff(logits, want)).toBeLessThan(1e-4);
      ids.push(argmax(logits));
    }
    expect(ids).toEqual(GOLDEN_IDS.slice(3, 18));
    for (const m of tp2.models) m.destroy();
  });

  it('q8_0 / f16 weights on the GPU match the CPU reference on the same quantized shard', async () => {
    const gpu = await testGpu();
    const buf = await rebuild(stories, { typeOf: q8Types });
    const q: LoadedModel = { buf, index: await loadGgufIndex(buf) };
    const [shard] = await shards(q, 1);
    const types = new Set(shard.layers.flatMap((l) => [l.wq.type, l.wGate.type, l.wDown.type]));
    expect(types.has('q8_0')).toBe(true);
    const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: 16 });
    const cpu = new LlamaCpu(shard, 16);
    const prompt = Int32Array.of(1, 403, 407); // [3]
    expect(maxAbsDiff(await model.forward(prompt, 0), await cpu.forward(prompt, 0))).toBeLessThan(1e-4);
    expect(maxAbsDiff(await model.forward(Int32Array.of(261), 3), await cpu.forward(Int32Array.of(261), 3))).toBeLessThan(1e-4);
    model.destroy();
  });

  it('q8_0 decode on a GPU adapter runs on int8 activations (as llama.cpp): teacher-forced loss within 1% of the exact CPU reference', async (ctx) => {
    const gpu = await testGpu();
    const report = gpu.report as { isFallback: boolean };
    const wasFallback = report.isFallback;
    report.isFallback = false; // take lavapipe as a GPU: decode's matmuls go through the GEMV (int8 x for q8_0)
    try {
      if (!gemvDecodeConfig(gpu, 'q8_0').xq) ctx.skip();
      const buf = await rebuild(stories, { typeOf: q8Types });
      const [shard] = await shards({ buf, index: await loadGgufIndex(buf) }, 1);
      const seq = [1, ...GOLDEN_IDS]; // BOS + the model's greedy text
      const nll = async (m: { forward(t: Int32Array, p: number): Promise<Float32Array> }) => {
        let s = 0;
        for (let i = 0; i + 1 < seq.length; i++) {
          const logits = await m.forward(Int32Array.of(seq[i]), i); // [vocab], one decode step each
          let mx = -Infinity;
          for (const v of logits) mx = Math.max(mx, v);
          let z = 0;
          for (const v of logits) z += Math.exp(v - mx);
          s -= logits[seq[i + 1]] - mx - Math.log(z);
        }
        return s / (seq.length - 1);
      };
      const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: seq.length + 1 });
      const gpuNll = await nll(model);
      const cpuNll = await nll(new LlamaCpu(shard, seq.length + 1)); // float activations, exact weights
      model.destroy();
      if (process.env.Q8_LOG) console.log(`q8_0 stories260K NLL: int8 x ${gpuNll.toFixed(5)}, CPU ${cpuNll.toFixed(5)}`);
      expect(Math.abs(gpuNll - cpuNll)).toBeLessThan(0.01 * cpuNll);
      expect(Math.abs(gpuNll - cpuNll)).toBeGreaterThan(1e-5); // the int8 path ran: float activations agree to ~1e-6
    } finally {
      report.isFallback = wasFallback;
    }
  });

  it('q8_0 decode with the int8 quantization fused into add+rmsnorm and swiglu: the same logits as quantize_q8 after each, 3 dispatches a layer fewer', async (ctx) => {
    const gpu = await testGpu();
    const report = gpu.report as { isFallback: boolean };
    const wasFallback = report.isFallback;
    report.isFallback = false; // lavapipe as a GPU: decode's q8_0 projections read int8 x
    try {
      if (!gemvDecodeConfig(gpu, 'q8_0').xq) ctx.skip();
      // dim 1024: add+rmsnorm's int8 form exists at the vec4 kernel's widths (1024 * 1..8)
      const m = await synthetic({ dim: 1024, nHeads: 4, nKvHeads: 2, hidden: 96, vocab: 50, layers: 2, seed: 12 });
      const buf = await rebuild(m, { typeOf: q8Types }); // every matrix q8_0 (rows 1024, 512 or 96)
      const [shard] = await shards({ buf, index: await loadGgufIndex(buf) }, 1);
      expect(shard.layers[0].wDown.type).toBe('q8_0');
      const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: 16, maxSlots: 2 });
      const cpu = new LlamaCpu(shard, 16);
      await model.forward(Int32Array.of(1, 7, 9), 0); // [3]
      await cpu.forward(Int32Array.of(1, 7, 9), 0);
      const counts: number[] = [];
      const logits: Float32Array[] = [];
      for (const on of [true, false]) { // the same step twice (the second rewrites the same cache row)
        model.int8Producers = on; // off: a quantize_q8 dispatch before each q8_0 projection, on the same y / h
        model.length = 3;
        gpu.resetStats();
        logits.push(await model.forward(Int32Array.of(12), 3)); // [vocab]
        counts.push(gpu.resetStats().dispatches);
      }
      expect(logits[0]).toEqual(logits[1]); // bit for bit: the fused kernels quantize exactly as quantize_q8 does
      expect(maxAbsDiff(logits[0], await cpu.forward(Int32Array.of(12), 3))).toBeLessThan(0.05); // int8 x vs exact
      // 4 keys, one attention chunk. A layer: 9 kernels + the combine kernel's int8 form of the attention output
      // (wo's input; q|k|v, gate|up and w_down read what add+rmsnorm / swiglu wrote) against 9 + 4 quantizes.
      // Plus embed, the first norm, the output projection and its quantize, and (on) layer 0's q|k|v quantize
      // after the first norm.
      expect(counts).toEqual([5 + 10 * 2, 4 + 13 * 2]);
      // 4 keys in 2 chunks (minChunk 2): the combine kernel runs either way and writes wo's int8 input itself.
      const savedMinChunk = splitTuning.minChunk;
      Object.assign(splitTuning, { minChunk: 2 });
      try {
        const split: Float32Array[] = [];
        counts.length = 0;
        for (const on of [true, false]) {
          model.int8Producers = on;
          model.length = 3;
          gpu.resetStats();
          split.push(await model.forward(Int32Array.of(12), 3)); // [vocab]
          counts.push(gpu.resetStats().dispatches);
        }
        expect(split[0]).toEqual(split[1]);
        expect(maxAbsDiff(split[0], logits[0])).toBeLessThan(1e-3); // the same step, chunks merged in another order
        expect(counts).toEqual([5 + 10 * 2, 4 + 14 * 2]);
      } finally {
        Object.assign(splitTuning, { minChunk: savedMinChunk });
      }
      const rows = [{ slot: 0, token: 3, pos: 4 }, { slot: 1, token: 5, pos: 0 }];
      const batched: Float32Array[] = [];
      for (const on of [true, false]) {
        model.int8Producers = on;
        model.lengths[0] = 4; // slot 0 after the step above; slot 1 empty
        model.lengths[1] = 0;
        batched.push(await model.decodeBatch(rows)); // [2, vocab]
      }
      expect(batched[0]).toEqual(batched[1]); // batched rows (quantized as one vector): the same
      model.destroy();
    } finally {
      report.isFallback = wasFallback;
    }
  });

  it('a synthetic GQA model with headDim 32 and an untied head matches the CPU reference (tp=1 and tp=2)', async () => {
    const gpu = await testGpu();
    const m = await synthetic({ dim: 128, nHeads: 4, nKvHeads: 2, hidden: 96, vocab: 100, layers: 2, seed: 3 });
    const cpu = new LlamaCpu((await shards(m, 1))[0], 80);
    const tp1 = new InProcessTp([await LlamaGpu.load(gpu, (await shards(m, 1))[0], { maxSeqLen: 80 })]);
    const tp2 = new InProcessTp(await Promise.all((await shards(m, 2)).map((s) => LlamaGpu.load(gpu, s, { maxSeqLen: 80 }))));
    // [70]: more keys than one 64-key attention chunk, and M=70 spans two 64-row matmul tiles.
    const prompt = Int32Array.from({ length: 70 }, (_, i) => (i * 7 + 1) % 100);
    const want = await cpu.forward(prompt, 0);
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    expect(maxAbsDiff(await tp1.forward(prompt, 0), want) / scale).toBeLessThan(1e-4);
    expect(maxAbsDiff(await tp2.forward(prompt, 0), want) / scale).toBeLessThan(1e-4);
    for (const mm of [...tp1.models, ...tp2.models]) mm.destroy();
  });

  it('on a GPU adapter path the GQA model prefills with the tiled prefill kernel and decodes with the warp split kernel (regular kv map): CPU reference, tp=1 and tp=2', async (ctx) => {
    const gpu = await testGpu();
    const report = gpu.report as { isFallback: boolean };
    const wasFallback = report.isFallback;
    report.isFallback = false; // lavapipe as a GPU: attention takes attention_prefill.wgsl (T > 1) and the split kernels (T = 1)
    try {
      if (!prefillPlan(gpu, 32) || splitPlan(gpu, 4, 32, 64, true)?.kernel !== 'warp') ctx.skip();
      const m = await synthetic({ dim: 128, nHeads: 4, nKvHeads: 2, hidden: 96, vocab: 100, layers: 2, seed: 5 });
      const cpu = new LlamaCpu((await shards(m, 1))[0], 120);
      const tp1 = new InProcessTp([await LlamaGpu.load(gpu, (await shards(m, 1))[0], { maxSeqLen: 120 })]);
      const tp2 = new InProcessTp(await Promise.all((await shards(m, 2)).map((sh) => LlamaGpu.load(gpu, sh, { maxSeqLen: 120 }))));
      const prompt = Int32Array.from({ length: 90 }, (_, i) => (i * 11 + 3) % 100); // [90]: several 64-query prefill tiles
      const check = async (want: Float32Array, got: Float32Array[]) => {
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        for (const g of got) expect(maxAbsDiff(g, want) / scale).toBeLessThan(1e-4);
      };
      await check(await cpu.forward(prompt, 0), [await tp1.forward(prompt, 0), await tp2.forward(prompt, 0)]);
      for (let i = 0; i < 6; i++) { // decode: 91..96 keys, several split chunks
        const tok = Int32Array.of((i * 13 + 7) % 100);
        await check(await cpu.forward(tok, 90 + i), [await tp1.forward(tok, 90 + i), await tp2.forward(tok, 90 + i)]);
      }
      for (const mm of [...tp1.models, ...tp2.models]) mm.destroy();
    } finally {
      report.isFallback = wasFallback;
    }
  });
});
