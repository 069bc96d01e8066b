// Llama forward of one tensor-parallel rank on ONNX Runtime Web (wasm, or webgpu in the browser):
// the same surface and the same two reduce points per layer as LlamaGpu, so a peer without WebGPU
// can join a tensor-parallel group of WGSL peers. Graph layout and KV handling: see llama-graph.ts.
// The KV cache lives in JS ([maxSlots * maxSeqLen, kvDim] per layer, like LlamaGpu's GPU buffers);
// each step feeds the filled rows [0, pos) and appends the rows the graph returns.
// Continuous batching (decodeBatch, LlamaGpu's contract): B rows of different slots at different
// positions go through the SAME per-layer pieces as one [B, dim] batch, so each reduce point carries
// [B*dim] once. Attention needs no new graph: the pieces attend over [past ; new] with an additive
// mask, so the past fed is the concatenation of the rows' slot caches and the mask lets row b see
// only its own slot's segment and its own new key (exp(-inf) = 0: the other segments add exact zeros).
import type { ModelShard } from '../types';
import { checkDecodeRows, type DecodeRow, type ReduceHook, type ShardModel } from '../shard-model';
import { buildAttnPiece, buildFusedGraph, buildHeadPiece, buildMlpPiece, IO, type BuiltGraph } from './llama-graph';
import { configureOrt, createSession, ort, type OrtBackend } from './ort-env';

export interface LlamaOrtOptions {
  maxSeqLen: number; // per slot
  /** KV-cache slots (sequences) for decodeBatch; default 1. More than one builds the per-layer pieces. */
  maxSlots?: number;
  backend: OrtBackend;
  /** wasm threads (browser only; Node always uses 1). Applied by the first load in this realm. */
  numThreads?: number;
  /** Where ORT fetches its .wasm files (browser), when its default location does not serve them. */
  wasmPaths?: string;
  /**
   * Run the per-layer pieces even at tp = 1 (default: pieces when shard.tp > 1 or maxSlots > 1). Without a
   * reduce hook each partial is used as its own sum, which is the tp = 1 model.
   */
  split?: boolean;
}

type Session = ort.InferenceSession;
type Feeds = Record<string, ort.Tensor>;

interface Pieces {
  attn: Session[]; // per layer
  mlp: Session[]; // per layer
  head: Session; // logits of the last row [1, vocabLocal]
  headRows: Session | null; // logits of every row [T, vocabLocal] (decodeBatch; built when maxSlots > 1)
}

/** One row of a batched decode (the shared DecodeRow of ../shard-model). */
export type OrtDecodeRow = DecodeRow;

export class LlamaOrt implements ShardModel {
  /** Positions filled in each slot's KV cache (the next forward of that slot must start there). */
  readonly lengths: number[];
  private destroyed = false;

  /** Slot 0's length: the single-sequence API (forward without a slot) uses slot 0. */
  get length(): number {
    return this.lengths[0];
  }

  set length(v: number) {
    this.lengths[0] = v;
  }

  private constructor(
    readonly shard: ModelShard,
    readonly maxSeqLen: number,
    readonly maxSlots: number,
    readonly backend: OrtBackend,
    private readonly fused: Session | null,
    private readonly pieces: Pieces | null,
    private readonly kCache: Float32Array[], // per layer [maxSlots * maxSeqLen, kvDim]: slot s owns rows [s*maxSeqLen, (s+1)*maxSeqLen)
    private readonly vCache: Float32Array[], // per layer [maxSlots * maxSeqLen, kvDim]
    private readonly ropeCos: Float32Array, // [maxSeqLen, headDim]: pair i's value at columns 2i, 2i+1
    private readonly ropeSin: Float32Array, // [maxSeqLen, headDim]
    private readonly weightBytesTotal: number,
  ) {
    this.lengths = new Array<number>(maxSlots).fill(0);
  }

