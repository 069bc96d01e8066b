// Random-weight Llama GGUFs with real model shapes, for speed comparisons where only the shapes
// matter (both engines read the same file). The tokenizer is stories260K's (512 SentencePiece
// pieces), padded with never-matched pieces when the vocabulary is larger, so both engines
// tokenize the prompt the same way. Written once under bench/out/models/random/ and reused.
import fs from 'node:fs';
import path from 'node:path';
import { loadGgufIndex, type MetadataValue } from '../src/model/gguf';
import { f32ToF16 } from '../src/gpu/f16';
import { GGML_TYPE, GGUF_T, llamaKvs, writeGguf, type KV, type TensorSpec } from '../test/model/gguf-writer';
import { BENCH_MODELS_DIR } from './models-dir';

export interface RandomLlamaShape {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number; // >= 512 (the tokenizer's pieces)
  type: 'f16' | 'q8_0'; // matrices; norms are f32
}

/** TinyLlama-1.1B's shapes (the Llama "1B" of bench/llm-gpu.ts). */
export const LLAMA_1B: RandomLlamaShape = { dim: 2048, hiddenDim: 5632, nLayers: 22, nHeads: 32, nKvHeads: 4, vocabSize: 32000, type: 'f16' };

/**
 * The shape the browser bench uses: BENCH_1B_FULL=1 gives the whole 1B (22 layers, 32000 vocab,
 * q8_0 so the file stays under wllama's 2 GB per-file limit); otherwise the 1B's layer shapes with
 * BENCH_1B_LAYERS layers (default 2) and the 512-piece vocabulary, which SwiftShader on 2 cores
 * decodes in seconds rather than minutes. BENCH_1B_TYPE=f16|q8_0 overrides the weight type.
 */
export function benchShape(env: Record<string, string | undefined> = process.env): RandomLlamaShape {
  const full = env.BENCH_1B_FULL === '1';
  const type = (env.BENCH_1B_TYPE ?? (full ? 'q8_0' : 'f16')) as RandomLlamaShape['type'];
  if (type !== 'f16' && type !== 'q8_0') throw new Error(`BENCH_1B_TYPE must be f16 or q8_0, not ${String(type)}`);
  if (full) return { ...LLAMA_1B, type };
  return { ...LLAMA_1B, nLayers: Number(env.BENCH_1B_LAYERS ?? 2), vocabSize: 512, type };
}

export const shapeName = (s: RandomLlamaShape) => `random-llama1b-shape-L${s.nLayers}-V${s.vocabSize}-${s.type}`;

// One pool of random bytes reused for every matrix: timing does not depend on the values, and
// distinct randoms for a 1 GB file would take long to generate.
function pool(bytes: number, type: RandomLlamaShape['type']): Uint8Array {
  const out = new Uint8Array(bytes);
  const dv = new DataView(out.buffer);
  let s = 12345;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0);
  if (type === 'f16') {
    // halves of magnitude 2^-7..2^-6 with random sign: activations stay finite through the layers
    for (let i = 0; i + 1 < bytes; i += 2) dv.setUint16(i, 0x2000 | (next() >>> 22) | ((s & 1) << 15), true);
  } else {
    const scale = f32ToF16(0.02 / 127); // q8_0 block: f16 scale + 32 int8 -> values within ±0.02
    for (let o = 0; o + 34 <= bytes; o += 34) {
      dv.setUint16(o, scale, true);
      for (let j = 0; j < 32; j++) out[o + 2 + j] = next() >>> 24;
    }
  }
  return out;
}

