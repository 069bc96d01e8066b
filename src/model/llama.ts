// Single-device GPU Llama forward over one tensor-parallel rank's ModelShard, with a KV cache.
// No communication here: the parallel plan passes a `reduce` hook that is called on the partial sums of
// the two row-parallel matmuls per layer (attention wo, MLP w_down) before the residual add, like
// gpt-fast's tp.py all-reduce. With tp=1 the hook is omitted and everything stays on the GPU until the
// last token's logits are read back.
// Continuous batching: the KV cache holds `maxSlots` independent sequences (slots), each with its own
// region of maxSeqLen rows and its own length. A slot is filled by forward(..., slot) (prefill, one
// sequence at a time) and then advanced together with the others by decodeBatch(): one forward over
// B tokens (one per active slot) whose matmuls are [B, dim] x W and whose reduce hook carries [B*dim].
import type { Gpu } from '../gpu/gpu';
import { attention, regularKvMap } from '../kernels/attention';
import { attentionBatch, packRows, ropeBatch } from '../kernels/batch-decode';
import { uploadWeight, type GpuWeight } from '../kernels/common';
import { add, siluMul, swiglu } from '../kernels/elementwise';
import { embed } from '../kernels/embed';
import { concatRows, int8Scratch, matmul, matmulReadsInt8, type MatmulPath } from '../kernels/matmul';
import { gemvBatchUsable } from '../kernels/gemv-batch';
import { addRmsnorm, addRmsnormWritesInt8, rmsnorm } from '../kernels/rmsnorm';
import { ropeQkv, ropeTable } from '../kernels/rope';
import type { ModelShard, WeightTensor } from './types';
import { checkDecodeRows, type DecodeRow, type ReduceHook } from './shard-model';
import { allocScratch, type Scratch } from './llama-scratch';
import type { PointTimes } from './point-times';

export type { DecodeRow, ReduceHook } from './shard-model';

// Projections that read the same input are stacked (fused, the default) so one matmul computes them:
// qkv = [wq; wk; wv] and gateUp = [w_gate; w_up]; unfused (load option fuse: false, benches only) keeps
// the separate matrices and the pre-fusion dispatch sequence, to measure the gain in one run.
interface GpuLayer {
  attnNorm: GPUBuffer; // [dim]
  qkv: GpuWeight[]; // fused: [[qDim + 2*kvDim, dim]]; unfused: [wq [qDim, dim], wk [kvDim, dim], wv [kvDim, dim]]
  wo: GpuWeight; // [dim, qDim]
  ffnNorm: GPUBuffer; // [dim]
  gateUp: GpuWeight[]; // fused: [[2*hiddenLocal, dim]]; unfused: [w_gate, w_up] ([hiddenLocal, dim] each)
  wDown: GpuWeight; // [dim, hiddenLocal]
  kCache: GPUBuffer; // [maxSlots * maxSeqLen, kvDim]: slot s owns rows [s*maxSeqLen, (s+1)*maxSeqLen)
  vCache: GPUBuffer; // [maxSlots * maxSeqLen, kvDim]
}

/** What differs between forward() and decodeBatch() inside the shared layer loop (blocks()). */
interface Step {
  M: number; // token rows
  force?: MatmulPath; // matmul path for every projection
  // q -> att against the cache (rows already stored); with attq, also att's q8 form where the attention
  // kernel can write it (returns whether it did; else wo's matmul quantizes att itself).
  attend(L: GpuLayer, attq?: GPUBuffer): boolean;
  storeKv(L: GpuLayer): void; // unfused path: k, v -> cache rows
  // Row-parallel partial sums in `buf` -> sums over ranks, in place; then encodes `next` (the segment
  // up to the next point, which starts from the sum): ahead, while the exchange is in flight, if it can.
  allReduce(buf: GPUBuffer, next: () => void, nextEndsAtPoint: boolean): Promise<void>;
}