  /** Builds the graphs (weights dequantized to f32 inside them) and their sessions; allocates the KV cache. */
  static async load(shard: ModelShard, opts: LlamaOrtOptions): Promise<LlamaOrt> {
    const c = shard.config;
    const maxSeqLen = opts.maxSeqLen;
    const maxSlots = opts.maxSlots ?? 1;
    if (!Number.isInteger(maxSeqLen) || maxSeqLen < 1) throw new Error(`maxSeqLen ${maxSeqLen}`);
    if (!Number.isInteger(maxSlots) || maxSlots < 1) throw new Error(`maxSlots ${maxSlots}`);
    configureOrt({ numThreads: opts.numThreads, wasmPaths: opts.wasmPaths });
    let wBytes = 0;
    const sessions: Session[] = [];
    // One graph at a time: its bytes (a full copy of its weights) can be dropped once ORT has them.
    const session = async (build: () => BuiltGraph): Promise<Session> => {
      const g = build();
      wBytes += g.weightBytes;
      const s = await createSession(g.bytes, opts.backend);
      sessions.push(s);
      return s;
    };
    const split = opts.split ?? (shard.tp > 1 || maxSlots > 1);
    if (maxSlots > 1 && !split) throw new Error('LlamaOrt: maxSlots > 1 needs the per-layer pieces (split)');
    try {
      let fused: Session | null = null;
      let pieces: Pieces | null = null;
      if (!split) {
        fused = await session(() => buildFusedGraph(shard));
      } else {
        const attn: Session[] = [];
        const mlp: Session[] = [];
        for (let l = 0; l < c.nLayers; l++) {
          attn.push(await session(() => buildAttnPiece(shard, l)));
          mlp.push(await session(() => buildMlpPiece(shard, l)));
        }
        const head = await session(() => buildHeadPiece(shard));
        const headRows = maxSlots > 1 ? await session(() => buildHeadPiece(shard, true)) : null;
        pieces = { attn, mlp, head, headRows };
      }
      const kvDim = shard.nKvHeadsLocal * c.headDim;
      const kCache = shard.layers.map(() => new Float32Array(maxSlots * maxSeqLen * kvDim)); // [maxSlots*maxSeqLen, kvDim]
      const vCache = shard.layers.map(() => new Float32Array(maxSlots * maxSeqLen * kvDim)); // [maxSlots*maxSeqLen, kvDim]
      const [cos, sin] = ropeTables(maxSeqLen, c.headDim, c.ropeTheta);
      return new LlamaOrt(shard, maxSeqLen, maxSlots, opts.backend, fused, pieces, kCache, vCache, cos, sin, wBytes);
    } catch (e) {
      for (const s of sessions) void s.release().catch(() => undefined);
      throw e;
    }
  }

  weightBytes(): number {
    return this.weightBytesTotal;
  }

  kvBytes(): number {
    return this.kCache.reduce((n, k) => n + k.byteLength, 0) * 2;
  }

  /**
   * Runs tokens at positions [pos, pos+T) of `slot` (default 0), appending to its KV cache. With the
   * per-layer pieces, `reduce` receives the [T*dim] partial sums after wo and after w_down (twice per
   * layer) and returns their sum over ranks. Returns this rank's logits of the last token: [vocabLocal].
   */
  async forward(tokens: Int32Array, pos: number, reduce?: ReduceHook, slot = 0): Promise<Float32Array> {
    if (this.destroyed) throw new Error('forward: model destroyed');
    const s = this.shard;
    const c = s.config;
    const T = tokens.length;
    if (T === 0) throw new Error('forward: no tokens');
    if (!(slot >= 0 && slot < this.maxSlots)) throw new Error(`forward: slot ${slot} of ${this.maxSlots}`);
    if (pos !== this.lengths[slot]) throw new Error(`forward: pos ${pos} but the cache holds ${this.lengths[slot]} positions`);
    if (pos + T > this.maxSeqLen) throw new Error(`forward: ${pos + T} positions exceed maxSeqLen ${this.maxSeqLen}`);
    for (const id of tokens) if (id < 0 || id >= c.vocabSize) throw new RangeError(`token id ${id} out of range`);
    if (reduce && !this.pieces) throw new Error('forward: this model runs one fused graph (tp = 1); load it with split: true to reduce');
    const kvDim = s.nKvHeadsLocal * c.headDim;
    const hd = c.headDim;
    const S = pos + T;
    const base = slot * this.maxSeqLen * kvDim; // first float of the slot's rows
    const common: Feeds = {
      [IO.cos]: new ort.Tensor('float32', this.ropeCos.subarray(pos * hd, S * hd), [T, 1, hd]),
      [IO.sin]: new ort.Tensor('float32', this.ropeSin.subarray(pos * hd, S * hd), [T, 1, hd]),
      [IO.mask]: new ort.Tensor('float32', causalMask(T, pos), [T, S]),
    };
    // Past rows [0, pos) of the slot in layer l's cache (a view: ORT copies inputs into its heap anyway).
    const past = (l: number): Feeds => ({
      [IO.pastK(l)]: new ort.Tensor('float32', this.kCache[l].subarray(base, base + pos * kvDim), [pos, kvDim]),
      [IO.pastV(l)]: new ort.Tensor('float32', this.vCache[l].subarray(base, base + pos * kvDim), [pos, kvDim]),
    });
    const append = (l: number, out: ort.InferenceSession.OnnxValueMapType) => {
      this.kCache[l].set(floats(out[IO.newK(l)]), base + pos * kvDim); // [T, kvDim] -> slot rows [pos, S)
      this.vCache[l].set(floats(out[IO.newV(l)]), base + pos * kvDim);
    };
    const logits = await this.run(tokens, common, past, append, reduce, false); // [vocabLocal]
    this.lengths[slot] = S;
    return logits;
  }

