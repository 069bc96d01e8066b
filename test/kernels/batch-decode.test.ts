// Batched decode (continuous batching): the kernels against plain-TS references, and LlamaGpu's
// decodeBatch of several sequences in their own KV-cache slots against separate single-sequence runs
// of the same prompts (the independent reference: LlamaGpu.forward, already checked against the CPU
// model and the golden ids), at tp=1 and tp=2 (partial sums all-reduced over loopback GroupComms).
import { beforeAll, describe, expect, it } from 'vitest';
import { loopbackComms } from '../../src/collectives/loopback';
import * as bd from '../../src/kernels/batch-decode';
import { ropeTable } from '../../src/kernels/rope';
import { readRange } from '../../src/model/gguf';
import { LlamaGpu, type ReduceHook } from '../../src/model/llama';
import { argmax } from '../../src/model/sampling';
import { makeShard } from '../../src/parallel/tp';
import { testGpu } from '../helpers/gpu';
import { loadStories, type LoadedModel } from '../model/models';
import { maxAbsDiff, randArray, rng } from './rand';

async function readF32(buf: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await (await testGpu()).read(buf, n * 4));
}

describe('batched decode kernels', () => {
  it('rope_batch rotates each row by its own position', async () => {
    const gpu = await testGpu();
    const r = rng(7);
    const [nHeads, hd, theta] = [3, 8, 10000];
    const pos = [5, 0, 17, 2]; // [T]
    const x = randArray(r, pos.length * nHeads * hd); // [T, nHeads*hd]
    const buf = gpu.upload(x);
    bd.ropeBatch(gpu, buf, gpu.upload(ropeTable(32, hd, theta)), gpu.upload(Uint32Array.from(pos)), pos.length, nHeads, hd);
    expect(maxAbsDiff(await readF32(buf, x.length), bd.ropeReference(x, nHeads, hd, pos, theta))).toBeLessThan(1e-5);
  });

  for (const impl of ['shared', 'rows'] as const) for (const [nHeads, nKv, hd] of [[4, 2, 8], [2, 1, 64], [3, 3, 6]]) {
    it(`attention_batch (${impl}) heads=${nHeads} kv=${nKv} hd=${hd}`, async () => {
      const gpu = await testGpu();
      const r = rng(nHeads * 10 + hd);
      const kvDim = nKv * hd;
      const maxSeq = 80, slots = 4;
      // Rows in slots out of order, positions from 0 to past one 64-key chunk.
      const rows: bd.BatchRow[] = [{ base: 2 * maxSeq, pos: 70 }, { base: 0, pos: 0 }, { base: 3 * maxSeq, pos: 9 }];
      const q = randArray(r, rows.length * nHeads * hd, 2); // [B, nHeads*hd]
      const kc = randArray(r, slots * maxSeq * kvDim); // [slots*maxSeq, kvDim]
      const vc = randArray(r, slots * maxSeq * kvDim); // [slots*maxSeq, kvDim]
      const kvmap = Array.from({ length: nHeads }, (_, h) => Math.floor((h * nKv) / nHeads));
      const out = gpu.alloc(rows.length * nHeads * hd * 4); // [B, nHeads*hd]
      const shape = { nHeads, headDim: hd, kvDim };
      bd.attentionBatch(gpu, gpu.upload(q), gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap)),
        gpu.upload(bd.packRows(rows)), out, rows.length, shape, impl);
      const want = bd.attentionReference(q, kc, vc, kvmap, rows, shape);
      expect(maxAbsDiff(await readF32(out, q.length), want)).toBeLessThan(1e-5);
    });
  }
});

/** tp ranks of stories260K, each reduce hook an all-reduce over loopback GroupComms. */
async function ranks(m: LoadedModel, tp: number, opts: { maxSeqLen: number; maxSlots?: number }): Promise<{ models: LlamaGpu[]; hooks: (ReduceHook | undefined)[] }> {
  const gpu = await testGpu();
  const shards = await Promise.all(Array.from({ length: tp }, (_, r) => makeShard(m.index, (s, e) => readRange(m.buf, s, e), r, tp)));
  const models = await Promise.all(shards.map((s) => LlamaGpu.load(gpu, s, opts)));
  const comms = tp > 1 ? loopbackComms(tp) : [];
  return { models, hooks: models.map((_, r) => (tp > 1 ? (p: Float32Array) => comms[r].allReduce(p) : undefined)) };
}