export class LlamaGpu {
  /** The default of encodeAhead for models loaded from now on (a bench process's A/B switch). */
  static encodeAheadDefault = true;

  /** Positions filled in each slot's KV cache (the next forward of that slot must start there). */
  readonly lengths: number[];
  private destroyed = false;
  // Decode steps (forward of one token, decodeBatch of up to maxSlots rows) reuse one persistent set of
  // activation buffers, so every step binds the same buffers and the Gpu's bind-group cache serves all
  // its dispatches. Prefill (T > maxSlots) and a step overlapping another (busy) take pooled buffers.
  private work: Scratch | null = null;
  private workBusy = false;
  /** Use the persistent decode buffers (default); false = pooled buffers per call, as before. */
  persistentScratch = true;
  /** Encode the segment after an all-reduce point while the exchange is in flight (Gpu.capture); false =
   *  encode it after the sum is back, as before (benches compare the two). */
  encodeAhead = LlamaGpu.encodeAheadDefault;
  /** q8_0 decode: add+rmsnorm and swiglu write the next projection's int8 input themselves; false = a quantize_q8
   *  dispatch before each projection, as before (benches compare the two; the logits are the same bits). */
  int8Producers = true;
  /** When set, every step adds its time split (PointTimes) here. */
  times: PointTimes | null = null;
  private mark = 0; // performance.now() at the step start or the last point's end (for times.encodeMs)
  // The next point's partial read-back, encoded at the end of the segment captured ahead (one submit fewer).
  private nextRead: { map(): Promise<ArrayBuffer> } | null = null;

  /** Slot 0's length: the single-sequence API (forward without a slot) uses slot 0. */
  get length(): number {
    return this.lengths[0];
  }

  set length(v: number) {
    this.lengths[0] = v;
  }

  private constructor(
    private readonly gpu: Gpu,
    readonly shard: ModelShard,
    readonly maxSeqLen: number,
    readonly maxSlots: number,
    readonly fused: boolean,
    private readonly layers: GpuLayer[],
    private readonly tokenEmbd: GpuWeight, // [vocab, dim]
    private readonly output: GpuWeight, // [vocabLocal, dim]
    private readonly outputNorm: GPUBuffer, // [dim]
    private readonly ropeTab: GPUBuffer, // [maxSeqLen, headDim/2, 2]
    private readonly kvmap: GPUBuffer, // u32 [nHeadsLocal]
    private readonly kvRegular: boolean, // kvmap is head h -> kv head h / group (decode attention skips its scan)
    private readonly weightBytesTotal: number,
    private readonly kvBytesTotal: number,
  ) {
    this.lengths = new Array<number>(maxSlots).fill(0);
  }

