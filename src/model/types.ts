// Shared model types: the contract between the loader (gguf.ts), the tensor-parallel plan
// (src/parallel/tp.ts), the CPU reference (reference.ts) and the GPU forward (llama.ts).

/** ggml tensor element types we accept. Raw bytes are kept exactly as GGUF stores them. */
export type GgmlType = 'f32' | 'f16' | 'q8_0' | 'q4_0';

export interface LlamaConfig {
  dim: number; // model width (llama.embedding_length)
  hiddenDim: number; // MLP width (llama.feed_forward_length)
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number; // dim / nHeads
  vocabSize: number;
  ropeTheta: number;
  rmsEps: number;
  contextLength: number;
  bos: number;
  eos: number;
  tiedOutput: boolean; // output head shares token_embd
}

/**
 * A 2-D weight matrix, row-major as (rows = out_features, cols = in_features), as GGUF stores it
 * (GGUF lists dims innermost first, so [in, out]). `data` holds the raw ggml bytes of these rows:
 * f32: rows*cols*4 bytes; f16: rows*cols*2; q8_0: rows*(cols/32)*34 (blocks along cols: f16 scale + 32 int8).
 */
export interface WeightTensor {
  type: GgmlType;
  rows: number;
  cols: number;
  data: Uint8Array;
}

/** One transformer block's weights for one tensor-parallel rank. */
export interface LayerShard {
  attnNorm: Float32Array; // [dim] (replicated)
  wq: WeightTensor; // [nHeadsLocal*headDim, dim]     column-parallel (rows sliced)
  wk: WeightTensor; // [nKvHeadsLocal*headDim, dim]   column-parallel (rows sliced, or replicated heads)
  wv: WeightTensor; // [nKvHeadsLocal*headDim, dim]
  wo: WeightTensor; // [dim, nHeadsLocal*headDim]     row-parallel (cols sliced)
  ffnNorm: Float32Array; // [dim]
  wGate: WeightTensor; // [hiddenLocal, dim]          column-parallel
  wUp: WeightTensor; // [hiddenLocal, dim]            column-parallel
  wDown: WeightTensor; // [dim, hiddenLocal]          row-parallel
}

/** Everything one rank holds. tp=1 gives the whole model. */
export interface ModelShard {
  config: LlamaConfig;
  rank: number;
  tp: number;
  nHeadsLocal: number; // query heads on this rank
  nKvHeadsLocal: number; // kv heads on this rank
  /** For local query head h, the index of its kv head within this rank's kv heads (GQA mapping). */
  kvHeadOfLocalHead: number[];
  hiddenLocal: number;
  tokenEmbd: WeightTensor; // [vocab, dim], replicated (a row gather per token is cheap)
  layers: LayerShard[];
  outputNorm: Float32Array; // [dim]
  output: WeightTensor; // [vocabLocal, dim]  vocab-parallel rows [vocabStart, vocabStart+vocabLocal)
  vocabStart: number;
}
