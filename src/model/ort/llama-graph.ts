// ONNX graphs of one tensor-parallel rank's Llama forward, cut at the communication points.
//   tp = 1: ONE graph for the whole forward (embedding .. logits): no communication point, so one
//           session run per step and ORT sees every op at once.
//   tp > 1: per layer an attention piece and an MLP piece, then a head piece. Each piece ends in a
//           row-parallel matmul whose [T, dim] partial sum leaves the graph for the all-reduce; the
//           summed result enters the next piece as `delta`, which adds it to the residual stream first.
//             attn_l : (l = 0: tokens -> embedding | l > 0: x + delta) -> RMSNorm -> QKV -> RoPE
//                      -> attention over [past K/V ; new K/V] -> wo  => x_out, partial, k_new, v_new
//             mlp_l  : x + delta -> RMSNorm -> gate/up -> SiLU(gate)*up -> w_down => x_out, partial
//             head   : x + delta -> last row -> RMSNorm -> this rank's vocab rows => logits
//           Every piece is its own session with its weights as initializers: passing weights as graph
//           inputs would let the layers share one graph, but ORT Web copies every input into the wasm
//           heap on every run, i.e. the whole model per token.
// KV cache: the graph takes past K/V [P, kvDim] as inputs and returns only this step's rows
// k_new/v_new [T, kvDim] (post-RoPE); the caller appends them to its own cache. ORT Web copies CPU
// inputs into the wasm heap on each run, so the past rows are copied in once per step, but nothing of
// size P comes back out (a "present" output would copy the whole cache back as well).
// Weights: f16 / q8_0 / q4_0 are dequantized to f32 at load. ORT's cheap quantized path
// (com.microsoft MatMulNBits) is 4-bit only and has no ggml block layout; DequantizeLinear in the graph
// would dequantize again on every run.
import type { LayerShard, ModelShard, WeightTensor } from '../types';
import { dequantize, dequantizeTo } from './dequant';
import { GraphBuilder } from './onnx-graph';

/** Names of the graph inputs/outputs the runtime (llama-ort.ts) feeds and reads. */
export const IO = {
  tokens: 'tokens', // int32 [T]
  cos: 'rope_cos', // [T, 1, headDim]: cos of pair i at columns 2i and 2i+1
  sin: 'rope_sin', // [T, 1, headDim]
  mask: 'mask', // [T, S] additive causal mask (0 or -inf), S = P + T
  x: 'x', // [T, dim] residual stream in
  delta: 'delta', // [T, dim] all-reduced partial sum to add to x first
  xOut: 'x_out', // [T, dim] residual stream out
  partial: 'partial', // [T, dim] row-parallel partial sum
  logits: 'logits', // [1, vocabLocal]
  pastK: (l: number) => `past_k_${l}`, // [P, kvDim]
  pastV: (l: number) => `past_v_${l}`,
  newK: (l: number) => `k_new_${l}`, // [T, kvDim]
  newV: (l: number) => `v_new_${l}`,
};

export interface BuiltGraph {
  bytes: Uint8Array; // ModelProto
  weightBytes: number; // f32 initializer bytes
}

function f32(w: WeightTensor): Float32Array {
  return dequantize(w); // [rows, cols] f32 (a copy even for f32: the shard's bytes may be unaligned)
}

/** Stacks the rows of several [r_i, cols] matrices into one [sum r_i, cols] (one Gemm instead of several). */
function stackRows(ws: WeightTensor[]): Float32Array {
  const out = new Float32Array(ws.reduce((n, w) => n + w.rows * w.cols, 0)); // [sum rows, cols]
  let o = 0;
  for (const w of ws) {
    dequantizeTo(w, out, o);
    o += w.rows * w.cols;
  }
  return out;
}

function sameTensor(a: WeightTensor, b: WeightTensor): boolean {
  return a === b || (a.type === b.type && a.rows === b.rows && a.data.buffer === b.data.buffer &&
    a.data.byteOffset === b.data.byteOffset && a.data.byteLength === b.data.byteLength);
}

/**
 * x / sqrt(mean(x^2) + eps) * w over the last axis, spelled Pow(x, 2) -> ReduceMean -> Add -> Sqrt ->
 * Div -> Mul: the pattern ORT's optimizer fuses into one SimplifiedLayerNormalization kernel.
 */