  /**
   * Uploads the shard's weights and allocates the per-layer K and V caches
   * [maxSlots * maxSeqLen, nKvHeadsLocal*headDim] (maxSlots defaults to 1: one sequence).
   */
  static async load(gpu: Gpu, shard: ModelShard, opts: { maxSeqLen: number; maxSlots?: number; fuse?: boolean }): Promise<LlamaGpu> {
    const c = shard.config;
    const maxSeqLen = opts.maxSeqLen;
    const maxSlots = opts.maxSlots ?? 1;
    const fuse = opts.fuse ?? true;
    if (maxSeqLen < 1) throw new Error(`maxSeqLen ${maxSeqLen}`);
    if (!Number.isInteger(maxSlots) || maxSlots < 1) throw new Error(`maxSlots ${maxSlots}`);
    const kvDim = shard.nKvHeadsLocal * c.headDim;
    const cacheBytes = maxSlots * maxSeqLen * kvDim * 4;
    if (cacheBytes > gpu.report.limits.maxStorageBufferBindingSize) {
      throw new Error(`KV cache of ${cacheBytes} bytes per layer exceeds the adapter's binding limit; lower maxSeqLen or maxSlots`);
    }
    let wBytes = 0;
    const w = (t: Parameters<typeof uploadWeight>[1], label: string): GpuWeight => {
      const g = uploadWeight(gpu, t, label);
      wBytes += g.bytes;
      return g;
    };
    // Fused: one stacked matrix (concatRows) per group of projections sharing an input.
    const group = (ts: WeightTensor[], label: string): GpuWeight[] =>
      fuse ? [w(concatRows(ts), label)] : ts.map((t, j) => w(t, `${label}.${j}`));
    const vec = (v: Float32Array, label: string): GPUBuffer => {
      const b = gpu.upload(v, label);
      wBytes += b.size;
      return b;
    };
    const layers = shard.layers.map((l, i): GpuLayer => ({
      attnNorm: vec(l.attnNorm, `blk${i}.attn_norm`),
      qkv: group([l.wq, l.wk, l.wv], `blk${i}.wqkv`),
      wo: w(l.wo, `blk${i}.wo`),
      ffnNorm: vec(l.ffnNorm, `blk${i}.ffn_norm`),
      gateUp: group([l.wGate, l.wUp], `blk${i}.w_gate_up`),
      wDown: w(l.wDown, `blk${i}.w_down`),
      // Per-layer caches (not one [nLayers, ...] buffer) so each binding stays under the adapter's limit.
      kCache: gpu.alloc(cacheBytes, `blk${i}.k_cache`),
      vCache: gpu.alloc(cacheBytes, `blk${i}.v_cache`),
    }));
    const tokenEmbd = w(shard.tokenEmbd, 'token_embd');
    // A tied head at tp=1 is the very same tensor: upload it once.
    const output = shard.output === shard.tokenEmbd ||
      (shard.output.data === shard.tokenEmbd.data && shard.output.rows === shard.tokenEmbd.rows)
      ? tokenEmbd
      : w(shard.output, 'output');
    const outputNorm = vec(shard.outputNorm, 'output_norm');
    const ropeTab = gpu.upload(ropeTable(maxSeqLen, c.headDim, c.ropeTheta), 'rope_table');
    const kvmap = gpu.upload(new Uint32Array(shard.kvHeadOfLocalHead), 'kvmap');
    await gpu.checkCompiles();
    const kvBytes = layers.reduce((s, l) => s + l.kCache.size + l.vCache.size, 0);
    const kvRegular = regularKvMap(shard.kvHeadOfLocalHead, shard.nKvHeadsLocal);
    return new LlamaGpu(gpu, shard, maxSeqLen, maxSlots, fuse, layers, tokenEmbd, output, outputNorm, ropeTab, kvmap, kvRegular, wBytes, kvBytes);
  }

  kvBytes(): number {
    return this.kvBytesTotal;
  }

  weightBytes(): number {
    return this.weightBytesTotal;
  }

  /** The distinct prefill matmul shapes of a layer (as run: fused or not), for tuning at load. */
  projectionShapes(): { N: number; K: number; type: GpuWeight['type'] }[] {
    const L = this.layers[0];
    if (!L) return [];
    const seen = new Map<string, { N: number; K: number; type: GpuWeight['type'] }>();
    for (const w of [...L.qkv, L.wo, ...L.gateUp, L.wDown]) seen.set(`${w.rows}x${w.cols}|${w.type}`, { N: w.rows, K: w.cols, type: w.type });
    return [...seen.values()];
  }

