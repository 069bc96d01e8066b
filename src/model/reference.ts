// Plain-TypeScript f32 Llama forward with a KV cache: the CPU reference the GPU path is tested against.
// It runs over one tensor-parallel rank's ModelShard. Partial sums of the row-parallel matmuls (wo and
// w_down) go through `reduce` before the residual add, exactly where the GPU forward all-reduces, so
// running every rank's LlamaCpu with a summing hook reproduces the tp=1 model.
// Weights are dequantized to f32 once at construction (simple, and this is a reference, not a fast path).
// Dot products accumulate in JS doubles and are stored as f32.

import type { ModelShard } from './types';
import { dequantizeMatrix } from './quant';

export type ReduceHook = (partial: Float32Array) => Promise<Float32Array>;

interface DenseLayer {
  attnNorm: Float32Array; // [dim]
  wq: Float32Array; // [nHeadsLocal*headDim, dim]
  wk: Float32Array; // [nKvHeadsLocal*headDim, dim]
  wv: Float32Array; // [nKvHeadsLocal*headDim, dim]
  wo: Float32Array; // [dim, nHeadsLocal*headDim]
  ffnNorm: Float32Array; // [dim]
  wGate: Float32Array; // [hiddenLocal, dim]
  wUp: Float32Array; // [hiddenLocal, dim]
  wDown: Float32Array; // [dim, hiddenLocal]
}

/** out[t, r] = sum_c x[t, c] * w[r, c]  for x [T, cols], w [rows, cols] -> out [T, rows]. */
export function matmulT(x: Float32Array, w: Float32Array, T: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(T * rows); // [T, rows]
  for (let t = 0; t < T; t++) {
    const xo = t * cols;
    for (let r = 0; r < rows; r++) {
      const wo = r * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += x[xo + c] * w[wo + c];
      out[t * rows + r] = s;
    }
  }
  return out;
}

/** RMSNorm of each of T rows of width n: x / sqrt(mean(x^2) + eps) * w. */
export function rmsNorm(x: Float32Array, w: Float32Array, T: number, n: number, eps: number): Float32Array {
  const out = new Float32Array(T * n); // [T, n]
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[t * n + i] * x[t * n + i];
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[t * n + i] = x[t * n + i] * inv * w[i];
  }
  return out;
}

/**
 * llama.cpp "normal" RoPE in place: within each head, the adjacent pair (2i, 2i+1) is rotated by
 * pos * theta^(-2i/headDim). x is [T, nHeads*headDim]; token t sits at position pos0 + t.
 */
export function ropeInPlace(x: Float32Array, T: number, nHeads: number, headDim: number, pos0: number, theta: number): void {
  for (let t = 0; t < T; t++) {
    const p = pos0 + t;
    for (let i = 0; i < headDim / 2; i++) {
      const ang = p * Math.pow(theta, (-2 * i) / headDim);
      const c = Math.cos(ang);
      const s = Math.sin(ang);
      for (let h = 0; h < nHeads; h++) {
        const o = (t * nHeads + h) * headDim + 2 * i;
        const a = x[o];
        const b = x[o + 1];
        x[o] = a * c - b * s;
        x[o + 1] = a * s + b * c;
      }
    }
  }
}

export class LlamaCpu {
  private readonly layers: DenseLayer[];
  private readonly embd: Float32Array; // [vocab, dim]
  private readonly outW: Float32Array; // [vocabLocal, dim]
  private readonly kCache: Float32Array[]; // per layer [maxSeqLen, nKvHeadsLocal*headDim]
  private readonly vCache: Float32Array[]; // per layer [maxSeqLen, nKvHeadsLocal*headDim]
  /** Number of positions filled in the KV cache. */
  length = 0;

  constructor(
    readonly shard: ModelShard,
    readonly maxSeqLen: number,
  ) {
    const s = shard;
    const kvw = s.nKvHeadsLocal * s.config.headDim;
    this.embd = dequantizeMatrix(s.tokenEmbd);
    this.outW = dequantizeMatrix(s.output);
    this.layers = s.layers.map((l) => ({
      attnNorm: l.attnNorm,
      wq: dequantizeMatrix(l.wq),
      wk: dequantizeMatrix(l.wk),
      wv: dequantizeMatrix(l.wv),
      wo: dequantizeMatrix(l.wo),
      ffnNorm: l.ffnNorm,
      wGate: dequantizeMatrix(l.wGate),
      wUp: dequantizeMatrix(l.wUp),
      wDown: dequantizeMatrix(l.wDown),
    }));
    this.kCache = s.layers.map(() => new Float32Array(maxSeqLen * kvw));
    this.vCache = s.layers.map(() => new Float32Array(maxSeqLen * kvw));
  }

  reset(): void {
    this.length = 0; // stale cache rows are overwritten before they are read
  }

