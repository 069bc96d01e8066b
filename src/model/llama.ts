// Single-device GPU Llama forward over one tensor-parallel rank's ModelShard, with a KV cache.
// No communication here: the parallel plan passes a `reduce` hook that is called on the partial sums of
// the two row-parallel matmuls per layer (attention wo, MLP w_down) before the residual add, like
// gpt-fast's tp.py all-reduce. With tp=1 the hook is omitted and everything stays on the GPU until the
// last token's logits are read back.
import type { Gpu } from '../gpu/gpu';
import { attention } from '../kernels/attention';
import { uploadWeight, type GpuWeight } from '../kernels/common';
import { add, siluMul } from '../kernels/elementwise';
import { embed } from '../kernels/embed';
import { matmul } from '../kernels/matmul';
import { rmsnorm } from '../kernels/rmsnorm';
import { rope, ropeTable } from '../kernels/rope';
import type { ModelShard } from './types';

export type ReduceHook = (partial: Float32Array) => Promise<Float32Array>; // [T*dim] partial sums -> summed

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
  kCache: GPUBuffer; // [maxSeqLen, kvDim]
  vCache: GPUBuffer; // [maxSeqLen, kvDim]
}

export class LlamaGpu {
  /** Positions filled in the KV cache (the next forward must start here). */
  length = 0;
  private destroyed = false;

  private constructor(
    private readonly gpu: Gpu,
    readonly shard: ModelShard,
    readonly maxSeqLen: number,
    private readonly layers: GpuLayer[],
    private readonly tokenEmbd: GpuWeight, // [vocab, dim]
    private readonly output: GpuWeight, // [vocabLocal, dim]
    private readonly outputNorm: GPUBuffer, // [dim]
    private readonly ropeTab: GPUBuffer, // [maxSeqLen, headDim/2, 2]
    private readonly kvmap: GPUBuffer, // u32 [nHeadsLocal]
    private readonly weightBytesTotal: number,
    private readonly kvBytesTotal: number,
  ) {}

  /** Uploads the shard's weights and allocates the per-layer K and V caches [maxSeqLen, nKvHeadsLocal*headDim]. */
  static async load(gpu: Gpu, shard: ModelShard, opts: { maxSeqLen: number }): Promise<LlamaGpu> {
    const c = shard.config;
    const maxSeqLen = opts.maxSeqLen;
    if (maxSeqLen < 1) throw new Error(`maxSeqLen ${maxSeqLen}`);
    const kvDim = shard.nKvHeadsLocal * c.headDim;
    const cacheBytes = maxSeqLen * kvDim * 4;
    if (cacheBytes > gpu.report.limits.maxStorageBufferBindingSize) {
      throw new Error(`KV cache of ${cacheBytes} bytes per layer exceeds the adapter's binding limit; lower maxSeqLen`);
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
    return new LlamaGpu(gpu, shard, maxSeqLen, layers, tokenEmbd, output, outputNorm, ropeTab, kvmap, wBytes, kvBytes);
  }

  kvBytes(): number {
    return this.kvBytesTotal;
  }

  weightBytes(): number {
    return this.weightBytesTotal;
  }

  /**
   * Runs tokens at positions [pos, pos+T), appending to the KV cache. `reduce`, when given, receives the
   * [T*dim] partial sums after wo and after w_down (twice per layer) and returns their sum over ranks.
   * Returns this rank's logits of the last token: [vocabLocal].
   */
  async forward(tokens: Int32Array, pos: number, reduce?: ReduceHook): Promise<Float32Array> {
    if (this.destroyed) throw new Error('forward: model destroyed');
    const gpu = this.gpu;
    const s = this.shard;
    const c = s.config;
    const T = tokens.length;
    const { dim, headDim } = c;
    if (T === 0) throw new Error('forward: no tokens');
    if (pos !== this.length) throw new Error(`forward: pos ${pos} but the cache holds ${this.length} positions`);
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
        // Append this step's keys/values: cache rows [pos, pos+T) are contiguous, so one copy each.
        gpu.copy(k, 0, L.kCache, pos * kvDim * 4, T * kvDim * 4);
        gpu.copy(v, 0, L.vCache, pos * kvDim * 4, T * kvDim * 4);
        attention(gpu, q, L.kCache, L.vCache, this.kvmap, att,
          { T, pos, nHeads: s.nHeadsLocal, headDim, kvDim }, 0); // [T, qDim]
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
      this.length = pos + T;
      return out;
    } finally {
      for (const b of scratch) gpu.free(b);
    }
  }

  /** Clears the sequence (pos back to 0); stale cache rows are overwritten before they are read. */
  reset(): void {
    this.length = 0;
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
