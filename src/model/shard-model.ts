// The surface the LLM engine needs from a single-device forward over one tensor-parallel rank's
// ModelShard, whatever runs it: LlamaGpu (WGSL on WebGPU) or LlamaOrt (ONNX Runtime Web, wasm or
// webgpu). Both take the same `reduce` hook at the same two points per layer, so ranks on different
// runtimes can form one tensor-parallel group.

/** [T*dim] partial sums of a row-parallel matmul -> their sum over ranks (same length). */
export type ReduceHook = (partial: Float32Array) => Promise<Float32Array>;

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
