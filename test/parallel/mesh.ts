// In-process tensor-parallel mesh for tests: one LlamaCpu per rank, run concurrently, with a reduce hook
// that waits for every rank's partial (a promise barrier) and hands each the elementwise sum.
import type { Comm, ReduceWire } from '../../src/collectives/types';
import { readRange } from '../../src/model/gguf';
import { LlamaCpu } from '../../src/model/reference';
import { makeShard } from '../../src/parallel/tp';
import type { LoadedModel } from '../model/models';

export class SumBarrier {
  private parts: Float32Array[] = [];
  private waiters: ((sum: Float32Array) => void)[] = [];
  calls = 0;
  constructor(readonly size: number) {}

  reduce(partial: Float32Array): Promise<Float32Array> {
    return new Promise((resolve) => {
      this.parts.push(partial);
      this.waiters.push(resolve);
      if (this.parts.length < this.size) return;
      const sum = new Float32Array(partial.length); // [T*dim]
      for (const p of this.parts) {
        if (p.length !== sum.length) throw new Error('reduce: ranks disagree on the partial size');
        for (let i = 0; i < sum.length; i++) sum[i] += p[i];
      }
      const ws = this.waiters;
      this.parts = [];
      this.waiters = [];
      this.calls++;
      for (const w of ws) w(sum.slice());
    });
  }
}

export class CpuMesh {
  private constructor(
    readonly ranks: LlamaCpu[],
    private readonly barrier: SumBarrier,
    private readonly comms?: { comms: Comm[]; prefillWire: ReduceWire },
  ) {}

  /** comms: reduce through these real collectives instead of the in-process barrier, prefills (more than one
   *  token) with `prefillWire`, single-token steps f32 (as LlmEngine does). */
  static async create(m: LoadedModel, tp: number, maxSeqLen: number, comms?: { comms: Comm[]; prefillWire: ReduceWire }): Promise<CpuMesh> {
    const shards = await Promise.all(
      Array.from({ length: tp }, (_, r) => makeShard(m.index, (s, e) => readRange(m.buf, s, e), r, tp)),
    );
    return new CpuMesh(
      shards.map((s) => new LlamaCpu(s, maxSeqLen)),
      new SumBarrier(tp),
      comms,
    );
  }

  get reduceCalls(): number {
    return this.barrier.calls;
  }

  /** Full logits [vocab]: every rank's vocab slice, concatenated in rank order. */
  async forward(tokens: Int32Array, pos: number): Promise<Float32Array> {
    const tp = this.ranks.length;
    const parts = await Promise.all(
      this.ranks.map((m, r) => {
        const c = this.comms;
        const reduce = c ? (p: Float32Array) => c.comms[r].allReduce(p, tokens.length > 1 ? c.prefillWire : 'f32') : (p: Float32Array) => this.barrier.reduce(p);
        return m.forward(tokens, pos, tp > 1 ? reduce : undefined);
      }),
    );
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0)); // [vocab]
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  reset(): void {
    for (const m of this.ranks) m.reset();
  }
}