  /**
   * One decode step of B sequences, each in its own slot at its own position (rows[b].pos must be the
   * slot's length): the pieces run once over [B, dim], so `reduce` gets [B*dim] partial sums twice
   * per layer whatever B is (LlamaGpu.decodeBatch's contract). Returns this rank's logits
   * [B, vocabLocal], row b for rows[b].
   */
  async decodeBatch(rows: OrtDecodeRow[], reduce?: ReduceHook): Promise<Float32Array> {
    if (this.destroyed) throw new Error('decodeBatch: model destroyed');
    const P = this.pieces;
    // One slot (serving with max_batch_size 1): a batch is always one row, which is exactly a
    // one-token forward (same reduce contract: one [1*dim] call per layer-point, logits [1, vocabLocal]).
    if (this.maxSlots === 1 && rows.length === 1) return this.forward(Int32Array.of(rows[0].token), rows[0].pos, reduce, rows[0].slot);
    if (!P?.headRows) throw new Error('decodeBatch: load the model with maxSlots > 1');
    const s = this.shard;
    const c = s.config;
    const B = rows.length;
    checkDecodeRows(rows, this.lengths, this.maxSlots, this.maxSeqLen);
    for (const r of rows) if (r.token < 0 || r.token >= c.vocabSize) throw new RangeError(`token id ${r.token} out of range`);
    const kvDim = s.nKvHeadsLocal * c.headDim;
    const hd = c.headDim;
    const offs: number[] = []; // row b's segment starts at offs[b] in the concatenated past
    let Ptot = 0;
    for (const r of rows) {
      offs.push(Ptot);
      Ptot += r.pos;
    }
    const S = Ptot + B; // keys: [all rows' pasts ; B new rows]
    const cos = new Float32Array(B * hd); // [B, 1, hd]: each row at its own position
    const sin = new Float32Array(B * hd);
    const mask = new Float32Array(B * S).fill(-Infinity); // [B, S]
    rows.forEach((r, b) => {
      cos.set(this.ropeCos.subarray(r.pos * hd, (r.pos + 1) * hd), b * hd);
      sin.set(this.ropeSin.subarray(r.pos * hd, (r.pos + 1) * hd), b * hd);
      mask.fill(0, b * S + offs[b], b * S + offs[b] + r.pos); // its own slot's past
      mask[b * S + Ptot + b] = 0; // and its own new key
    });
    const common: Feeds = {
      [IO.cos]: new ort.Tensor('float32', cos, [B, 1, hd]),
      [IO.sin]: new ort.Tensor('float32', sin, [B, 1, hd]),
      [IO.mask]: new ort.Tensor('float32', mask, [B, S]),
    };
    const gather = (cache: Float32Array): Float32Array => {
      const out = new Float32Array(Ptot * kvDim); // [Ptot, kvDim]
      rows.forEach((r, b) => {
        const base = r.slot * this.maxSeqLen * kvDim;
        out.set(cache.subarray(base, base + r.pos * kvDim), offs[b] * kvDim);
      });
      return out;
    };
    const past = (l: number): Feeds => ({
      [IO.pastK(l)]: new ort.Tensor('float32', gather(this.kCache[l]), [Ptot, kvDim]),
      [IO.pastV(l)]: new ort.Tensor('float32', gather(this.vCache[l]), [Ptot, kvDim]),
    });
    const append = (l: number, out: ort.InferenceSession.OnnxValueMapType) => {
      const k = floats(out[IO.newK(l)]); // [B, kvDim]
      const v = floats(out[IO.newV(l)]); // [B, kvDim]
      rows.forEach((r, b) => {
        const dst = (r.slot * this.maxSeqLen + r.pos) * kvDim;
        this.kCache[l].set(k.subarray(b * kvDim, (b + 1) * kvDim), dst);
        this.vCache[l].set(v.subarray(b * kvDim, (b + 1) * kvDim), dst);
      });
    };
    const logits = await this.run(Int32Array.from(rows, (r) => r.token), common, past, append, reduce, true); // [B, vocabLocal]
    for (const r of rows) this.lengths[r.slot] = r.pos + 1;
    return logits;
  }

