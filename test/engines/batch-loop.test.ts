// The continuous-batching loop against generate.ts (the independent reference: one request at a
// time over the single-sequence forward): with fewer slots than completions, sequences finish at
// different steps and their slots are refilled mid-run, yet every request's outputs (text, ids,
// finish reasons) and stream equal those of the request run alone. At tp=2 two loops over loopback
// GroupComms receive the requests at different times and one rank alone sees a cancel: both ranks
// still run the same steps and return identical results.
import { beforeAll, describe, expect, it } from 'vitest';
import { loopbackComms } from '../../src/collectives/loopback';
import { soloComm, type Comm } from '../../src/collectives/types';
import { BatchLoop, llamaBatchModel, type BatchRequest } from '../../src/engines/batch-loop';
import { generate, type GenerateResult, type TokenEvent } from '../../src/engines/generate';
import { readRange } from '../../src/model/gguf';
import { LlamaGpu } from '../../src/model/llama';
import { samplingParams, type SamplingParamsInput } from '../../src/model/sampling';
import { LlamaTokenizer } from '../../src/model/tokenizer';
import { makeShard } from '../../src/parallel/tp';
import { testGpu } from '../helpers/gpu';
import { loadStories, type LoadedModel } from '../model/models';

let stories: LoadedModel;
let tok: LlamaTokenizer;
beforeAll(async () => {
  stories = await loadStories();
  tok = new LlamaTokenizer(stories.index.tokenizer);
});

const MAX_SEQ = 48;
const REQS: { prompt: string; s: SamplingParamsInput }[] = [
  { prompt: 'Once upon a time', s: { temperature: 0.8, seed: 1, max_tokens: 14 } },
  { prompt: 'The little dog', s: { temperature: 0.8, seed: 2, max_tokens: 4 } }, // ends early: its slot is refilled
  { prompt: 'Tom and Sue', s: { temperature: 1, seed: 3, n: 2, max_tokens: 9 } }, // two slots
  { prompt: 'Lily wanted to', s: { temperature: 0, max_tokens: 12, stop: ['.'] } },
  { prompt: '', s: { temperature: 0.9, seed: 5, max_tokens: 7, top_k: 20 } },
];

async function models(tp: number, maxSlots: number): Promise<{ ms: LlamaGpu[]; comms: Comm[] }> {
  const gpu = await testGpu();
  const shards = await Promise.all(Array.from({ length: tp }, (_, r) => makeShard(stories.index, (s, e) => readRange(stories.buf, s, e), r, tp)));
  const ms = await Promise.all(shards.map((s) => LlamaGpu.load(gpu, s, { maxSeqLen: MAX_SEQ, maxSlots })));
  return { ms, comms: tp > 1 ? loopbackComms(tp) : [soloComm] };
}

/** generate() over the single-sequence forward of tp ranks (slot 0), one request at a time. */
async function alone(tp: number): Promise<{ res: GenerateResult; events: TokenEvent[] }[]> {
  const { ms, comms } = await models(tp, 1);
  const hook = (r: number) => (tp > 1 ? (p: Float32Array) => comms[r].allReduce(p) : undefined);
  const fwd = async (t: Int32Array, pos: number) => {
    const parts = await Promise.all(ms.map((m, r) => m.forward(t, pos, hook(r)))); // tp x [vocabLocal]
    const full = new Float32Array(parts.reduce((a, p) => a + p.length, 0)); // [vocab]
    let o = 0;
    for (const p of parts) { full.set(p, o); o += p.length; }
    return full;
  };
  const out = [];
  for (const q of REQS) {
    const events: TokenEvent[] = [];
    const res = await generate(fwd, tok, q.prompt, q.s, { reset: () => ms.forEach((m) => m.reset()), maxSeqLen: MAX_SEQ, onToken: (e) => events.push(e) });
    out.push({ res, events });
  }
  ms.forEach((m) => m.destroy());
  return out;
}

const req = (i: number, onToken?: (e: TokenEvent) => void): BatchRequest => {
  const params = samplingParams(REQS[i].s);
  return { key: 10 + i, prompt: REQS[i].prompt, params, seed: params.seed ?? 0, onToken };
};
const strip = (r: GenerateResult) => ({ outputs: r.outputs, usage: r.usage });

