// The tensor-parallel step's encode-ahead path (LlamaGpu.encodeAhead, on Gpu.capture): the segment
// after an all-reduce point is encoded while the exchange is in flight and submitted after the sum is
// written. It must change nothing but timing: bit-identical logits with it on and off, at tp = 2 with
// the ranks' partials summed in-process (rank order), for a prefill and decode steps. Gpu.capture()
// itself: captured work runs after a write made after the capture, and misuse is refused.
import { beforeAll, describe, expect, it } from 'vitest';
import { LlamaGpu } from '../../src/model/llama';
import { zeroPointTimes } from '../../src/model/point-times';
import { makeShard } from '../../src/parallel/tp';
import { readRange } from '../../src/model/gguf';
import { loadStories, type LoadedModel } from './models';
import { SumBarrier } from '../parallel/mesh';
import { testGpu } from '../helpers/gpu';

describe('LlamaGpu encode-ahead', () => {
  let stories: LoadedModel;
  beforeAll(async () => {
    stories = await loadStories();
  });

  it('gives bit-identical logits with and without encode-ahead (tp=2, prefill + 4 decode steps)', async () => {
    const gpu = await testGpu();
    const tp = 2;
    const shards = await Promise.all(Array.from({ length: tp }, (_, r) => makeShard(stories.index, (s, e) => readRange(stories.buf, s, e), r, tp)));
    const submits: Record<string, number> = {};
    const run = async (ahead: boolean): Promise<Float32Array[]> => {
      const models = await Promise.all(shards.map((s) => LlamaGpu.load(gpu, s, { maxSeqLen: 32 })));
      gpu.flush();
      const submits0 = gpu.stats.submits;
      const barrier = new SumBarrier(tp);
      const times = models.map(() => zeroPointTimes());
      models.forEach((m, r) => { m.encodeAhead = ahead; m.times = times[r]; });
      const out: Float32Array[] = [];
      try {
        const step = async (tokens: Int32Array, pos: number) => {
          const parts = await Promise.all(models.map((m) => m.forward(tokens, pos, (x) => barrier.reduce(x))));
          out.push(Float32Array.from(parts.flatMap((x) => Array.from(x)))); // [vocab], rank order
        };
        await step(Int32Array.of(1, 403, 407, 261), 0);
        for (let i = 0; i < 4; i++) await step(Int32Array.of(300 + i), 4 + i);
        submits[String(ahead)] = gpu.stats.submits - submits0;
      } finally {
        for (const m of models) m.destroy();
      }
      const nPoints = 2 * stories.index.config.nLayers * 5; // 2 per layer, 5 steps
      for (const t of times) {
        expect(t.points).toBe(nPoints);
        expect(t.steps).toBe(5);
        if (!ahead) expect(t.aheadMs).toBe(0);
      }
      return out;
    };
    const plain = await run(false);
    const ahead = await run(true);
    expect(ahead.length).toBe(plain.length);
    // The captured segment carries the next partial's read-back copy: no extra submit per point.
    expect(submits.true).toBeLessThanOrEqual(submits.false);
    for (let i = 0; i < plain.length; i++) {
      expect(ahead[i].every((v) => Number.isFinite(v))).toBe(true);
      expect(Buffer.from(ahead[i].buffer).equals(Buffer.from(plain[i].buffer)), `step ${i}`).toBe(true);
    }
  });

  it('Gpu.capture: the captured copy sees a write made before its submit; misuse throws', async () => {
    const gpu = await testGpu();
    const a = gpu.alloc(16, 'cap.a'); // [4] f32
    const b = gpu.alloc(16, 'cap.b'); // [4] f32
    gpu.write(a, Float32Array.of(1, 2, 3, 4));
    gpu.write(b, Float32Array.of(0, 0, 0, 0));
    const submit = gpu.capture(() => gpu.copy(a, 0, b, 0, 16));
    gpu.write(a, Float32Array.of(5, 6, 7, 8)); // after the capture, before its submit
    submit();
    expect(Array.from(new Float32Array(await gpu.read(b, 16)))).toEqual([5, 6, 7, 8]);
    expect(() => submit()).toThrow(/twice/);
    expect(() => gpu.capture(() => gpu.write(a, Float32Array.of(0)))).toThrow(/inside capture/);
    expect(() => gpu.capture(() => { gpu.copy(a, 0, b, 0, 16); gpu.flush(); })).toThrow(/inside capture/);
    // After a refused capture the Gpu works as before.
    gpu.write(a, Float32Array.of(9, 9, 9, 9));
    gpu.copy(a, 0, b, 0, 16);
    expect(Array.from(new Float32Array(await gpu.read(b, 16)))).toEqual([9, 9, 9, 9]);
    gpu.free(a);
    gpu.free(b);
  });
});