  /**
   * Runs tokens at positions [pos, pos+T) of `slot` (default 0), appending to that slot's KV cache.
   * `reduce`, when given, receives the [T*dim] partial sums after wo and after w_down (twice per layer)
   * and returns their sum over ranks. Returns this rank's logits of the last token: [vocabLocal].
   */
  async forward(tokens: Int32Array, pos: number, reduce?: ReduceHook, slot = 0): Promise<Float32Array> {
    if (this.destroyed) throw new Error('forward: model destroyed');
    const gpu = this.gpu;
    const s = this.shard;
    const c = s.config;
    const T = tokens.length;
    const { dim, headDim } = c;
    if (T === 0) throw new Error('forward: no tokens');
    if (!(slot >= 0 && slot < this.maxSlots)) throw new Error(`forward: slot ${slot} of ${this.maxSlots}`);
    if (pos !== this.lengths[slot]) throw new Error(`forward: pos ${pos} but slot ${slot} holds ${this.lengths[slot]} positions`);
    if (pos + T > this.maxSeqLen) throw new Error(`forward: ${pos + T} positions exceed maxSeqLen ${this.maxSeqLen}`);
    const kvDim = s.nKvHeadsLocal * headDim;
    const sc = this.scratch(T, 1);
    const { q, k, v, att, xn, lastN, logits } = sc.b; // [T, ...] as in Scratch
    const slotOff = slot * this.maxSeqLen * kvDim; // first float of this slot's cache region
    const tStep = (this.mark = performance.now());
    try {
      gpu.write(sc.b.tok, tokens);
      // Row t sits at position pos+t of the slot: (base, pos) rows for the fused rope / cache store,
      // plain positions for the unfused ropes.
      if (this.fused) gpu.write(sc.b.rowInfo, packRows(Array.from({ length: T }, (_, t) => ({ base: slot * this.maxSeqLen, pos: pos + t }))));
      else gpu.write(sc.b.pos, Uint32Array.from({ length: T }, (_, t) => pos + t));
      await this.blocks(sc.b, {
        M: T,
        attend: (L, attq) => attention(gpu, q, L.kCache, L.vCache, this.kvmap, att, { T, pos, nHeads: s.nHeadsLocal, headDim, kvDim, kvRegular: this.kvRegular }, slotOff, undefined, attq),
        // Cache rows [pos, pos+T) of the slot are contiguous: one copy each.
        storeKv: (L) => {
          gpu.copy(k, 0, L.kCache, (slotOff + pos * kvDim) * 4, T * kvDim * 4);
          gpu.copy(v, 0, L.vCache, (slotOff + pos * kvDim) * 4, T * kvDim * 4);
        },
        allReduce: this.reducer(reduce, T * dim),
      });
      // Only the last token's logits are needed: project that normed row alone.
      let last = xn; // [T, dim]: row T-1
      if (T > 1) {
        gpu.copy(xn, (T - 1) * dim * 4, lastN, 0, dim * 4);
        last = lastN; // [dim]
      }
      matmul(gpu, last, this.output, logits, 1); // [vocabLocal]
      const out = new Float32Array(await gpu.read(logits, this.output.rows * 4));
      this.lengths[slot] = pos + T;
      this.stepDone(tStep);
      return out;
    } finally {
      sc.release();
    }
  }