describe('BatchLoop (continuous batching)', () => {
  it('tp=1, 3 slots for 6 completions: same outputs and streams as each request alone, with mid-run refills', async () => {
    const ref = await alone(1);
    const { ms } = await models(1, 3);
    const loop = new BatchLoop(llamaBatchModel(ms[0]), tok, soloComm, { batchWaitMs: 5 });
    const events: TokenEvent[][] = REQS.map(() => []);
    const got = await Promise.all(REQS.map((_, i) => loop.submit(req(i, (e) => events[i].push(e)))));
    got.forEach((g, i) => {
      expect({ i, ...strip(g) }).toEqual({ i, ...strip({ ...ref[i].res, seed: 0 }) });
      // The n=2 request's completions run side by side: compare each completion's stream.
      const byIndex = (ev: TokenEvent[]) => [0, 1].map((k) => ev.filter((e) => e.index === k));
      expect(byIndex(events[i])).toEqual(byIndex(ref[i].events));
    });
    // Really batched: up to 3 rows per forward, and fewer forwards than decoded tokens.
    const decoded = ref.reduce((a, r) => a + r.res.outputs.reduce((b, o) => b + o.token_ids.length - 1, 0), 0);
    expect(loop.stats.maxRows).toBe(3);
    expect(loop.stats.steps).toBeLessThan(decoded);
    expect(loop.stats.prefills).toBe(6);
    // A request after the loop went idle runs again; a prompt with no room fails like generate().
    const again = await loop.submit({ ...req(1), key: 99 });
    expect(strip(again)).toEqual(strip(ref[1].res));
    await expect(loop.submit({ ...req(0), key: 100, prompt: 'a '.repeat(60) })).rejects.toThrow(/generate: prompt of \d+ tokens leaves no room/);
    ms[0].destroy();
  });

  it('batchWaitMs: an idle loop waits for companions, so requests arriving just after the first share its first step', async () => {
    const { ms } = await models(1, 3);
    const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
    const firstStep = async (waitMs: number) => {
      const loop = new BatchLoop(llamaBatchModel(ms[0]), tok, soloComm, { batchWaitMs: waitMs });
      const done = [loop.submit({ ...req(0), key: 1 })];
      await sleep(40);
      done.push(loop.submit({ ...req(1), key: 2 }), loop.submit({ ...req(3), key: 3 }));
      await Promise.all(done);
      return loop.stats.rowsPerStep[0];
    };
    expect(await firstStep(400)).toBe(3);
    expect(await firstStep(0)).toBe(1); // no wait: the first request starts alone, the others join later
    ms[0].destroy();
  });

  it('tp=2: ranks receiving requests at different times and a cancel seen by one rank agree step by step', async () => {
    const ref = await alone(2);
    const { ms, comms } = await models(2, 3);
    const loops = ms.map((m, r) => new BatchLoop(llamaBatchModel(m, (p) => comms[r].allReduce(p)), tok, comms[r], { batchWaitMs: 2 }));
    const tick = () => new Promise((r) => setTimeout(r, 3));
    const long = (i: number): BatchRequest => ({ key: 50, prompt: 'Once upon a time', params: samplingParams({ temperature: 0.7, seed: 9, max_tokens: 40 }), seed: 9, onToken: i === 0 ? (e) => { if (e.index === 0 && ++seen === 3) loops[1].cancel(50); } : undefined });
    let seen = 0;
    const r0 = REQS.map((_, i) => loops[0].submit(req(i)));
    const c0 = loops[0].submit(long(0));
    const r1: Promise<GenerateResult>[] = [];
    for (let i = REQS.length - 1; i >= 0; i--) { await tick(); r1[i] = loops[1].submit(req(i)); } // later, other order
    const c1 = loops[1].submit(long(1));
    const [g0, g1, k0, k1] = await Promise.all([Promise.all(r0), Promise.all(r1), c0, c1]);
    g0.forEach((g, i) => expect({ i, ...strip(g) }).toEqual({ i, ...strip(ref[i].res) }));
    expect(g1.map(strip)).toEqual(g0.map(strip));
    expect(k0.outputs[0].finish_reason).toBe('abort');
    expect(k0.outputs[0].token_ids.length).toBeLessThan(40);
    expect(strip(k1)).toEqual(strip(k0));
    expect(loops[0].stats).toEqual(loops[1].stats);
    ms.forEach((m) => m.destroy());
  });
});