function rmsNorm(b: GraphBuilder, x: string, w: string, eps: number): string {
  const sq = b.node('Pow', [x, b.constF32(2)]); // [T, dim]
  const ms = b.node('ReduceMean', [sq], { axes: [-1], keepdims: 1 }); // [T, 1]
  const rs = b.node('Sqrt', [b.node('Add', [ms, b.constF32(eps)])]); // [T, 1]
  return b.node('Mul', [b.node('Div', [x, rs]), w]); // [T, dim]
}

/** y = x @ W^T for W [out, in] stored as GGUF keeps it (Gemm transB: no transposed copy at load). */
function linear(b: GraphBuilder, x: string, w: string, out?: string): string {
  return b.node('Gemm', [x, w], { transB: 1 }, out); // [T, out]
}

/**
 * llama.cpp "normal" RoPE: adjacent pairs (x0, x1) of each head -> (x0 c - x1 s, x0 s + x1 c), spelled
 * x * cos + swap(x) * sin with swap(x) = (-x1, x0) per pair: a MatMul by a constant [hd, hd] of 0 / +-1
 * (exact: every product is 0 or +-x). 6 kernels instead of 10: at small widths each kernel's fixed
 * cost in ORT's wasm executor is the whole step.
 */
function rope(b: GraphBuilder, x: string, nHeads: number, hd: number): string {
  const swap = new Float32Array(hd * hd); // [hd, hd]: (x @ swap)[2i] = -x[2i+1], (x @ swap)[2i+1] = x[2i]
  for (let i = 0; i < hd; i += 2) {
    swap[(i + 1) * hd + i] = -1;
    swap[i * hd + i + 1] = 1;
  }
  const name = `rope_swap_${hd}`;
  if (!b.hasInit(name)) {
    b.initF32(name, swap, [hd, hd]);
    b.floatBytes -= swap.byteLength; // a constant, not model weights
  }
  const x3 = b.node('Reshape', [x, b.constI64([-1, nHeads, hd])]); // [T, H, hd]
  const sw = b.node('MatMul', [x3, name]); // [T, H, hd]
  const r = b.node('Add', [b.node('Mul', [x3, IO.cos]), b.node('Mul', [sw, IO.sin])]); // [T, H, hd]
  return b.node('Reshape', [r, b.constI64([-1, nHeads * hd])]); // [T, H*hd]
}

/** Declares the inputs every attention-bearing graph needs: RoPE angles and the causal mask. */
function attnInputs(b: GraphBuilder, hd: number): void {
  b.input(IO.cos, 'float32', ['T', 1, hd]);
  b.input(IO.sin, 'float32', ['T', 1, hd]);
  b.input(IO.mask, 'float32', ['T', 'S']);
}

