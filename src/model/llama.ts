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
import { attention } from '../kernels/attention';
import { attentionBatch, packRows, ropeBatch } from '../kernels/batch-decode';
import { uploadWeight, type GpuWeight } from '../kernels/common';
import { add, siluMul } from '../kernels/elementwise';
import { embed } from '../kernels/embed';
import { matmul } from '../kernels/matmul';
import { gemvBatchUsable } from '../kernels/gemv-batch';
import { rmsnorm } from '../kernels/rmsnorm';
import { rope, ropeTable } from '../kernels/rope';
import type { ModelShard } from './types';
import { checkDecodeRows, type DecodeRow, type ReduceHook } from './shard-model';

export type { DecodeRow, ReduceHook } from './shard-model';

interface GpuLayer {
  attnNorm: GPUBuffer; // [dim]
  wq: GpuWeight; // [qDim, dim]
  wk: GpuWeight; // [kvDim, dim]
  wv: GpuWeight; // [kvDim, dim]
  wo: GpuWeight; // [dim, qDim]
  ffnNorm: GPUBuffer; // [dim]
  wGate: GpuWeight; // [hiddenLocal, dim]
  wUp: GpuWeight; // [hiddenLocal, dim]
  wDown: GpuWeight; // [dim, hiddenLocal]
  kCache: GPUBuffer; // [maxSlots * maxSeqLen, kvDim]: slot s owns rows [s*maxSeqLen, (s+1)*maxSeqLen)
  vCache: GPUBuffer; // [maxSlots * maxSeqLen, kvDim]
}

