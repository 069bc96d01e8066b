// Random-weight Llama GGUFs for the multi-GPU bench, streamed to disk (a 7B f16 file is 13.5 GB:
// more than one ArrayBuffer may hold, so the in-memory test writer cannot build it). Timing does
// not depend on the values, so one 64 MiB block of small random numbers is reused for every matrix.
// Every tensor starts TENSOR_GAP bytes after the previous one ends (a sparse hole on disk): the TP
// loader merges byte ranges closer than 64 KiB into one HTTP request, and at tp=1 a contiguous file
// would be ONE request for the whole model, past Node 20's 4 GiB Buffer limit in fetch().
// The vocabulary holds '▁' + each letter, so a prompt of N one-letter words is exactly N+1 tokens.
import fs from 'node:fs';
import { GGML_TYPE, GGUF_T, type KV } from '../test/model/gguf-writer';
import type { MetadataValue } from '../src/model/gguf';

export interface BenchShape {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
}

export const SHAPES: Record<string, BenchShape> = {
  tiny: { dim: 64, hiddenDim: 176, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 256 },
  '1B': { dim: 2048, hiddenDim: 5632, nLayers: 22, nHeads: 32, nKvHeads: 4, vocabSize: 32000 }, // TinyLlama-1.1B
  '7B': { dim: 4096, hiddenDim: 11008, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32000 }, // Llama-2-7B
};

const ALIGN = 32;
const TENSOR_GAP = 128 * 1024; // > the loader's 64 KiB merge gap
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** A prompt of `n` tokens with BOS under the vocabulary written here: BOS + (n-1) one-letter words. */
export function benchPrompt(n: number): string {
  return Array.from({ length: n - 1 }, (_, i) => LETTERS[(i * 7) % 26]).join(' ');
}

function vocab(size: number): { tokens: string[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>', '▁', ...LETTERS, ...[...LETTERS].map((c) => `▁${c}`)];
  if (size < tokens.length) throw new Error(`vocabSize ${size} < ${tokens.length}`);
  while (tokens.length < size) tokens.push(`<x${tokens.length}>`);
  return { tokens, types: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1)) }; // unknown, control, normal
}

class Header {
  private parts: Buffer[] = [];
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.parts.push(b); }
  i32(v: number) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.parts.push(b); }
  f32(v: number) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.parts.push(b); }
  u64(v: number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); }
  str(s: string) { const e = Buffer.from(s, 'utf8'); this.u64(e.length); this.parts.push(e); }
  value(type: number, v: MetadataValue, sub?: number): void {
    if (type === GGUF_T.UINT32) return this.u32(Number(v));
    if (type === GGUF_T.INT32) return this.i32(Number(v));
    if (type === GGUF_T.FLOAT32) return this.f32(Number(v));
    if (type === GGUF_T.STRING) return this.str(String(v));
    if (type === GGUF_T.ARRAY) {
      const arr = v as MetadataValue[];
      this.u32(sub!);
      this.u64(arr.length);
      for (const x of arr) this.value(sub!, x);
      return;
    }
    throw new Error(`header: type ${type}`);
  }
  bytes(): Buffer { return Buffer.concat(this.parts); }
}

interface TensorDef { name: string; dims: number[]; type: 'f32' | 'f16' } // dims innermost first, as GGUF

function tensors(s: BenchShape, wtype: 'f32' | 'f16'): TensorDef[] {
  const hd = s.dim / s.nHeads;
  const m = (name: string, cols: number, rows: number): TensorDef => ({ name, dims: [cols, rows], type: wtype });
  const v = (name: string, n: number): TensorDef => ({ name, dims: [n], type: 'f32' });
  const out: TensorDef[] = [m('token_embd.weight', s.dim, s.vocabSize), v('output_norm.weight', s.dim), m('output.weight', s.dim, s.vocabSize)];
  for (let l = 0; l < s.nLayers; l++) {
    const p = `blk.${l}.`;
    out.push(v(`${p}attn_norm.weight`, s.dim), m(`${p}attn_q.weight`, s.dim, s.dim), m(`${p}attn_k.weight`, s.dim, s.nKvHeads * hd),
      m(`${p}attn_v.weight`, s.dim, s.nKvHeads * hd), m(`${p}attn_output.weight`, s.dim, s.dim), v(`${p}ffn_norm.weight`, s.dim),
      m(`${p}ffn_gate.weight`, s.dim, s.hiddenDim), m(`${p}ffn_up.weight`, s.dim, s.hiddenDim), m(`${p}ffn_down.weight`, s.hiddenDim, s.dim));
  }
  return out;
}