/** Writes (once) the random model under bench/out/models/random/ and returns its server name and path. */
export async function ensureRandomLlama(shape: RandomLlamaShape, dir = path.join(BENCH_MODELS_DIR, 'random')): Promise<{ name: string; file: string; bytes: number }> {
  const name = shapeName(shape);
  const file = path.join(dir, `${name}.gguf`);
  if (fs.existsSync(file)) return { name, file, bytes: fs.statSync(file).size };
  const shared = path.resolve(BENCH_MODELS_DIR, '../../..', process.env.TABMESH_SHARED ?? '../shared');
  const tokBytes = fs.readFileSync(path.join(shared, 'models/stories260K/stories260K.gguf'));
  const tok = (await loadGgufIndex(tokBytes.buffer.slice(tokBytes.byteOffset, tokBytes.byteOffset + tokBytes.byteLength) as ArrayBuffer)).tokenizer;
  const pad = shape.vocabSize - tok.tokens.length;
  if (pad < 0) throw new Error(`vocabSize ${shape.vocabSize} < the tokenizer's ${tok.tokens.length} pieces`);

  const { dim, hiddenDim, nHeads, nKvHeads } = shape;
  const headDim = dim / nHeads;
  const meta: Record<string, MetadataValue> = {
    'general.architecture': 'llama', 'general.name': name,
    'llama.context_length': 2048, 'llama.embedding_length': dim, 'llama.feed_forward_length': hiddenDim,
    'llama.block_count': shape.nLayers, 'llama.attention.head_count': nHeads, 'llama.attention.head_count_kv': nKvHeads,
    'llama.rope.dimension_count': headDim, 'llama.rope.freq_base': 10000, 'llama.attention.layer_norm_rms_epsilon': 1e-5,
    'tokenizer.ggml.model': 'llama',
    // padding pieces are normal tokens no text ever produces (and that decode to visible markers)
    'tokenizer.ggml.tokens': [...tok.tokens, ...Array.from({ length: pad }, (_, i) => `<r${i}>`)],
    'tokenizer.ggml.scores': [...tok.scores, ...new Array<number>(pad).fill(-1e4)],
    'tokenizer.ggml.token_type': [...tok.types, ...new Array<number>(pad).fill(1)],
    'tokenizer.ggml.bos_token_id': tok.bos, 'tokenizer.ggml.eos_token_id': tok.eos, 'tokenizer.ggml.unknown_token_id': tok.unk,
  };
  const kvs: KV[] = llamaKvs(meta);
  kvs.push({ key: 'general.alignment', type: GGUF_T.UINT32, value: 32 });

  const gt = shape.type === 'f16' ? GGML_TYPE.f16 : GGML_TYPE.q8_0;
  const bytesOf = (rows: number, cols: number) => (shape.type === 'f16' ? rows * cols * 2 : (rows * cols / 32) * 34);
  const biggest = Math.max(bytesOf(hiddenDim, dim), bytesOf(shape.vocabSize, dim));
  const rnd = pool(biggest, shape.type);
  const ones = new Uint8Array(new Float32Array(dim).fill(1).buffer); // [dim] f32 norm weights
  // dims are innermost first: a [rows, cols] matrix is listed as [cols, rows]
  const mat = (tname: string, rows: number, cols: number): TensorSpec => ({ name: tname, ggmlType: gt, dims: [cols, rows], data: rnd.subarray(0, bytesOf(rows, cols)) });
  const norm = (tname: string): TensorSpec => ({ name: tname, ggmlType: GGML_TYPE.f32, dims: [dim], data: ones });
  const tensors: TensorSpec[] = [mat('token_embd.weight', shape.vocabSize, dim), norm('output_norm.weight'), mat('output.weight', shape.vocabSize, dim)];
  for (let l = 0; l < shape.nLayers; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      norm(`${p}attn_norm.weight`), norm(`${p}ffn_norm.weight`),
      mat(`${p}attn_q.weight`, dim, dim), mat(`${p}attn_k.weight`, nKvHeads * headDim, dim), mat(`${p}attn_v.weight`, nKvHeads * headDim, dim),
      mat(`${p}attn_output.weight`, dim, dim),
      mat(`${p}ffn_gate.weight`, hiddenDim, dim), mat(`${p}ffn_up.weight`, hiddenDim, dim), mat(`${p}ffn_down.weight`, dim, hiddenDim),
    );
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, new Uint8Array(writeGguf(kvs, tensors, 32)));
  fs.renameSync(tmp, file); // atomic: the server never lists a half-written model
  return { name, file, bytes: fs.statSync(file).size };
}