/** Attention block of layer l on the residual x [T, dim]: returns the [T, dim] partial after wo. */
function emitAttention(b: GraphBuilder, s: ModelShard, l: number, L: LayerShard, x: string, outName?: string): string {
  const c = s.config;
  const hd = c.headDim;
  const hq = s.nHeadsLocal;
  const hkv = s.nKvHeadsLocal;
  const qDim = hq * hd;
  const kvDim = hkv * hd;
  const norm = b.initF32(`l${l}.attn_norm`, L.attnNorm, [c.dim]);
  const wqkv = b.initF32(`l${l}.wqkv`, stackRows([L.wq, L.wk, L.wv]), [qDim + 2 * kvDim, c.dim]);
  const wo = b.initF32(`l${l}.wo`, f32(L.wo), [c.dim, qDim]);
  const pastK = b.input(IO.pastK(l), 'float32', ['P', kvDim]);
  const pastV = b.input(IO.pastV(l), 'float32', ['P', kvDim]);
  b.output(IO.newK(l), 'float32', ['T', kvDim]);
  b.output(IO.newV(l), 'float32', ['T', kvDim]);

  const xn = rmsNorm(b, x, norm, c.rmsEps); // [T, dim]
  const qkv = linear(b, xn, wqkv); // [T, qDim + 2 kvDim]
  // Query and key heads rotate by the same angles: one RoPE over both (fewer nodes, each with a
  // fixed cost in ORT's wasm executor that dominates at small widths).
  const [qk] = b.nodeN('Split', [qkv, b.constI64([qDim + kvDim, kvDim])], { axis: 1 }, [`l${l}.qk`, IO.newV(l)]); // [T, qDim + kvDim], [T, kvDim] (graph output)
  const qkr = rope(b, qk, hq + hkv, hd); // [T, qDim + kvDim]
  const [qr] = b.nodeN('Split', [qkr, b.constI64([qDim, kvDim])], { axis: 1 }, [`l${l}.q_rot`, IO.newK(l)]); // [T, qDim], [T, kvDim] (graph output)
  const kAll = b.node('Concat', [pastK, IO.newK(l)], { axis: 0 }); // [S, kvDim]
  const vAll = b.node('Concat', [pastV, IO.newV(l)], { axis: 0 }); // [S, kvDim]
  const scale = b.constF32(1 / Math.sqrt(hd));
  const g = hq / hkv;
  const regular = Number.isInteger(g) && s.kvHeadOfLocalHead.every((kh, h) => kh === Math.floor(h / g));
  let a2: string; // [T, qDim] attention output
  if (regular) {
    // GQA without copying the cache per query head: the g query heads of a kv head are one batch entry,
    // and MatMul broadcasts K/V over them ([Hkv, g, T, hd] x [Hkv, 1, hd, S]).
    const q4 = b.node('Transpose', [b.node('Reshape', [qr, b.constI64([-1, hkv, g, hd])])], { perm: [1, 2, 0, 3] }); // [Hkv, g, T, hd]
    const kv4 = (t: string, perm: number[]) => b.node('Transpose', [b.node('Reshape', [t, b.constI64([-1, hkv, 1, hd])])], { perm });
    const kt = kv4(kAll, [1, 2, 3, 0]); // [Hkv, 1, hd, S]
    const vt = kv4(vAll, [1, 2, 0, 3]); // [Hkv, 1, S, hd]
    const scores = b.node('Mul', [b.node('MatMul', [q4, kt]), scale]); // [Hkv, g, T, S]
    const p = b.node('Softmax', [b.node('Add', [scores, IO.mask])], { axis: -1 }); // [Hkv, g, T, S]
    const a = b.node('Transpose', [b.node('MatMul', [p, vt])], { perm: [2, 0, 1, 3] }); // [T, Hkv, g, hd]
    a2 = b.node('Reshape', [a, b.constI64([-1, qDim])]); // [T, qDim]
  } else {
    // A kv group straddles two ranks (e.g. 3 query heads per rank in groups of 2): the local mapping is
    // irregular, so each query head gets its kv head by a Gather on the head axis.
    const heads = (t: string): string => {
      const t3 = b.node('Reshape', [t, b.constI64([-1, hkv, hd])]); // [S, Hkv, hd]
      return b.node('Gather', [t3, b.constI64(s.kvHeadOfLocalHead)], { axis: 1 }); // [S, Hq, hd]
    };
    const kt = b.node('Transpose', [heads(kAll)], { perm: [1, 2, 0] }); // [Hq, hd, S]
    const vt = b.node('Transpose', [heads(vAll)], { perm: [1, 0, 2] }); // [Hq, S, hd]
    const qt = b.node('Transpose', [b.node('Reshape', [qr, b.constI64([-1, hq, hd])])], { perm: [1, 0, 2] }); // [Hq, T, hd]
    const scores = b.node('Mul', [b.node('MatMul', [qt, kt]), scale]); // [Hq, T, S]
    const p = b.node('Softmax', [b.node('Add', [scores, IO.mask])], { axis: -1 }); // [Hq, T, S]
    const a = b.node('Transpose', [b.node('MatMul', [p, vt])], { perm: [1, 0, 2] }); // [T, Hq, hd]
    a2 = b.node('Reshape', [a, b.constI64([-1, qDim])]); // [T, qDim]
  }
  return linear(b, a2, wo, outName); // [T, dim] partial over this rank's heads
}

/** MLP block of layer l on the residual h [T, dim]: returns the [T, dim] partial after w_down. */
function emitMlp(b: GraphBuilder, s: ModelShard, l: number, L: LayerShard, h: string, outName?: string): string {
  const c = s.config;
  const H = s.hiddenLocal;
  const norm = b.initF32(`l${l}.ffn_norm`, L.ffnNorm, [c.dim]);
  const wgu = b.initF32(`l${l}.w_gate_up`, stackRows([L.wGate, L.wUp]), [2 * H, c.dim]);
  const wd = b.initF32(`l${l}.w_down`, f32(L.wDown), [c.dim, H]);
  const hn = rmsNorm(b, h, norm, c.rmsEps); // [T, dim]
  const [g, u] = b.nodeN('Split', [linear(b, hn, wgu), b.constI64([H, H])], { axis: 1 }, 2); // [T, H] each
  const act = b.node('Mul', [b.node('Mul', [g, b.node('Sigmoid', [g])]), u]); // [T, H] SiLU(g) * u
  return linear(b, act, wd, outName); // [T, dim] partial over this rank's hidden slice
}