  /**
   * One batched decode step: row b feeds rows[b].token to its slot at position rows[b].pos (which must
   * be the slot's length). All matmuls run once over [B, dim]; `reduce` gets [B*dim] partial sums
   * (twice per layer, whatever B is). Returns this rank's logits [B, vocabLocal], row b for rows[b].
   * The matmul kernel is chosen independently of B (the tiled kernel on GPUs, even for B = 1; the
   * per-output "rows" kernel on CPU-backed adapters), so a row's logits never depend on its companions.
   */
  async decodeBatch(rows: DecodeRow[], reduce?: ReduceHook, impl?: 'tiled' | 'rows' | 'gemv-batch'): Promise<Float32Array> {
    if (this.destroyed) throw new Error('decodeBatch: model destroyed');
    const gpu = this.gpu;
    const s = this.shard;
    const c = s.config;
    const B = rows.length;
    const { dim, headDim } = c;
    checkDecodeRows(rows, this.lengths, this.maxSlots, this.maxSeqLen);
    // One kernel for every batch size (so a row's logits never depend on its companions): the
    // barrier-free row kernel on CPU-backed adapters, else the batched GEMV (weights read once per 8
    // rows; bench/results/batch-gpu-*.md), else the tiled GEMM. `impl`: tests exercise each.
    const force = impl ?? (gpu.report.isFallback ? 'rows' : gemvBatchUsable(gpu) ? 'gemv-batch' : 'tiled');
    const kvDim = s.nKvHeadsLocal * headDim;
    const vocab = this.output.rows;
    const sc = this.scratch(B, B);
    const { q, k, v, att, xn, logits } = sc.b; // [B, ...] as in Scratch
    const rowBuf = sc.b.rowInfo; // u32 [B, 2]
    const tStep = (this.mark = performance.now());
    try {
      gpu.write(sc.b.tok, Int32Array.from(rows, (r) => r.token));
      gpu.write(rowBuf, packRows(rows.map((r) => ({ base: r.slot * this.maxSeqLen, pos: r.pos }))));
      if (!this.fused) gpu.write(sc.b.pos, Uint32Array.from(rows, (r) => r.pos));
      const shape = { nHeads: s.nHeadsLocal, headDim, kvDim, kvRegular: this.kvRegular };
      await this.blocks(sc.b, {
        M: B,
        force,
        attend: (L, attq) => attentionBatch(gpu, q, L.kCache, L.vCache, this.kvmap, rowBuf, att, B, shape, undefined, attq), // [B, qDim]
        // Each row's key/value goes to its own slot: one row copy each.
        storeKv: (L) => rows.forEach((r, b) => {
          const dst = ((r.slot * this.maxSeqLen + r.pos) * kvDim) * 4;
          gpu.copy(k, b * kvDim * 4, L.kCache, dst, kvDim * 4);
          gpu.copy(v, b * kvDim * 4, L.vCache, dst, kvDim * 4);
        }),
        allReduce: this.reducer(reduce, B * dim), // one all-reduce for the whole batch
      });
      matmul(gpu, xn, this.output, logits, B, force); // [B, vocabLocal]: every row is a "last token"
      const out = new Float32Array(await gpu.read(logits, B * vocab * 4));
      for (const r of rows) this.lengths[r.slot] = r.pos + 1;
      this.stepDone(tStep);
      return out;
    } finally {
      sc.release();
    }
  }

  private stepDone(t0: number): void {
    if (!this.times) return;
    this.times.steps++;
    this.times.stepMs += performance.now() - t0;
  }

  /** The all-reduce point of a row-parallel matmul: read the partial [n], exchange, write the sum back. */
  private reducer(reduce: ReduceHook | undefined, n: number): (buf: GPUBuffer, next: () => void, nextEndsAtPoint: boolean) => Promise<void> {
    this.nextRead = null; // a step starts with nothing staged (a failed step may have left one)
    return async (buf, next, nextEndsAtPoint) => {
      if (!reduce) return next();
      const gpu = this.gpu;
      const tm = this.times;
      const t0 = performance.now();
      const map0 = gpu.stats.mapWaitMs;
      // read() submits everything encoded so far at once, so the GPU finishes the partial without waiting
      // on the CPU; after a captured segment its copy was encoded (and submitted) with it.
      const staged = this.nextRead;
      this.nextRead = null;
      const partial = new Float32Array(await (staged ? staged.map() : gpu.read(buf, n * 4))); // [n]
      const t1 = performance.now();
      const pending = reduce(partial); // [n]; the sends to the peers go out inside this call
      const t2 = performance.now();
      // Everything after the point depends on the sum, but only once it runs: encode it now into a
      // command buffer of its own (the CPU's ~5 dispatches + finish overlap the network), submit it
      // after the sum is written. Not ahead: encode it after the write, as before.
      let submitNext: (() => void) | null = null;
      if (this.encodeAhead) {
        try {
          submitNext = gpu.capture(() => {
            next();
            if (nextEndsAtPoint) this.nextRead = gpu.stageRead(buf, n * 4); // [n] the next partial
          });
        } catch (e) {
          pending.catch(() => undefined); // the step fails with the encoding error, not an unhandled rejection
          throw e;
        }
      }
      const t3 = performance.now();
      const summed = await pending; // [n]
      const t4 = performance.now();
      if (summed.length !== n) throw new Error(`reduce returned ${summed.length} floats, want ${n}`);
      gpu.write(buf, summed);
      if (submitNext) submitNext();
      const t5 = performance.now();
      if (tm) {
        tm.points++;
        tm.encodeMs += t0 - this.mark;
        tm.readMs += t1 - t0;
        tm.mapMs += gpu.stats.mapWaitMs - map0;
        tm.sendMs += t2 - t1;
        tm.waitMs += t4 - t2;
        if (submitNext) tm.aheadMs += t3 - t2;
        tm.writeMs += t5 - t4;
      }
      this.mark = t5;
      if (!submitNext) next(); // counted as the next point's encoding
    };
  }

