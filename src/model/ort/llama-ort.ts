// Llama forward of one tensor-parallel rank on ONNX Runtime Web (wasm, or webgpu in the browser):
// the same surface and the same two reduce points per layer as LlamaGpu, so a peer without WebGPU
// can join a tensor-parallel group of WGSL peers. Graph layout and KV handling: see llama-graph.ts.
// The KV cache lives in JS ([maxSeqLen, kvDim] per layer, like LlamaGpu's GPU buffers); each step
// feeds the filled rows [0, pos) and appends the rows the graph returns.
import type { ModelShard } from '../types';
import type { ReduceHook, ShardModel } from '../shard-model';
import { buildAttnPiece, buildFusedGraph, buildHeadPiece, buildMlpPiece, IO, type BuiltGraph } from './llama-graph';
import { configureOrt, createSession, ort, type OrtBackend } from './ort-env';

export interface LlamaOrtOptions {
  maxSeqLen: number;
  backend: OrtBackend;
  /** wasm threads (browser only; Node always uses 1). Applied by the first load in this realm. */
  numThreads?: number;
  /** Where ORT fetches its .wasm files (browser), when its default location does not serve them. */
  wasmPaths?: string;
  /**
   * Run the per-layer pieces even at tp = 1 (default: pieces exactly when shard.tp > 1). Without a
   * reduce hook each partial is used as its own sum, which is the tp = 1 model.
   */
  split?: boolean;
}

type Session = ort.InferenceSession;
type Feeds = Record<string, ort.Tensor>;

interface Pieces {
  attn: Session[]; // per layer
  mlp: Session[]; // per layer
  head: Session;
}

export class LlamaOrt implements ShardModel {
  /** Positions filled in the KV cache (the next forward must start here). */
  length = 0;
  private destroyed = false;

  private constructor(
    readonly shard: ModelShard,
    readonly maxSeqLen: number,
    readonly backend: OrtBackend,
    private readonly fused: Session | null,
    private readonly pieces: Pieces | null,
    private readonly kCache: Float32Array[], // per layer [maxSeqLen, kvDim]
    private readonly vCache: Float32Array[], // per layer [maxSeqLen, kvDim]
    private readonly ropeCos: Float32Array, // [maxSeqLen, headDim/2]
    private readonly ropeSin: Float32Array, // [maxSeqLen, headDim/2]
    private readonly weightBytesTotal: number,
  ) {}