  /** The graphs over T rows: fused, or the pieces with `reduce` between them; `allRows`: logits of every row. */
  private async run(tokens: Int32Array, common: Feeds, past: (l: number) => Feeds,
    append: (l: number, out: ort.InferenceSession.OnnxValueMapType) => void, reduce: ReduceHook | undefined, allRows: boolean): Promise<Float32Array> {
    const c = this.shard.config;
    const T = tokens.length;
    const tokenFeed = { [IO.tokens]: new ort.Tensor('int32', Int32Array.from(tokens), [T]) };
    if (this.fused) {
      const feeds: Feeds = { ...common, ...tokenFeed };
      for (let l = 0; l < c.nLayers; l++) Object.assign(feeds, past(l));
      const out = await this.fused.run(feeds);
      for (let l = 0; l < c.nLayers; l++) append(l, out);
      return floats(out[IO.logits]); // [vocabLocal]
    }
    const P = this.pieces as Pieces;
    const sum = async (partial: Float32Array): Promise<Float32Array> => {
      if (!reduce) return partial; // one rank: the partial is the sum
      const r = await reduce(partial); // [T*dim]
      if (r.length !== T * c.dim) throw new Error(`reduce returned ${r.length} floats, want ${T * c.dim}`);
      return r;
    };
    const dimT = (a: Float32Array) => new ort.Tensor('float32', a, [T, c.dim]);
    let x: Float32Array | null = null; // [T, dim] residual stream
    let delta: Float32Array | null = null; // [T, dim] all-reduced partial, not yet added to x
    const residual = (): Feeds => ({ [IO.x]: dimT(x as Float32Array), [IO.delta]: dimT(delta as Float32Array) });
    for (let l = 0; l < c.nLayers; l++) {
      const a = await P.attn[l].run({ ...common, ...past(l), ...(l === 0 ? tokenFeed : residual()) });
      append(l, a);
      x = floats(a[IO.xOut]); // [T, dim]
      delta = await sum(floats(a[IO.partial])); // [T, dim]
      const m = await P.mlp[l].run(residual());
      x = floats(m[IO.xOut]); // [T, dim]
      delta = await sum(floats(m[IO.partial])); // [T, dim]
    }
    const head = allRows ? (P.headRows as Session) : P.head;
    return floats((await head.run(residual()))[IO.logits]); // [1 | T, vocabLocal]
  }

  /** Clears a sequence (slot 0 by default; pos back to 0); stale cache rows are never fed (only [0, pos) is). */
  reset(slot = 0): void {
    this.lengths[slot] = 0;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const p = this.pieces;
    const all = this.fused ? [this.fused] : [...(p?.attn ?? []), ...(p?.mlp ?? []), ...(p ? [p.head] : []), ...(p?.headRows ? [p.headRows] : [])];
    for (const s of all) void s.release().catch(() => undefined); // release is async; nothing waits on it
  }
}

function floats(v: ort.Tensor | undefined): Float32Array {
  if (!v || v.type !== 'float32') throw new Error(`expected a float32 output, got ${v?.type}`);
  return v.data as Float32Array;
}

/**
 * cos/sin of pos * theta^(-2i/headDim) for every position and pair i, each value twice (columns 2i
 * and 2i+1, the pair's two elements: see rope() in llama-graph.ts): [maxSeqLen, headDim] each.
 */
function ropeTables(maxSeqLen: number, headDim: number, theta: number): [Float32Array, Float32Array] {
  const cos = new Float32Array(maxSeqLen * headDim); // [maxSeqLen, headDim]
  const sin = new Float32Array(maxSeqLen * headDim); // [maxSeqLen, headDim]
  for (let p = 0; p < maxSeqLen; p++) {
    for (let i = 0; i < headDim / 2; i++) {
      const ang = p * Math.pow(theta, (-2 * i) / headDim); // the reference's formula, in doubles
      cos[p * headDim + 2 * i] = cos[p * headDim + 2 * i + 1] = Math.cos(ang);
      sin[p * headDim + 2 * i] = sin[p * headDim + 2 * i + 1] = Math.sin(ang);
    }
  }
  return [cos, sin];
}

/** Additive causal mask [T, pos+T]: query t (at position pos+t) sees keys 0..pos+t. */
function causalMask(T: number, pos: number): Float32Array {
  const S = pos + T;
  const m = new Float32Array(T * S); // [T, S] zeros
  for (let t = 0; t < T; t++) m.fill(-Infinity, t * S + pos + t + 1, (t + 1) * S);
  return m;
}