  /**
   * Embeds the step's tokens and encodes every transformer block over M rows, ending with the output
   * norm in xn [M, dim]. Fused (default) per layer: q|k|v matmul, rope+cache store, attention, wo,
   * add+norm, gate|up matmul, swiglu, w_down, add+next norm: 9 dispatches, 15 unfused (1B decode: 333 -> 201 a token).
   */
  private async blocks(b: Scratch, st: Step): Promise<void> {
    const gpu = this.gpu;
    const s = this.shard;
    const c = s.config;
    const { dim, headDim } = c;
    const { M, force } = st;
    const qDim = s.nHeadsLocal * headDim;
    const kvDim = s.nKvHeadsLocal * headDim;
    const hid = s.hiddenLocal;
    const { x, xn, qkv, q, k, v, o, gu, h } = b; // [M, ...] as in Scratch
    embed(gpu, b.tok, this.tokenEmbd, x, M); // [M, dim]
    rmsnorm(gpu, x, this.layers[0].attnNorm, xn, M, dim, c.rmsEps);
    // Where the next projection reads int8 x (q8_0 decode), the fused kernel producing x quantizes it too, into
    // the buffer matmul() would have quantized it into: one quantize_q8 dispatch fewer per projection.
    const int8For = (w?: GpuWeight): GPUBuffer | undefined => w && this.fused && this.int8Producers && !gpu.report.isFallback
      && matmulReadsInt8(gpu, w, M, force) ? int8Scratch(gpu, M * w.cols) : undefined;
    // Residual add, then the next norm (feeding `next`; returns its int8 form when written): one kernel fused.
    const addNorm = (w: GPUBuffer, next?: GpuWeight): GPUBuffer | undefined => {
      const xq = addRmsnormWritesInt8(dim) ? int8For(next) : undefined; // other widths: quantize_q8 in matmul()
      if (this.fused) addRmsnorm(gpu, x, o, w, xn, M, dim, c.rmsEps, undefined, xq);
      else {
        add(gpu, x, o, M * dim);
        rmsnorm(gpu, x, w, xn, M, dim, c.rmsEps);
      }
      return xq;
    };
    // The step as segments between all-reduce points: the attention half of layer l ends with the wo
    // partial, the MLP half with the w_down partial; each point sums `o` and the next segment starts
    // from it (residual add + norm).
    const attnHalf = (L: GpuLayer, xq?: GPUBuffer) => {
      if (this.fused) {
        matmul(gpu, xn, L.qkv[0], qkv, M, force, xq); // [M, qDim + 2*kvDim]
        ropeQkv(gpu, qkv, this.ropeTab, b.rowInfo, q, L.kCache, L.vCache, M, qDim, kvDim, headDim); // q [M, qDim], cache rows
      } else {
        matmul(gpu, xn, L.qkv[0], q, M, force); // [M, qDim]
        matmul(gpu, xn, L.qkv[1], k, M, force); // [M, kvDim]
        matmul(gpu, xn, L.qkv[2], v, M, force); // [M, kvDim]
        ropeBatch(gpu, q, this.ropeTab, b.pos, M, s.nHeadsLocal, headDim);
        ropeBatch(gpu, k, this.ropeTab, b.pos, M, s.nKvHeadsLocal, headDim);
        st.storeKv(L);
      }
      const attq = int8For(L.wo); // wo's int8 input, from the attention's combine kernel where it can write it
      const wrote = st.attend(L, attq); // att [M, qDim]
      matmul(gpu, b.att, L.wo, o, M, force, wrote ? attq : undefined); // [M, dim] partial over this rank's heads
    };
    const mlpHalf = (L: GpuLayer) => {
      const xq = addNorm(L.ffnNorm, L.gateUp[0]);
      let hq: GPUBuffer | undefined;
      if (this.fused) {
        matmul(gpu, xn, L.gateUp[0], gu, M, force, xq); // [M, 2*hiddenLocal]
        hq = int8For(L.wDown);
        swiglu(gpu, gu, h, M, hid, hq); // [M, hiddenLocal]
      } else {
        matmul(gpu, xn, L.gateUp[0], h, M, force); // [M, hiddenLocal] gate
        matmul(gpu, xn, L.gateUp[1], gu, M, force); // [M, hiddenLocal] up
        siluMul(gpu, h, gu, M * hid);
      }
      matmul(gpu, h, L.wDown, o, M, force, hq); // [M, dim] partial over this rank's hidden slice
    };
    const nL = this.layers.length;
    attnHalf(this.layers[0]);
    for (let l = 0; l < nL; l++) {
      const L = this.layers[l];
      await st.allReduce(o, () => mlpHalf(L), true);
      await st.allReduce(o, () => {
        if (l + 1 < nL) attnHalf(this.layers[l + 1], addNorm(this.layers[l + 1].attnNorm, this.layers[l + 1].qkv[0]));
        else addNorm(this.outputNorm);
      }, l + 1 < nL);
    }
  }

