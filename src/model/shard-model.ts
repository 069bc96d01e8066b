// The surface the LLM engine needs from a single-device forward over one tensor-parallel rank's
// ModelShard, whatever runs it: LlamaGpu (WGSL on WebGPU) or LlamaOrt (ONNX Runtime Web, wasm or
// webgpu). Both take the same `reduce` hook at the same two points per layer, so ranks on different
// runtimes can form one tensor-parallel group.

/** [T*dim] partial sums of a row-parallel matmul -> their sum over ranks (same length). */
export type ReduceHook = (partial: Float32Array) => Promise<Float32Array>;

/** One row of a batched decode: the slot's next token at position `pos` (= the slot's length). */
export interface DecodeRow {
  slot: number;
  token: number;
  pos: number;
}

/**
 * The checks every decodeBatch makes before it runs (LlamaGpu and LlamaOrt alike): at least one row,
 * each slot valid and at most once, each row at its slot's next position with room left.
 */
export function checkDecodeRows(rows: DecodeRow[], lengths: readonly number[], maxSlots: number, maxSeqLen: number): void {
  if (rows.length === 0) throw new Error('decodeBatch: no rows');
  const seen = new Set<number>();
  for (const r of rows) {
    if (!(r.slot >= 0 && r.slot < maxSlots) || seen.has(r.slot)) throw new Error(`decodeBatch: bad or repeated slot ${r.slot}`);
    seen.add(r.slot);
    if (r.pos !== lengths[r.slot]) throw new Error(`decodeBatch: pos ${r.pos} but slot ${r.slot} holds ${lengths[r.slot]} positions`);
    if (r.pos + 1 > maxSeqLen) throw new Error(`decodeBatch: slot ${r.slot} is full (maxSeqLen ${maxSeqLen})`);
  }
}

export interface ShardModel {
  /** Positions filled in the KV cache (the next forward must start here). */
  readonly length: number;
  readonly maxSeqLen: number;
  /**
   * Runs tokens at positions [pos, pos+T), appending to the KV cache; `reduce` (tp > 1) is called twice
   * per layer, after wo and after w_down. Returns this rank's logits of the last token: [vocabLocal].
   */
  forward(tokens: Int32Array, pos: number, reduce?: ReduceHook): Promise<Float32Array>;
  /** Clears the sequence (pos back to 0). */
  reset(): void;
  destroy(): void;
  weightBytes(): number;
  kvBytes(): number;
}