// Small random values: f16 halves of magnitude ~0.008-0.016 with random sign (as bench/llm-gpu.ts),
// f32 the same magnitudes, so activations stay finite through every layer.
const POOL_BYTES = 64 << 20;
function pool(type: 'f32' | 'f16'): Buffer {
  const b = Buffer.alloc(POOL_BYTES);
  let s = 12345;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0);
  if (type === 'f16') for (let i = 0; i < POOL_BYTES; i += 2) { const r = next(); b.writeUInt16LE(0x2000 | (r >>> 22) | ((r & 1) << 15), i); }
  else for (let i = 0; i < POOL_BYTES; i += 4) { const r = next(); b.writeFloatLE(((r & 1) ? -1 : 1) * (0.008 + ((r >>> 8) / 2 ** 24) * 0.008), i); }
  return b;
}

/** Writes the model to `file` (skipped when it exists with the expected size); returns its size. */
export function writeBenchModel(file: string, s: BenchShape, wtype: 'f32' | 'f16', log: (l: string) => void = () => undefined): number {
  const defs = tensors(s, wtype);
  const { tokens, types } = vocab(s.vocabSize);
  const kvs: KV[] = [
    { key: 'general.architecture', type: GGUF_T.STRING, value: 'llama' },
    { key: 'general.name', type: GGUF_T.STRING, value: `tabmesh random ${s.dim}x${s.nLayers} ${wtype}` },
    { key: 'llama.embedding_length', type: GGUF_T.UINT32, value: s.dim },
    { key: 'llama.feed_forward_length', type: GGUF_T.UINT32, value: s.hiddenDim },
    { key: 'llama.block_count', type: GGUF_T.UINT32, value: s.nLayers },
    { key: 'llama.attention.head_count', type: GGUF_T.UINT32, value: s.nHeads },
    { key: 'llama.attention.head_count_kv', type: GGUF_T.UINT32, value: s.nKvHeads },
    { key: 'llama.context_length', type: GGUF_T.UINT32, value: 4096 },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: GGUF_T.FLOAT32, value: 1e-5 },
    { key: 'llama.rope.freq_base', type: GGUF_T.FLOAT32, value: 10000 },
    { key: 'tokenizer.ggml.model', type: GGUF_T.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GGUF_T.ARRAY, subType: GGUF_T.STRING, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GGUF_T.ARRAY, subType: GGUF_T.FLOAT32, value: tokens.map(() => 0) },
    { key: 'tokenizer.ggml.token_type', type: GGUF_T.ARRAY, subType: GGUF_T.INT32, value: types },
    { key: 'tokenizer.ggml.bos_token_id', type: GGUF_T.UINT32, value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: GGUF_T.UINT32, value: 2 },
  ];
  const head = new Header();
  head.u32(0x46554747); // 'GGUF' little-endian
  head.u32(3);
  head.u64(defs.length);
  head.u64(kvs.length);
  for (const kv of kvs) { head.str(kv.key); head.u32(kv.type); head.value(kv.type, kv.value, kv.subType); }
  const sizes = defs.map((d) => d.dims.reduce((a, b) => a * b, 1) * (d.type === 'f16' ? 2 : 4));
  const offsets: number[] = [];
  let off = 0;
  for (const n of sizes) {
    offsets.push(off);
    off = Math.ceil((off + n + TENSOR_GAP) / ALIGN) * ALIGN;
  }
  defs.forEach((d, i) => {
    head.str(d.name);
    head.u32(d.dims.length);
    for (const x of d.dims) head.u64(x);
    head.u32(d.type === 'f16' ? GGML_TYPE.f16 : GGML_TYPE.f32);
    head.u64(offsets[i]);
  });
  const hb = head.bytes();
  const dataStart = Math.ceil(hb.length / ALIGN) * ALIGN;
  const total = dataStart + offsets[offsets.length - 1] + sizes[sizes.length - 1];
  if (fs.existsSync(file) && fs.statSync(file).size === total) return total;
  log(`writing ${file} (${(total / 1e9).toFixed(2)} GB)`);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, hb, 0, hb.length, 0);
    const mats = pool(wtype);
    const ones = Buffer.alloc(4 * Math.max(s.dim, s.hiddenDim));
    for (let i = 0; i < ones.length; i += 4) ones.writeFloatLE(1, i);
    defs.forEach((d, i) => {
      const at = dataStart + offsets[i];
      if (d.dims.length === 1) return void fs.writeSync(fd, ones, 0, sizes[i], at); // norms: weight 1
      for (let o = 0; o < sizes[i]; o += mats.length) fs.writeSync(fd, mats, 0, Math.min(mats.length, sizes[i] - o), at + o);
    });
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return total;
}