export class LlamaGpu {
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
    private readonly gpu: Gpu,
    readonly shard: ModelShard,
    readonly maxSeqLen: number,
    readonly maxSlots: number,
    private readonly layers: GpuLayer[],
    private readonly tokenEmbd: GpuWeight, // [vocab, dim]
    private readonly output: GpuWeight, // [vocabLocal, dim]
    private readonly outputNorm: GPUBuffer, // [dim]
    private readonly ropeTab: GPUBuffer, // [maxSeqLen, headDim/2, 2]
    private readonly kvmap: GPUBuffer, // u32 [nHeadsLocal]
    private readonly weightBytesTotal: number,
    private readonly kvBytesTotal: number,
  ) {
    this.lengths = new Array<number>(maxSlots).fill(0);
  }

  /**
   * Uploads the shard's weights and allocates the per-layer K and V caches
   * [maxSlots * maxSeqLen, nKvHeadsLocal*headDim] (maxSlots defaults to 1: one sequence).
   */
  static async load(gpu: Gpu, shard: ModelShard, opts: { maxSeqLen: number; maxSlots?: number }): Promise<LlamaGpu> {
    const c = shard.config;
    const maxSeqLen = opts.maxSeqLen;
    const maxSlots = opts.maxSlots ?? 1;
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
    const vec = (v: Float32Array, label: string): GPUBuffer => {
      const b = gpu.upload(v, label);
      wBytes += b.size;
      return b;
    };
    const layers = shard.layers.map((l, i): GpuLayer => ({
      attnNorm: vec(l.attnNorm, `blk${i}.attn_norm`),
      wq: w(l.wq, `blk${i}.wq`),
      wk: w(l.wk, `blk${i}.wk`),
      wv: w(l.wv, `blk${i}.wv`),
      wo: w(l.wo, `blk${i}.wo`),
      ffnNorm: vec(l.ffnNorm, `blk${i}.ffn_norm`),
      wGate: w(l.wGate, `blk${i}.w_gate`),
      wUp: w(l.wUp, `blk${i}.w_up`),
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
    return new LlamaGpu(gpu, shard, maxSeqLen, maxSlots, layers, tokenEmbd, output, outputNorm, ropeTab, kvmap, wBytes, kvBytes);
  }

  kvBytes(): number {
    return this.kvBytesTotal;
  }

  weightBytes(): number {
    return this.weightBytesTotal;
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
    const qDim = s.nHeadsLocal * headDim;
    const kvDim = s.nKvHeadsLocal * headDim;
    const hid = s.hiddenLocal;
    const scratch: GPUBuffer[] = [];
    const tmp = (floats: number, label: string): GPUBuffer => {
      const b = gpu.alloc(floats * 4, label);
      scratch.push(b);
      return b;
    };
    const tok = tmp(T, 'tokens'); // i32 [T]
    const x = tmp(T * dim, 'x'); // [T, dim] residual stream
    const xn = tmp(T * dim, 'xn'); // [T, dim] normed
    const q = tmp(T * qDim, 'q'); // [T, qDim]
    const k = tmp(T * kvDim, 'k'); // [T, kvDim]
    const v = tmp(T * kvDim, 'v'); // [T, kvDim]
    const att = tmp(T * qDim, 'att'); // [T, qDim]
    const o = tmp(T * dim, 'o'); // [T, dim] row-parallel partial sums
    const g = tmp(T * hid, 'gate'); // [T, hiddenLocal]
    const u = tmp(T * hid, 'up'); // [T, hiddenLocal]
    const last = tmp(dim, 'last'); // [dim]
    const lastN = tmp(dim, 'last_n'); // [dim]
    const logits = tmp(this.output.rows, 'logits'); // [vocabLocal]
    try {
      gpu.write(tok, tokens);
      embed(gpu, tok, this.tokenEmbd, x, T);
      const allReduce = async (buf: GPUBuffer): Promise<void> => {
        if (!reduce) return;
        const partial = new Float32Array(await gpu.read(buf, T * dim * 4)); // [T, dim]
        const summed = await reduce(partial); // [T, dim]
        if (summed.length !== T * dim) throw new Error(`reduce returned ${summed.length} floats, want ${T * dim}`);
        gpu.write(buf, summed);
      };
      for (const L of this.layers) {
        // Attention block.
        rmsnorm(gpu, x, L.attnNorm, xn, T, dim, c.rmsEps);
        matmul(gpu, xn, L.wq, q, T); // [T, qDim]
        matmul(gpu, xn, L.wk, k, T); // [T, kvDim]
        matmul(gpu, xn, L.wv, v, T); // [T, kvDim]
        rope(gpu, q, this.ropeTab, T, s.nHeadsLocal, headDim, pos);
        rope(gpu, k, this.ropeTab, T, s.nKvHeadsLocal, headDim, pos);
        // Append this step's keys/values: cache rows [pos, pos+T) of the slot are contiguous, so one copy each.
        const slotOff = slot * this.maxSeqLen * kvDim; // first float of this slot's region
        gpu.copy(k, 0, L.kCache, (slotOff + pos * kvDim) * 4, T * kvDim * 4);
        gpu.copy(v, 0, L.vCache, (slotOff + pos * kvDim) * 4, T * kvDim * 4);
        attention(gpu, q, L.kCache, L.vCache, this.kvmap, att,
          { T, pos, nHeads: s.nHeadsLocal, headDim, kvDim }, slotOff); // [T, qDim]
        matmul(gpu, att, L.wo, o, T); // [T, dim] partial over this rank's heads
        await allReduce(o);
        add(gpu, x, o, T * dim);
        // MLP block.
        rmsnorm(gpu, x, L.ffnNorm, xn, T, dim, c.rmsEps);
        matmul(gpu, xn, L.wGate, g, T); // [T, hiddenLocal]
        matmul(gpu, xn, L.wUp, u, T); // [T, hiddenLocal]
        siluMul(gpu, g, u, T * hid);
        matmul(gpu, g, L.wDown, o, T); // [T, dim] partial over this rank's hidden slice
        await allReduce(o);
        add(gpu, x, o, T * dim);
      }
      // Only the last token's logits are needed: norm and project that row alone.
      gpu.copy(x, (T - 1) * dim * 4, last, 0, dim * 4);
      rmsnorm(gpu, last, this.outputNorm, lastN, 1, dim, c.rmsEps);
      matmul(gpu, lastN, this.output, logits, 1); // [vocabLocal]
      const out = new Float32Array(await gpu.read(logits, this.output.rows * 4));
      this.lengths[slot] = pos + T;
      return out;
    } finally {
      for (const b of scratch) gpu.free(b);
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
    const qDim = s.nHeadsLocal * headDim;
    const kvDim = s.nKvHeadsLocal * headDim;
    const hid = s.hiddenLocal;
    const vocab = this.output.rows;
    const scratch: GPUBuffer[] = [];
    const tmp = (floats: number, label: string): GPUBuffer => {
      const b = gpu.alloc(floats * 4, label);
      scratch.push(b);
      return b;
    };
    const tok = tmp(B, 'tokens'); // i32 [B]
    const posBuf = tmp(B, 'pos'); // u32 [B]
    const rowBuf = tmp(2 * B, 'rows'); // u32 [B, 2] (slot base row, pos)
    const x = tmp(B * dim, 'x'); // [B, dim] residual stream
    const xn = tmp(B * dim, 'xn'); // [B, dim] normed
    const q = tmp(B * qDim, 'q'); // [B, qDim]
    const k = tmp(B * kvDim, 'k'); // [B, kvDim]
    const v = tmp(B * kvDim, 'v'); // [B, kvDim]
    const att = tmp(B * qDim, 'att'); // [B, qDim]
    const o = tmp(B * dim, 'o'); // [B, dim] row-parallel partial sums
    const g = tmp(B * hid, 'gate'); // [B, hiddenLocal]
    const u = tmp(B * hid, 'up'); // [B, hiddenLocal]
    const logits = tmp(B * vocab, 'logits'); // [B, vocabLocal]
    try {
      gpu.write(tok, Int32Array.from(rows, (r) => r.token));
      gpu.write(posBuf, Uint32Array.from(rows, (r) => r.pos));
      gpu.write(rowBuf, packRows(rows.map((r) => ({ base: r.slot * this.maxSeqLen, pos: r.pos }))));
      embed(gpu, tok, this.tokenEmbd, x, B);
      const allReduce = async (buf: GPUBuffer): Promise<void> => {
        if (!reduce) return;
        const partial = new Float32Array(await gpu.read(buf, B * dim * 4)); // [B, dim]
        const summed = await reduce(partial); // [B, dim]: one all-reduce for the whole batch
        if (summed.length !== B * dim) throw new Error(`reduce returned ${summed.length} floats, want ${B * dim}`);
        gpu.write(buf, summed);
      };
      const shape = { nHeads: s.nHeadsLocal, headDim, kvDim };
      for (const L of this.layers) {
        rmsnorm(gpu, x, L.attnNorm, xn, B, dim, c.rmsEps);
        matmul(gpu, xn, L.wq, q, B, force); // [B, qDim]
        matmul(gpu, xn, L.wk, k, B, force); // [B, kvDim]
        matmul(gpu, xn, L.wv, v, B, force); // [B, kvDim]
        ropeBatch(gpu, q, this.ropeTab, posBuf, B, s.nHeadsLocal, headDim);
        ropeBatch(gpu, k, this.ropeTab, posBuf, B, s.nKvHeadsLocal, headDim);
        // Each row's key/value goes to its own slot: one row copy each (B small copies, no kernel).
        rows.forEach((r, b) => {
          const dst = ((r.slot * this.maxSeqLen + r.pos) * kvDim) * 4;
          gpu.copy(k, b * kvDim * 4, L.kCache, dst, kvDim * 4);
          gpu.copy(v, b * kvDim * 4, L.vCache, dst, kvDim * 4);
        });
        attentionBatch(gpu, q, L.kCache, L.vCache, this.kvmap, rowBuf, att, B, shape); // [B, qDim]
        matmul(gpu, att, L.wo, o, B, force); // [B, dim] partial over this rank's heads
        await allReduce(o);
        add(gpu, x, o, B * dim);
        rmsnorm(gpu, x, L.ffnNorm, xn, B, dim, c.rmsEps);
        matmul(gpu, xn, L.wGate, g, B, force); // [B, hiddenLocal]
        matmul(gpu, xn, L.wUp, u, B, force); // [B, hiddenLocal]
        siluMul(gpu, g, u, B * hid);
        matmul(gpu, g, L.wDown, o, B, force); // [B, dim] partial over this rank's hidden slice
        await allReduce(o);
        add(gpu, x, o, B * dim);
      }
      rmsnorm(gpu, x, this.outputNorm, xn, B, dim, c.rmsEps); // every row is a "last token"
      matmul(gpu, xn, this.output, logits, B, force); // [B, vocabLocal]
      const out = new Float32Array(await gpu.read(logits, B * vocab * 4));
      for (const r of rows) this.lengths[r.slot] = r.pos + 1;
      return out;
    } finally {
      for (const b of scratch) gpu.free(b);
    }
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
      for (const wt of [L.wq, L.wk, L.wv, L.wo, L.wGate, L.wUp, L.wDown]) drop(wt.buf);
      drop(L.kCache);
      drop(L.vCache);
    }
    drop(this.tokenEmbd.buf);
    drop(this.output.buf);
    drop(this.outputNorm);
    drop(this.ropeTab);
    drop(this.kvmap);
  }
}
