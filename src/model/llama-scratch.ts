// Activation buffers of LlamaGpu's forward / decode steps (src/model/llama.ts): one set per step, sized for its
// token rows, or the persistent decode set the model keeps so every step binds the same buffers.
import type { ModelShard } from './types';

/** Activation buffers of one forward / decode step, each sized for `rows` token rows. */
export interface Scratch {
  tok: GPUBuffer; // i32 [rows]
  pos: GPUBuffer; // u32 [rows] (unfused path: ropeBatch positions)
  rowInfo: GPUBuffer; // u32 [rows, 2] (slot base row, pos)
  x: GPUBuffer; // [rows, dim] residual stream
  xn: GPUBuffer; // [rows, dim] normed
  qkv: GPUBuffer; // [rows, qDim + 2*kvDim] fused projection output
  q: GPUBuffer; // [rows, qDim] rotated queries
  k: GPUBuffer; // [rows, kvDim] (unfused path)
  v: GPUBuffer; // [rows, kvDim] (unfused path)
  att: GPUBuffer; // [rows, qDim]
  o: GPUBuffer; // [rows, dim] row-parallel partial sums
  gu: GPUBuffer; // [rows, 2*hiddenLocal] fused gate|up (unfused: up in the first half)
  h: GPUBuffer; // [rows, hiddenLocal] silu(gate) * up
  lastN: GPUBuffer; // [dim]
  logits: GPUBuffer; // [logitRows, vocabLocal]
}

/** A Scratch for R token rows and logitRows rows of logits [logitRows, vocabLocal]; alloc takes a float count. */
export function allocScratch(s: ModelShard, vocabLocal: number, R: number, logitRows: number,
  alloc: (floats: number, label: string) => GPUBuffer): Scratch {
  const { dim, headDim } = s.config;
  const qDim = s.nHeadsLocal * headDim;
  const kvDim = s.nKvHeadsLocal * headDim;
  const hid = s.hiddenLocal;
  return {
    tok: alloc(R, 'tokens'), // i32 [R]
    pos: alloc(R, 'pos'), // u32 [R]
    rowInfo: alloc(2 * R, 'rows'), // u32 [R, 2]
    x: alloc(R * dim, 'x'), // [R, dim]
    xn: alloc(R * dim, 'xn'), // [R, dim]
    qkv: alloc(R * (qDim + 2 * kvDim), 'qkv'), // [R, qDim + 2*kvDim]
    q: alloc(R * qDim, 'q'), // [R, qDim]
    k: alloc(R * kvDim, 'k'), // [R, kvDim]
    v: alloc(R * kvDim, 'v'), // [R, kvDim]
    att: alloc(R * qDim, 'att'), // [R, qDim]
    o: alloc(R * dim, 'o'), // [R, dim]
    gu: alloc(R * 2 * hid, 'gate_up'), // [R, 2*hiddenLocal]
    h: alloc(R * hid, 'ffn_h'), // [R, hiddenLocal]
    lastN: alloc(dim, 'last_n'), // [dim]
    logits: alloc(logitRows * vocabLocal, 'logits'), // [logitRows, vocabLocal]
  };
}