/** Full logits rows [B, vocab] from each rank's [B, vocabLocal] (vocab-parallel head). */
function gatherRows(parts: Float32Array[], B: number): Float32Array[] {
  return Array.from({ length: B }, (_, b) => {
    const pieces = parts.map((p) => { const n = p.length / B; return p.subarray(b * n, (b + 1) * n); });
    const row = new Float32Array(pieces.reduce((a, x) => a + x.length, 0)); // [vocab]
    let o = 0;
    for (const x of pieces) { row.set(x, o); o += x.length; }
    return row;
  });
}

describe('LlamaGpu.decodeBatch on stories260K', () => {
  let stories: LoadedModel;
  beforeAll(async () => {
    stories = await loadStories();
  });
  // Three prompts of different lengths (so every row sits at its own position), then a refill: the
  // sequence in slot 2 is replaced mid-run by a fourth prompt, prefilled into the same slot.
  const PROMPTS = [[1, 403, 407, 261], [1], [1, 300, 31, 48, 200, 9, 77], [1, 65, 66]];
  const STEPS = 6;
  const REFILL_AT = 3; // after this many batched steps slot 2's sequence ends and prompt 3 takes its slot

  /** Single-sequence runs (forward, slot 0 of its own model): greedy logits per decode step. */
  async function alone(tp: number, prompt: number[], steps: number): Promise<{ logits: Float32Array[]; ids: number[] }> {
    const { models, hooks } = await ranks(stories, tp, { maxSeqLen: 32 });
    const fwd = async (t: Int32Array, pos: number) => gatherRows(await Promise.all(models.map((m, r) => m.forward(t, pos, hooks[r]))), 1)[0];
    let logits = await fwd(Int32Array.from(prompt), 0);
    const out = { logits: [logits], ids: [argmax(logits)] };
    for (let i = 0; i < steps; i++) {
      logits = await fwd(Int32Array.of(out.ids[i]), prompt.length + i);
      out.logits.push(logits);
      out.ids.push(argmax(logits));
    }
    for (const m of models) m.destroy();
    return out;
  }

  for (const [tp, impl] of [[1, 'rows'], [1, 'tiled'], [1, 'gemv-batch'], [2, undefined]] as const) {
    it(`B=3 sequences in slots equal three single runs, with a refill (tp=${tp}${impl ? `, ${impl} matmuls` : ''})`, async () => {
      const refs = await Promise.all(PROMPTS.map((p, i) => alone(tp, p, i === 2 ? REFILL_AT : STEPS)));
      const { models, hooks } = await ranks(stories, tp, { maxSeqLen: 32, maxSlots: 4 });
      const all = (f: (m: LlamaGpu, r: number) => Promise<Float32Array>) => Promise.all(models.map(f));
      // seq -> slot: slots 3, 0, 2 (not in order, slot 1 left empty); seq 3 later refills slot 2.
      const slotOf = [3, 0, 2, 2];
      const state = new Map<number, { ids: number[]; logits: Float32Array[] }>(); // seq -> outputs
      const prefill = async (seq: number) => {
        for (const m of models) m.reset(slotOf[seq]);
        const l = gatherRows(await all((m, r) => m.forward(Int32Array.from(PROMPTS[seq]), 0, hooks[r], slotOf[seq])), 1)[0];
        state.set(seq, { ids: [argmax(l)], logits: [l] });
      };
      for (const seq of [0, 1, 2]) await prefill(seq);
      let active = [0, 1, 2];
      for (let step = 0; step < STEPS + REFILL_AT; step++) {
        if (step === REFILL_AT) {
          active = active.filter((s) => s !== 2); // seq 2 is done: its slot is refilled at this step
          await prefill(3);
          active.push(3);
        }
        active = active.filter((s) => state.get(s)!.ids.length <= STEPS);
        if (!active.length) break;
        const rows = active.map((s) => { const st = state.get(s)!; return { slot: slotOf[s], token: st.ids.at(-1)!, pos: PROMPTS[s].length + st.ids.length - 1 }; });
        const got = gatherRows(await all((m, r) => m.decodeBatch(rows, hooks[r], impl)), rows.length);
        active.forEach((s, b) => { state.get(s)!.logits.push(got[b]); state.get(s)!.ids.push(argmax(got[b])); });
      }
      for (const [seq, ref] of refs.entries()) {
        const st = state.get(seq)!;
        expect(st.ids).toEqual(ref.ids);
        const worst = Math.max(...ref.logits.map((l, i) => maxAbsDiff(st.logits[i], l)));
        expect(worst).toBeLessThan(1e-4);
      }
      await expect(models[0].decodeBatch([{ slot: 0, token: 1, pos: 0 }], hooks[0])).rejects.toThrow(/pos 0 but slot 0/);
      for (const m of models) m.destroy();
    });
  }
});
