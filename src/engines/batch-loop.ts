// Continuous batching (vLLM / Orca style) on one replica: the loop owns the model's KV-cache slots,
// admits a request's completions into free slots (one prefill each), then advances every active
// sequence together with ONE batched decode per step; a finished sequence frees its slot and the
// next waiting completion takes it at the next step. Sampling, stop handling and streaming are
// exactly generate.ts's (Philox keyed by (seed, completion index, step)), and the batched forward
// gives a row the same logits whatever its companions (see LlamaGpu.decodeBatch), so a request's
// text is the same whether it ran alone or batched.
//
// Ranks agree in-band. With tp > 1 every rank must run the same forwards (same slots, same rows) or
// the all-reduces inside them would pair up wrong. Everything the loop decides follows from the
// gathered logits (identical on every rank) except two inputs that reach ranks at different times:
// new requests (the coordinator sends the same job to every rank, over separate connections) and
// cancels. So every logits allGather carries a small control block from each rank: the keys of the
// requests it holds and whether each is cancelled there; an idle loop sends the block alone. After
// each exchange every rank computes the same agreed view: a request is admissible once EVERY rank
// holds it (admitted in key order), and cancelled once ANY rank cancelled it. No rank leads, no extra
// round trip while decoding, and the coordinator needs no knowledge of the replica's step count.
import type { Comm } from '../collectives/types';
import type { DecodeRow, LlamaGpu, ReduceHook } from '../model/llama';
import { sampleToken, type SamplingParams } from '../model/sampling';
import { LlamaTokenizer, StreamDecoder } from '../model/tokenizer';
import type { CompletionOutput, GenerateResult, TokenEvent } from './generate';

/** What the loop needs of a model rank (LlamaGpu with its reduce hook bound). */
export interface BatchModel {
  readonly maxSlots: number;
  readonly maxSeqLen: number;
  /** Prefills `tokens` into `slot` from position 0; this rank's logits of the last token [vocabLocal]. */
  prefill(slot: number, tokens: Int32Array): Promise<Float32Array>;
  /** One batched decode step; this rank's logits [B, vocabLocal]. */
  decode(rows: DecodeRow[]): Promise<Float32Array>;
}

/** A rank with KV slots and a batched decode: LlamaGpu, or LlamaOrt (src/model/ort) loaded with maxSlots. */
export type SlotModel = Pick<LlamaGpu, 'maxSlots' | 'maxSeqLen'> & {
  reset(slot: number): void;
  forward(tokens: Int32Array, pos: number, reduce: ReduceHook | undefined, slot: number): Promise<Float32Array>;
  decodeBatch(rows: DecodeRow[], reduce?: ReduceHook): Promise<Float32Array>;
};

/** A LlamaGpu (or LlamaOrt) rank as a BatchModel; `reduce` is the tensor-parallel all-reduce (none at tp=1). */
export function llamaBatchModel(m: SlotModel, reduce?: ReduceHook, prefillReduce: ReduceHook | undefined = reduce): BatchModel {
  return {
    maxSlots: m.maxSlots,
    maxSeqLen: m.maxSeqLen,
    prefill: (slot, tokens) => {
      m.reset(slot); // the slot's previous sequence is over: its rows are overwritten before they are read
      return m.forward(tokens, 0, tokens.length > 1 ? prefillReduce : reduce, slot);
    },
    decode: (rows) => m.decodeBatch(rows, reduce),
  };
}

export interface BatchRequest {
  /** Identifies the request on every rank (the coordinator's job number); lower keys are admitted first. < 2^24. */
  key: number;
  prompt: string;
  /** Token ids to use instead of encoding `prompt` (a chat prompt rendered and tokenized with parseSpecial). */
  promptIds?: Int32Array;
  params: SamplingParams; // with tp > 1 the seed must be set (the coordinator fixes it)
  seed: number;
  onToken?: (ev: TokenEvent) => void;
}

export interface BatchLoopOptions {
  /** An idle loop waits this long after a first request for companions before starting a batch. */
  batchWaitMs?: number;
}