  /** Builds the graphs (weights dequantized to f32 inside them) and their sessions; allocates the KV cache. */
  static async load(shard: ModelShard, opts: LlamaOrtOptions): Promise<LlamaOrt> {
    const c = shard.config;
    const maxSeqLen = opts.maxSeqLen;
    if (!Number.isInteger(maxSeqLen) || maxSeqLen < 1) throw new Error(`maxSeqLen ${maxSeqLen}`);
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
    const split = opts.split ?? shard.tp > 1;
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
        pieces = { attn, mlp, head: await session(() => buildHeadPiece(shard)) };
      }
      const kvDim = shard.nKvHeadsLocal * c.headDim;
      const kCache = shard.layers.map(() => new Float32Array(maxSeqLen * kvDim)); // [maxSeqLen, kvDim]
      const vCache = shard.layers.map(() => new Float32Array(maxSeqLen * kvDim)); // [maxSeqLen, kvDim]
      const [cos, sin] = ropeTables(maxSeqLen, c.headDim, c.ropeTheta);
      return new LlamaOrt(shard, maxSeqLen, opts.backend, fused, pieces, kCache, vCache, cos, sin, wBytes);
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
   * Runs tokens at positions [pos, pos+T), appending to the KV cache. With the per-layer pieces,
   * `reduce` receives the [T*dim] partial sums after wo and after w_down (twice per layer) and returns
   * their sum over ranks. Returns this rank's logits of the last token: [vocabLocal].
   */
  async forward(tokens: Int32Array, pos: number, reduce?: ReduceHook): Promise<Float32Array> {
    if (this.destroyed) throw new Error('forward: model destroyed');
    const s = this.shard;
    const c = s.config;
    const T = tokens.length;
    if (T === 0) throw new Error('forward: no tokens');
    if (pos !== this.length) throw new Error(`forward: pos ${pos} but the cache holds ${this.length} positions`);
    if (pos + T > this.maxSeqLen) throw new Error(`forward: ${pos + T} positions exceed maxSeqLen ${this.maxSeqLen}`);
    for (const id of tokens) if (id < 0 || id >= c.vocabSize) throw new RangeError(`token id ${id} out of range`);
    if (reduce && !this.pieces) throw new Error('forward: this model runs one fused graph (tp = 1); load it with split: true to reduce');
    const kvDim = s.nKvHeadsLocal * c.headDim;
    const half = c.headDim / 2;
    const S = pos + T;
    const common: Feeds = {
      [IO.cos]: new ort.Tensor('float32', this.ropeCos.slice(pos * half, S * half), [T, 1, half, 1]),
      [IO.sin]: new ort.Tensor('float32', this.ropeSin.slice(pos * half, S * half), [T, 1, half, 1]),
      [IO.mask]: new ort.Tensor('float32', causalMask(T, pos), [T, S]),
    };
    // Past rows [0, pos) of layer l's cache (a view: ORT copies inputs into its heap anyway).
    const past = (l: number): Feeds => ({
      [IO.pastK(l)]: new ort.Tensor('float32', this.kCache[l].subarray(0, pos * kvDim), [pos, kvDim]),
      [IO.pastV(l)]: new ort.Tensor('float32', this.vCache[l].subarray(0, pos * kvDim), [pos, kvDim]),
    });
    const append = (l: number, out: ort.InferenceSession.OnnxValueMapType) => {
      this.kCache[l].set(floats(out[IO.newK(l)]), pos * kvDim); // [T, kvDim] -> cache rows [pos, S)
      this.vCache[l].set(floats(out[IO.newV(l)]), pos * kvDim);
    };
    const tokenFeed = { [IO.tokens]: new ort.Tensor('int32', Int32Array.from(tokens), [T]) };
    let logits: Float32Array;
    if (this.fused) {
      const feeds: Feeds = { ...common, ...tokenFeed };
      for (let l = 0; l < c.nLayers; l++) Object.assign(feeds, past(l));
      const out = await this.fused.run(feeds);
      for (let l = 0; l < c.nLayers; l++) append(l, out);
      logits = floats(out[IO.logits]); // [vocabLocal]
    } else {
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
      logits = floats((await P.head.run(residual()))[IO.logits]); // [vocabLocal]
    }
    this.length = S;
    return logits;
  }

  /** Clears the sequence (pos back to 0); stale cache rows are never fed (only [0, pos) is). */
  reset(): void {
    this.length = 0;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const all = this.fused ? [this.fused] : [...(this.pieces?.attn ?? []), ...(this.pieces?.mlp ?? []), ...(this.pieces ? [this.pieces.head] : [])];
    for (const s of all) void s.release().catch(() => undefined); // release is async; nothing waits on it
  }
}

function floats(v: ort.Tensor | undefined): Float32Array {
  if (!v || v.type !== 'float32') throw new Error(`expected a float32 output, got ${v?.type}`);
  return v.data as Float32Array;
}

/** cos/sin of pos * theta^(-2i/headDim) for every position and pair i: [maxSeqLen, headDim/2] each. */
function ropeTables(maxSeqLen: number, headDim: number, theta: number): [Float32Array, Float32Array] {
  const half = headDim / 2;
  const cos = new Float32Array(maxSeqLen * half); // [maxSeqLen, headDim/2]
  const sin = new Float32Array(maxSeqLen * half); // [maxSeqLen, headDim/2]
  for (let p = 0; p < maxSeqLen; p++) {
    for (let i = 0; i < half; i++) {
      const ang = p * Math.pow(theta, (-2 * i) / headDim); // the reference's formula, in doubles
      cos[p * half + i] = Math.cos(ang);
      sin[p * half + i] = Math.sin(ang);
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