  /**
   * Run `tokens` at positions pos..pos+T-1 (prefill when T > 1, decode when T = 1), appending to the
   * KV cache. Returns this rank's logits for the last token: [vocabLocal] (rows vocabStart.. of the head).
   */
  async forward(tokens: Int32Array, pos: number, reduce?: ReduceHook): Promise<Float32Array> {
    const s = this.shard;
    const c = s.config;
    const T = tokens.length;
    const { dim, headDim } = c;
    if (T === 0) throw new Error('forward: no tokens');
    if (pos !== this.length) throw new Error(`forward: pos ${pos} but the cache holds ${this.length} positions`);
    if (pos + T > this.maxSeqLen) throw new Error(`forward: ${pos + T} positions exceed maxSeqLen ${this.maxSeqLen}`);
    const qw = s.nHeadsLocal * headDim;
    const kvw = s.nKvHeadsLocal * headDim;
    const H = s.hiddenLocal;

    const x = new Float32Array(T * dim); // [T, dim] residual stream
    for (let t = 0; t < T; t++) {
      const id = tokens[t];
      if (id < 0 || id >= c.vocabSize) throw new RangeError(`token id ${id} out of range`);
      x.set(this.embd.subarray(id * dim, (id + 1) * dim), t * dim);
    }

    for (let li = 0; li < this.layers.length; li++) {
      const L = this.layers[li];
      const xn = rmsNorm(x, L.attnNorm, T, dim, c.rmsEps); // [T, dim]
      const q = matmulT(xn, L.wq, T, qw, dim); // [T, nHeadsLocal*headDim]
      const k = matmulT(xn, L.wk, T, kvw, dim); // [T, nKvHeadsLocal*headDim]
      const v = matmulT(xn, L.wv, T, kvw, dim); // [T, nKvHeadsLocal*headDim]
      ropeInPlace(q, T, s.nHeadsLocal, headDim, pos, c.ropeTheta);
      ropeInPlace(k, T, s.nKvHeadsLocal, headDim, pos, c.ropeTheta);
      this.kCache[li].set(k, pos * kvw); // cache rows [pos, pos+T)
      this.vCache[li].set(v, pos * kvw);

      const att = this.attention(q, li, T, pos); // [T, nHeadsLocal*headDim]
      let o = matmulT(att, L.wo, T, dim, qw); // [T, dim] partial sum over this rank's heads
      if (reduce) o = await reduce(o);
      for (let i = 0; i < T * dim; i++) x[i] += o[i];

      const hn = rmsNorm(x, L.ffnNorm, T, dim, c.rmsEps); // [T, dim]
      const g = matmulT(hn, L.wGate, T, H, dim); // [T, hiddenLocal]
      const u = matmulT(hn, L.wUp, T, H, dim); // [T, hiddenLocal]
      for (let i = 0; i < T * H; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i]; // SwiGLU
      let d = matmulT(g, L.wDown, T, dim, H); // [T, dim] partial sum over this rank's hidden slice
      if (reduce) d = await reduce(d);
      for (let i = 0; i < T * dim; i++) x[i] += d[i];
    }
    this.length = pos + T;

    const last = rmsNorm(x.subarray((T - 1) * dim), s.outputNorm, 1, dim, c.rmsEps); // [1, dim]
    return matmulT(last, this.outW, 1, s.output.rows, dim); // [vocabLocal]
  }

  /** Causal attention of T new queries over cache positions [0, pos+t]. */
  private attention(q: Float32Array, li: number, T: number, pos: number): Float32Array {
    const s = this.shard;
    const hd = s.config.headDim;
    const qw = s.nHeadsLocal * hd;
    const kvw = s.nKvHeadsLocal * hd;
    const K = this.kCache[li];
    const V = this.vCache[li];
    const out = new Float32Array(T * qw); // [T, nHeadsLocal*headDim]
    const scale = 1 / Math.sqrt(hd);
    const scores = new Float64Array(pos + T); // [positions]
    for (let t = 0; t < T; t++) {
      const n = pos + t + 1;
      for (let h = 0; h < s.nHeadsLocal; h++) {
        const kh = s.kvHeadOfLocalHead[h];
        const qo = t * qw + h * hd;
        let max = -Infinity;
        for (let p = 0; p < n; p++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[qo + i] * K[p * kvw + kh * hd + i];
          scores[p] = dot * scale;
          if (scores[p] > max) max = scores[p];
        }
        let sum = 0;
        for (let p = 0; p < n; p++) sum += scores[p] = Math.exp(scores[p] - max);
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          for (let p = 0; p < n; p++) acc += scores[p] * V[p * kvw + kh * hd + i];
          out[qo + i] = acc / sum;
        }
      }
    }
    return out;
  }
}