interface Entry {
  req: BatchRequest;
  promptIds: Int32Array; // [P]
  maxLen: number;
  holdBack: number;
  stopIds: Set<number>;
  outputs: CompletionOutput[];
  admitted: number; // completions started (0..n)
  finished: number;
  cancelled: boolean; // cancelled on this rank (the agreed view is `agreedCancel`)
  timings: { prefill_ms: number; decode_ms: number };
  resolve: (r: GenerateResult) => void;
  reject: (e: Error) => void;
}

interface Seq {
  entry: Entry;
  out: CompletionOutput;
  slot: number;
  dec: StreamDecoder;
  text: string;
  emitted: number;
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class BatchLoop {
  private entries = new Map<number, Entry>(); // key -> request held on this rank, not yet finished
  private slots: (Seq | null)[];
  private agreedPresent: number[] = []; // keys every rank holds, ascending (after the last exchange)
  private agreedCancel = new Set<number>(); // keys some rank cancelled
  private wake: (() => void) | null = null;
  private running = false;
  private broken: Error | null = null;
  /** Batched decode steps run and the rows they carried (for tests and stats). */
  readonly stats = { steps: 0, rows: 0, prefills: 0, maxRows: 0, rowsPerStep: [] as number[] /* first 256 steps */ };

  constructor(
    private readonly model: BatchModel,
    private readonly tokenizer: LlamaTokenizer,
    private readonly comm: Comm,
    private readonly opts: BatchLoopOptions = {},
  ) {
    this.slots = new Array<Seq | null>(model.maxSlots).fill(null);
  }

  /** Sequences decoding now. */
  get active(): number {
    return this.slots.filter(Boolean).length;
  }

  /** Whether any request is held (waiting or running). */
  get busy(): boolean {
    return this.entries.size > 0;
  }

  /** Queues a request; resolves with generate()'s result once all its n completions finish. */
  submit(req: BatchRequest): Promise<GenerateResult> {
    if (this.broken) return Promise.reject(this.broken);
    if (!Number.isInteger(req.key) || req.key < 0 || req.key >= 2 ** 24 || this.entries.has(req.key)) {
      return Promise.reject(new Error(`batch: bad or duplicate request key ${req.key}`));
    }
    // The same checks and messages as generate(): they depend only on the request, so every rank
    // rejects it alike and it never enters the agreed state.
    const params = req.params;
    const promptIds = req.promptIds ?? this.tokenizer.encode(req.prompt); // [P]
    if (promptIds.length === 0) return Promise.reject(new Error('generate: empty prompt and no BOS: nothing to condition on'));
    const maxLen = Math.min(params.max_tokens, this.model.maxSeqLen - promptIds.length);
    if (maxLen < 1) return Promise.reject(new Error(`generate: prompt of ${promptIds.length} tokens leaves no room in ${this.model.maxSeqLen} positions`));
    return new Promise<GenerateResult>((resolve, reject) => {
      this.entries.set(req.key, {
        req, promptIds, maxLen, holdBack: params.stop.reduce((m, s) => Math.max(m, s.length - 1), 0),
        stopIds: new Set(params.stop_token_ids), outputs: [], admitted: 0, finished: 0, cancelled: false,
        timings: { prefill_ms: 0, decode_ms: 0 }, resolve, reject,
      });
      this.poke();
    });
  }

  /** Cancels a request on this rank; every rank stops it at the same step (see the header). */
  cancel(key: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.cancelled = true;
    this.poke();
  }

  /** Fails every held request and refuses new ones (a broken collective, a model being unloaded). */
  close(err: Error): void {
    this.broken ??= err;
    for (const e of this.entries.values()) e.reject(err);
    this.entries.clear();
    this.slots.fill(null);
    this.wake?.();
  }

  private poke(): void {
    if (this.wake) {
      const w = this.wake;
      this.wake = null;
      w();
    }
    if (!this.running) {
      this.running = true;
      void this.pump();
    }
  }

  /**
   * Runs steps while any request is held; returns when none is (the next submit restarts it).
   * `running` is cleared synchronously with the final check, so a submit never finds a pump that is
   * about to exit without seeing its request.
   */
  private async pump(): Promise<void> {
    try {
      await this.loop();
    } catch (e) {
      this.running = false;
      this.close(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.broken || this.entries.size === 0) {
        this.running = false;
        return;
      }
      if (this.active === 0) {
        // Idle: give companions batchWaitMs to arrive (unless enough already wait), then agree on
        // what every rank holds with a control-only exchange.
        const wait = this.opts.batchWaitMs ?? 0;
        const waiting = [...this.entries.values()].reduce((n, e) => n + e.req.params.n - e.admitted, 0);
        if (wait > 0 && waiting < this.slots.length) await sleep(wait);
        if (this.broken) return;
        await this.exchange(new Float32Array(0));
        const cancels = this.agreedPresent.some((k) => this.agreedCancel.has(k) && this.entries.has(k));
        if (!this.admitPlan().length && !cancels) {
          // Nothing admissible yet (another rank has not received the request): wait for news.
          if (this.comm.size > 1) await sleep(2);
          else await new Promise<void>((r) => (this.wake = r));
          continue;
        }
      }
      await this.step();
    }
  }

  /** Completions to start now: agreed, not cancelled, in key order, one per free slot. */
  private admitPlan(): { entry: Entry; slot: number }[] {
    const free = this.slots.flatMap((s, i) => (s ? [] : [i]));
    const plan: { entry: Entry; slot: number }[] = [];
    for (const key of this.agreedPresent) {
      const e = this.entries.get(key);
      if (!e || this.agreedCancel.has(key)) continue;
      for (let k = e.admitted; k < e.req.params.n && free.length; k++) plan.push({ entry: e, slot: free.shift()! });
    }
    return plan;
  }

  /** One step: settle agreed cancels, admit into free slots (prefill each), then one batched decode. */
  private async step(): Promise<void> {
    // Completions of a cancelled request that never started end with 'abort' and no tokens (as generate()).
    for (const key of this.agreedPresent) {
      const e = this.entries.get(key);
      if (!e || !this.agreedCancel.has(key)) continue;
      while (e.admitted < e.req.params.n) {
        e.outputs.push({ index: e.admitted++, text: '', token_ids: [], finish_reason: 'abort' });
        this.finishSeq(e);
      }
    }
    for (const { entry: e, slot } of this.admitPlan()) {
      const index = e.admitted++;
      const out: CompletionOutput = { index, text: '', token_ids: [], finish_reason: 'length' };
      e.outputs.push(out);
      const seq: Seq = {
        entry: e, out, slot, text: '', emitted: 0,
        // The space SentencePiece puts before the first word is dropped right after BOS (llama.cpp does too).
        dec: new StreamDecoder(this.tokenizer, { stripLeadingSpace: e.promptIds.length === 1 && e.promptIds[0] === this.tokenizer.bos }),
      };
      this.slots[slot] = seq;
      const t0 = now();
      const [logits] = await this.exchange(await this.model.prefill(slot, e.promptIds), 1); // [vocab]
      e.timings.prefill_ms += now() - t0;
      this.stats.prefills++;
      this.advance(seq, logits);
    }
    const live = this.slots.filter((s): s is Seq => s !== null); // slot order
    if (!live.length) return;
    const rows: DecodeRow[] = live.map((s) => ({ slot: s.slot, token: s.out.token_ids.at(-1)!, pos: s.entry.promptIds.length + s.out.token_ids.length - 1 }));
    const t0 = now();
    const logits = await this.exchange(await this.model.decode(rows), rows.length); // B x [vocab]
    const dt = now() - t0;
    this.stats.steps++;
    this.stats.rows += rows.length;
    this.stats.maxRows = Math.max(this.stats.maxRows, rows.length);
    if (this.stats.rowsPerStep.length < 256) this.stats.rowsPerStep.push(rows.length);
    live.forEach((s, b) => {
      s.entry.timings.decode_ms += dt;
      this.advance(s, logits[b]);
    });
  }

  /**
   * Gathers every rank's vocab slice of B logits rows and its control block; returns the full rows
   * [vocab] each and updates the agreed view. Block: [key, cancelled] per held request, then the count.
   */
  private async exchange(local: Float32Array, B = 0): Promise<Float32Array[]> {
    const held = [...this.entries.values()];
    const msg = new Float32Array(local.length + 2 * held.length + 1); // [B*vocabLocal + 2*held + 1]
    msg.set(local);
    held.forEach((e, i) => {
      msg[local.length + 2 * i] = e.req.key;
      msg[local.length + 2 * i + 1] = e.cancelled ? 1 : 0;
    });
    msg[msg.length - 1] = held.length;
    const parts = this.comm.size > 1 ? await this.comm.allGather(msg) : [msg]; // tp x [..]
    const count = new Map<number, number>();
    this.agreedCancel = new Set();
    const slices: Float32Array[] = [];
    for (const p of parts) {
      const n = p[p.length - 1];
      const ctl = p.length - 1 - 2 * n;
      if (!(n >= 0 && ctl >= 0) || (B > 0 && ctl % B !== 0)) throw new Error('batch: malformed control block from a rank');
      slices.push(p.subarray(0, ctl));
      for (let i = 0; i < n; i++) {
        const key = p[ctl + 2 * i];
        count.set(key, (count.get(key) ?? 0) + 1);
        if (p[ctl + 2 * i + 1] !== 0) this.agreedCancel.add(key);
      }
    }
    this.agreedPresent = [...count].filter(([, c]) => c === parts.length).map(([k]) => k).sort((a, b) => a - b);
    return Array.from({ length: B }, (_, b) => {
      const row = new Float32Array(slices.reduce((a, s) => a + s.length / B, 0)); // [vocab]
      let o = 0;
      for (const s of slices) {
        const n = s.length / B;
        row.set(s.subarray(b * n, (b + 1) * n), o);
        o += n;
      }
      return row;
    });
  }

  /** Samples the sequence's next token from its logits and applies generate()'s stop rules. */
  private advance(s: Seq, logits: Float32Array): void {
    const e = s.entry;
    const params = e.req.params;
    const out = s.out;
    const step = out.token_ids.length;
    const id = sampleToken(logits, params, e.req.seed, out.index, step);
    out.token_ids.push(id);
    let done = false;
    let cut = false; // ended by a stop string: the text after it is dropped
    if ((id === this.tokenizer.eos && !params.ignore_eos) || e.stopIds.has(id)) {
      out.finish_reason = 'stop';
      if (id !== this.tokenizer.eos) out.stop_reason = id;
      done = true;
    } else {
      const prevLen = s.text.length;
      s.text += s.dec.push(id);
      const from = Math.max(0, prevLen - e.holdBack);
      let at = -1;
      for (const stop of params.stop) {
        const i = s.text.indexOf(stop, from);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          out.stop_reason = stop;
        }
      }
      if (at >= 0) {
        s.text = s.text.slice(0, at);
        out.finish_reason = 'stop';
        done = cut = true;
      }
    }
    if (!done && out.token_ids.length >= e.maxLen) done = true; // finish_reason stays 'length'
    if (!done && this.agreedCancel.has(e.req.key)) {
      out.finish_reason = 'abort';
      done = true;
    }
    if (done && !cut) s.text += s.dec.flush(); // bytes of an unfinished character, if any
    const visible = done ? s.text.length : Math.max(s.emitted, s.text.length - e.holdBack);
    e.req.onToken?.({ index: out.index, tokenId: id, text: s.text.slice(s.emitted, visible) });
    s.emitted = visible;
    if (!done) return;
    out.text = s.text;
    this.slots[s.slot] = null; // refilled at the next step
    this.finishSeq(e);
  }

  private finishSeq(e: Entry): void {
    if (++e.finished < e.req.params.n) return;
    this.entries.delete(e.req.key);
    e.outputs.sort((a, b) => a.index - b.index);
    e.resolve({
      outputs: e.outputs,
      usage: { prompt_tokens: e.promptIds.length, completion_tokens: e.outputs.reduce((a, o) => a + o.token_ids.length, 0) },
      timings: e.timings,
      seed: e.req.seed,
    });
  }
}