/** Embedding rows of `tokens` [T] -> [T, dim]. */
function emitEmbed(b: GraphBuilder, s: ModelShard): string {
  b.input(IO.tokens, 'int32', ['T']);
  const e = b.initF32('token_embd', f32(s.tokenEmbd), [s.config.vocabSize, s.config.dim]);
  return b.node('Gather', [e, IO.tokens], { axis: 0 }); // [T, dim]
}

/**
 * Last row of x -> RMSNorm -> this rank's vocab rows: logits [1, vocabLocal]; with `allRows` every
 * row ([T, vocabLocal]: a batched decode, where each row is some sequence's last token).
 */
function emitHead(b: GraphBuilder, s: ModelShard, x: string, allRows = false): void {
  const c = s.config;
  const norm = b.initF32('output_norm', s.outputNorm, [c.dim]);
  // A tied head (tp = 1) is the embedding itself: one initializer serves Gather and Gemm.
  const w = b.hasInit('token_embd') && sameTensor(s.output, s.tokenEmbd)
    ? 'token_embd'
    : b.initF32('output', f32(s.output), [s.output.rows, c.dim]);
  const last = allRows ? x : b.node('Slice', [x, b.constI64([-1]), b.constI64([2 ** 31 - 1]), b.constI64([0])]); // [1 | T, dim]
  b.output(IO.logits, 'float32', [allRows ? 'T' : 1, s.output.rows]);
  linear(b, rmsNorm(b, last, norm, c.rmsEps), w, IO.logits); // [1, vocabLocal]
}

function finish(b: GraphBuilder): BuiltGraph {
  return { bytes: b.encode(), weightBytes: b.floatBytes };
}

/** The whole forward in one graph (no communication point: tp = 1, or a caller that never reduces). */
export function buildFusedGraph(s: ModelShard): BuiltGraph {
  const b = new GraphBuilder('llama_fused');
  attnInputs(b, s.config.headDim);
  let x = emitEmbed(b, s); // [T, dim]
  s.layers.forEach((L, l) => {
    x = b.node('Add', [x, emitAttention(b, s, l, L, x)]); // [T, dim]
    x = b.node('Add', [x, emitMlp(b, s, l, L, x)]); // [T, dim]
  });
  emitHead(b, s, x);
  return finish(b);
}

/** Adds the all-reduced `delta` to the incoming residual x (both inputs [T, dim]) -> x_out output. */
function residualIn(b: GraphBuilder, dim: number): string {
  b.input(IO.x, 'float32', ['T', dim]);
  b.input(IO.delta, 'float32', ['T', dim]);
  b.output(IO.xOut, 'float32', ['T', dim]);
  return b.node('Add', [IO.x, IO.delta], {}, IO.xOut); // [T, dim]
}

/** Attention piece of layer l (see the header). Layer 0 starts from the token ids. */
export function buildAttnPiece(s: ModelShard, l: number): BuiltGraph {
  const b = new GraphBuilder(`llama_attn_${l}`);
  const dim = s.config.dim;
  attnInputs(b, s.config.headDim);
  let x: string;
  if (l === 0) {
    b.output(IO.xOut, 'float32', ['T', dim]);
    x = b.node('Identity', [emitEmbed(b, s)], {}, IO.xOut); // [T, dim]
  } else {
    x = residualIn(b, dim);
  }
  b.output(IO.partial, 'float32', ['T', dim]);
  emitAttention(b, s, l, s.layers[l], x, IO.partial);
  return finish(b);
}

/** MLP piece of layer l. */
export function buildMlpPiece(s: ModelShard, l: number): BuiltGraph {
  const b = new GraphBuilder(`llama_mlp_${l}`);
  const h = residualIn(b, s.config.dim);
  b.output(IO.partial, 'float32', ['T', s.config.dim]);
  emitMlp(b, s, l, s.layers[l], h, IO.partial);
  return finish(b);
}

/** Head piece: the last MLP's all-reduced sum, the final norm and this rank's vocab slice (last row, or all rows). */
export function buildHeadPiece(s: ModelShard, allRows = false): BuiltGraph {
  const b = new GraphBuilder(allRows ? 'llama_head_rows' : 'llama_head');
  const dim = s.config.dim;
  b.input(IO.x, 'float32', ['T', dim]);
  b.input(IO.delta, 'float32', ['T', dim]);
  emitHead(b, s, b.node('Add', [IO.x, IO.delta]), allRows); // [T, dim] -> logits [1 | T, vocabLocal]
  return finish(b);
}