  /** Activation buffers for `rows` token rows (logits for `logitRows`): the persistent set or pooled ones. */
  private scratch(rows: number, logitRows: number): { b: Scratch; release(): void } {
    const gpu = this.gpu;
    if (this.persistentScratch && rows <= this.maxSlots && !this.workBusy) {
      this.work ??= allocScratch(this.shard, this.output.rows, this.maxSlots, this.maxSlots, (n, l) => gpu.alloc(n * 4, l));
      this.workBusy = true;
      return { b: this.work, release: () => { this.workBusy = false; } };
    }
    const taken: GPUBuffer[] = [];
    const b = allocScratch(this.shard, this.output.rows, rows, logitRows, (n, l) => {
      const buf = gpu.alloc(n * 4, l);
      taken.push(buf);
      return buf;
    });
    return { b, release: () => { for (const t of taken) gpu.free(t); } };
  }


  /** Clears a sequence (slot 0 by default; pos back to 0); stale cache rows are overwritten before they are read. */
  reset(slot = 0): void {
    this.lengths[slot] = 0;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const gpu = this.gpu;
    const seen = new Set<GPUBuffer>();
    const drop = (b: GPUBuffer) => {
      if (seen.has(b)) return;
      seen.add(b);
      b.destroy(); // caches too: returning them to the pool would keep their memory for nothing
    };
    gpu.flush();
    for (const L of this.layers) {
      for (const b of [L.attnNorm, L.ffnNorm]) drop(b);
      for (const wt of [...L.qkv, L.wo, ...L.gateUp, L.wDown]) drop(wt.buf);
      drop(L.kCache);
      drop(L.vCache);
    }
    drop(this.tokenEmbd.buf);
    drop(this.output.buf);
    drop(this.outputNorm);
    drop(this.ropeTab);
    drop(this.kvmap);
    if (this.work) for (const b of Object.values(this.work)) drop(b);
    this.work = null;
    gpu.clearBindGroupCache();
  }
}
