// Test models: stories260K re-encoded (quantized, tensors dropped, metadata changed) and small
// synthetic llamas with random weights, all written as GGUF in memory.
import { loadGgufIndex, readRange, type GgufIndex, type MetadataValue } from '../../src/model/gguf';
import { dequantizeVector, quantize } from '../../src/model/quant';
import type { GgmlType } from '../../src/model/types';
import { GGML_TYPE, GGUF_T, llamaKvs, writeGguf, type KV, type TensorSpec } from './gguf-writer';
import { storiesBuffer } from './fixtures';

export interface LoadedModel {
  buf: ArrayBuffer;
  index: GgufIndex;
}

export async function loadStories(): Promise<LoadedModel> {
  const buf = storiesBuffer();
  return { buf, index: await loadGgufIndex(buf) };
}

export interface RebuildOptions {
  /** Target type per tensor (default: keep). */
  typeOf?: (name: string, dims: number[]) => GgmlType;
  drop?: string[];
  meta?: Record<string, MetadataValue>;
  rawType?: Record<string, number>; // write this ggml type id for the tensor (for error tests)
}

/** Re-encode a model's tensors (via f32) and metadata into a new GGUF buffer. */
export async function rebuild(m: LoadedModel, opts: RebuildOptions = {}): Promise<ArrayBuffer> {
  const tensors: TensorSpec[] = [];
  for (const [name, e] of m.index.tensors) {
    if (opts.drop?.includes(name)) continue;
    const n = e.dims.reduce((a, b) => a * b, 1);
    const f32 = dequantizeVector(e.type, await readRange(m.buf, e.offset, e.offset + e.bytes), n); // [n]
    const type = opts.typeOf?.(name, e.dims) ?? e.type;
    tensors.push({ name, ggmlType: opts.rawType?.[name] ?? GGML_TYPE[type], dims: e.dims, data: quantize(type, f32) });
  }
  return writeGguf(llamaKvs({ ...m.index.metadata, ...opts.meta }), tensors);
}

/** q8_0 for every matrix whose rows are a multiple of 32 (ggml cannot block others: those become f16). */
export function q8Types(name: string, dims: number[]): GgmlType {
  if (dims.length < 2) return 'f32';
  return dims[0] % 32 === 0 ? 'q8_0' : 'f16';
}

import { mulberry32 as rng } from '../../src/model/prng';

export { rng };

export interface SynthConfig {
  dim: number;
  nHeads: number;
  nKvHeads: number;
  hidden: number;
  vocab: number;
  layers: number;
  seed: number;
  tied?: boolean;
}

/** A random-weight llama (f32) as GGUF; weights ~ U(-a, a) with a ~ 1/sqrt(fan_in) so activations stay O(1). */
export async function synthetic(c: SynthConfig): Promise<LoadedModel> {
  const r = rng(c.seed);
  const hd = c.dim / c.nHeads;
  const mat = (rows: number, cols: number) => {
    const a = Math.sqrt(3 / cols);
    return Float32Array.from({ length: rows * cols }, () => (2 * r() - 1) * a); // [rows, cols]
  };
  const norm = (n: number) => Float32Array.from({ length: n }, () => 0.8 + 0.4 * r()); // [n]
  const t = (name: string, dims: number[], x: Float32Array): TensorSpec => ({ name, ggmlType: 0, dims, data: quantize('f32', x) });
  const tensors: TensorSpec[] = [t('token_embd.weight', [c.dim, c.vocab], mat(c.vocab, c.dim).map((v) => v * 4))];
  tensors.push(t('output_norm.weight', [c.dim], norm(c.dim)));
  if (!c.tied) tensors.push(t('output.weight', [c.dim, c.vocab], mat(c.vocab, c.dim)));
  for (let l = 0; l < c.layers; l++) {
    const p = `blk.${l}.`;
    tensors.push(t(`${p}attn_norm.weight`, [c.dim], norm(c.dim)));
    tensors.push(t(`${p}attn_q.weight`, [c.dim, c.dim], mat(c.dim, c.dim)));
    tensors.push(t(`${p}attn_k.weight`, [c.dim, c.nKvHeads * hd], mat(c.nKvHeads * hd, c.dim)));
    tensors.push(t(`${p}attn_v.weight`, [c.dim, c.nKvHeads * hd], mat(c.nKvHeads * hd, c.dim)));
    tensors.push(t(`${p}attn_output.weight`, [c.dim, c.dim], mat(c.dim, c.dim)));
    tensors.push(t(`${p}ffn_norm.weight`, [c.dim], norm(c.dim)));
    tensors.push(t(`${p}ffn_gate.weight`, [c.dim, c.hidden], mat(c.hidden, c.dim)));
    tensors.push(t(`${p}ffn_up.weight`, [c.dim, c.hidden], mat(c.hidden, c.dim)));
    tensors.push(t(`${p}ffn_down.weight`, [c.hidden, c.dim], mat(c.dim, c.hidden)));
  }
  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: c.vocab - 3 }, (_, i) => `t${i}`)];
  const kvs: KV[] = [
    { key: 'general.architecture', type: GGUF_T.STRING, value: 'llama' },
    { key: 'llama.embedding_length', type: GGUF_T.UINT32, value: c.dim },
    { key: 'llama.feed_forward_length', type: GGUF_T.UINT32, value: c.hidden },
    { key: 'llama.block_count', type: GGUF_T.UINT32, value: c.layers },
    { key: 'llama.attention.head_count', type: GGUF_T.UINT32, value: c.nHeads },
    { key: 'llama.attention.head_count_kv', type: GGUF_T.UINT32, value: c.nKvHeads },
    { key: 'llama.context_length', type: GGUF_T.UINT32, value: 256 },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: GGUF_T.FLOAT32, value: 1e-5 },
    { key: 'llama.rope.freq_base', type: GGUF_T.FLOAT32, value: 10000 },
    { key: 'tokenizer.ggml.model', type: GGUF_T.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GGUF_T.ARRAY, subType: GGUF_T.STRING, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GGUF_T.ARRAY, subType: GGUF_T.FLOAT32, value: tokens.map(() => 0) },
    { key: 'tokenizer.ggml.token_type', type: GGUF_T.ARRAY, subType: GGUF_T.INT32, value: tokens.map((_, i) => (i < 3 ? 3 : 1)) },
    { key: 'tokenizer.ggml.bos_token_id', type: GGUF_T.UINT32, value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: GGUF_T.UINT32, value: 2 },
  ];
  const buf = writeGguf(kvs, tensors);
  return { buf, index: await loadGgufIndex(buf) };
}
