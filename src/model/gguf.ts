// GGUF loading: parse the header (metadata + tensor table) with @huggingface/gguf, and read byte
// ranges of the tensor data. Works on a URL (HTTP Range requests: a peer fetches only the header
// first, then only its shard), a Blob/File (e.g. a user-picked file) or an in-memory ArrayBuffer.
// Blobs and buffers go through the same parser via a fetch shim that answers Range requests locally,
// so there is one code path and no node: imports (this file runs in the browser).

import { gguf, GGMLQuantizationType } from '@huggingface/gguf';
import type { GgmlType, LlamaConfig } from './types';
import { rowBytes } from './quant';

/** Bytes that live elsewhere (e.g. a file the coordinator holds, fetched over the control channel). */
export interface RangeSource {
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
}

export type GgufSource = string | Blob | ArrayBuffer | RangeSource;

const isRangeSource = (s: GgufSource): s is RangeSource => typeof s === 'object' && 'read' in s && typeof s.read === 'function';

export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
}

export interface GgufTensorEntry {
  type: GgmlType;
  dims: number[]; // as GGUF lists them: innermost (contiguous) first, i.e. [cols, rows] for matrices
  offset: number; // absolute byte offset of the tensor data in the file
  bytes: number;
}

export interface GgufTokenizerData {
  model: string; // tokenizer.ggml.model ('llama' = SentencePiece BPE)
  tokens: string[];
  scores: Float32Array; // [vocab]
  types: Int32Array; // [vocab] llama token types: 1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte
  bos: number;
  eos: number;
  unk: number;
  addBos: boolean;
  addSpacePrefix: boolean;
}

export type MetadataValue = string | number | bigint | boolean | MetadataValue[];

export interface GgufIndex {
  config: LlamaConfig;
  tensors: Map<string, GgufTensorEntry>;
  tokenizer: GgufTokenizerData;
  chatTemplate?: string;
  metadata: Record<string, MetadataValue>;
  /** Absolute offset where tensor data starts (header + tensor table, aligned). */
  dataOffset: number;
}

const TYPE_NAMES: Partial<Record<number, GgmlType>> = {
  [GGMLQuantizationType.F32]: 'f32',
  [GGMLQuantizationType.F16]: 'f16',
  [GGMLQuantizationType.Q8_0]: 'q8_0',
  [GGMLQuantizationType.Q4_0]: 'q4_0',
};

// A URL for the parser when we serve bytes ourselves; .invalid never resolves (RFC 2606).
const SHIM_URL = 'https://tabmesh.invalid/model.gguf';

/**
 * A fetch that serves `Range: bytes=a-b` out of local bytes the way an HTTP server would (206 +
 * Content-Range), so the parser reads a Blob or ArrayBuffer through its normal range path, without copying
 * the whole file.
 */
function localFetch(size: number, read: (start: number, end: number) => Promise<BlobPart>): typeof fetch {
  return (async (_input: RequestInfo | URL, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('range');
    const m = range ? /bytes=(\d+)-(\d*)/.exec(range) : null;
    const start = m ? Math.min(Number(m[1]), size) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]) + 1, size) : size; // HTTP ranges are inclusive
    return new Response(new Blob([await read(start, end)]), {
      status: m ? 206 : 200,
      headers: { 'content-range': `bytes ${start}-${Math.max(start, end - 1)}/${size}` },
    });
  }) as typeof fetch;
}

function resolveUrl(url: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
  const base = (globalThis as { location?: { href: string } }).location?.href;
  if (!base) throw new ModelFormatError(`relative model URL "${url}" needs a page location; pass an absolute URL`);
  return new URL(url, base).href;
}

/** Bytes [start, end) of the file: an HTTP Range request for URLs, a slice for Blob/ArrayBuffer. */
export async function readRange(source: GgufSource, start: number, end: number): Promise<Uint8Array> {
  if (end < start) throw new RangeError(`readRange: end ${end} < start ${start}`);
  if (end === start) return new Uint8Array(0);
  if (isRangeSource(source)) {
    if (end > source.size) throw new RangeError(`readRange: ${end} past end of file (${source.size})`);
    return source.read(start, end);
  }
  if (source instanceof ArrayBuffer) {
    if (end > source.byteLength) throw new RangeError(`readRange: ${end} past end of buffer (${source.byteLength})`);
    return new Uint8Array(source, start, end - start); // a view, no copy
  }
  if (typeof source !== 'string') {
    if (end > source.size) throw new RangeError(`readRange: ${end} past end of blob (${source.size})`);
    return new Uint8Array(await source.slice(start, end).arrayBuffer());
  }
  const res = await fetch(resolveUrl(source), { headers: { Range: `bytes=${start}-${end - 1}` } });
  if (!res.ok) throw new Error(`readRange ${source}: HTTP ${res.status}`);
  const buf = new Uint8Array(await res.arrayBuffer());
  if (res.status === 206) {
    if (buf.byteLength !== end - start) throw new Error(`readRange ${source}: got ${buf.byteLength} bytes, wanted ${end - start}`);
    return buf;
  }
  // A server that ignores Range sends the whole file (200): still correct, just wasteful.
  if (buf.byteLength < end) throw new Error(`readRange ${source}: file has ${buf.byteLength} bytes, wanted up to ${end}`);
  return buf.subarray(start, end);
}

function num(meta: Record<string, MetadataValue>, key: string, fallback?: number): number {
  const v = meta[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(`GGUF metadata "${key}" is missing`);
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new ModelFormatError(`GGUF metadata "${key}" is not a number`);
}

function tensorBytes(name: string, type: GgmlType, dims: number[]): number {
  const cols = dims[0] ?? 1;
  const rows = dims.slice(1).reduce((a, b) => a * b, 1);
  try {
    return rowBytes(type, cols) * rows;
  } catch (e) {
    throw new ModelFormatError(`tensor ${name}: ${(e as Error).message}`);
  }
}

/** Names of the tensors a llama model needs (output.weight is optional: tied to token_embd when absent). */
export function requiredTensorNames(nLayers: number): string[] {
  const names = ['token_embd.weight', 'output_norm.weight'];
  for (let l = 0; l < nLayers; l++) {
    for (const t of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'])
      names.push(`blk.${l}.${t}.weight`);
  }
  return names;
}

/** Parse the GGUF header: model config, tensor table with absolute offsets, tokenizer vocab. */
export async function loadGgufIndex(source: GgufSource): Promise<GgufIndex> {
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    if (typeof source === 'string') parsed = await gguf(resolveUrl(source));
    else if (isRangeSource(source)) parsed = await gguf(SHIM_URL, { fetch: localFetch(source.size, async (s, e) => (await source.read(s, e)) as Uint8Array<ArrayBuffer>) });
    else if (source instanceof ArrayBuffer)
      parsed = await gguf(SHIM_URL, { fetch: localFetch(source.byteLength, async (s, e) => new Uint8Array(source, s, e - s)) });
    else parsed = await gguf(SHIM_URL, { fetch: localFetch(source.size, async (s, e) => source.slice(s, e)) });
  } catch (e) {
    const msg = (e as Error).message;
    if (/magic number|unsupported version/i.test(msg)) throw new ModelFormatError(`not a GGUF file: ${msg}`);
    throw e;
  }
  const meta = parsed.metadata as unknown as Record<string, MetadataValue>;
  const arch = meta['general.architecture'];
  if (arch !== 'llama') throw new ModelFormatError(`architecture "${String(arch)}" is not supported (only llama)`);

  const dataOffset = Number(parsed.tensorDataOffset);
  const tensors = new Map<string, GgufTensorEntry>();
  for (const t of parsed.tensorInfos) {
    const type = TYPE_NAMES[t.dtype];
    if (!type) {
      const tname = GGMLQuantizationType[t.dtype] ?? String(t.dtype);
      throw new ModelFormatError(`tensor ${t.name} has type ${tname}; supported: f32, f16, q8_0, q4_0`);
    }
    const dims = t.shape.map(Number);
    tensors.set(t.name, { type, dims, offset: dataOffset + Number(t.offset), bytes: tensorBytes(t.name, type, dims) });
  }

  const dim = num(meta, 'llama.embedding_length');
  const nHeads = num(meta, 'llama.attention.head_count');
  const nLayers = num(meta, 'llama.block_count');
  const tokens = meta['tokenizer.ggml.tokens'];
  if (!Array.isArray(tokens)) throw new ModelFormatError('GGUF has no embedded vocabulary (tokenizer.ggml.tokens)');
  const embd = tensors.get('token_embd.weight');
  const vocabSize = embd?.dims[1] ?? tokens.length;
  const headDim = dim / nHeads;
  if (!Number.isInteger(headDim)) throw new ModelFormatError(`embedding_length ${dim} not divisible by head_count ${nHeads}`);
  const ropeDims = num(meta, 'llama.rope.dimension_count', headDim);
  if (ropeDims !== headDim) throw new ModelFormatError(`partial rotary (rope dims ${ropeDims} != head dim ${headDim}) is not supported`);

  // Llama 3.1-style RoPE frequency factors and rope scaling change every position's rotation; the
  // forwards here implement plain RoPE only, so refuse rather than generate subtly wrong text.
  if (tensors.has('rope_freqs.weight')) throw new ModelFormatError('RoPE frequency factors (rope_freqs.weight, Llama 3.1 scaling) are not supported');
  const scaling = meta['llama.rope.scaling.type'];
  if (scaling !== undefined && scaling !== 'none' && num(meta, 'llama.rope.scaling.factor', 1) !== 1)
    throw new ModelFormatError(`RoPE scaling "${String(scaling)}" is not supported`);

  const missing = requiredTensorNames(nLayers).filter((n) => !tensors.has(n));
  if (missing.length)
    throw new ModelFormatError(`missing tensors: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` (+${missing.length - 8})` : ''}`);

  const bos = num(meta, 'tokenizer.ggml.bos_token_id', 1);
  const eos = num(meta, 'tokenizer.ggml.eos_token_id', 2);
  const config: LlamaConfig = {
    dim,
    hiddenDim: num(meta, 'llama.feed_forward_length'),
    nLayers,
    nHeads,
    nKvHeads: num(meta, 'llama.attention.head_count_kv', nHeads),
    headDim,
    vocabSize,
    ropeTheta: num(meta, 'llama.rope.freq_base', 10000),
    rmsEps: num(meta, 'llama.attention.layer_norm_rms_epsilon', 1e-5),
    contextLength: num(meta, 'llama.context_length', 2048),
    bos,
    eos,
    tiedOutput: !tensors.has('output.weight'),
  };
  checkShapes(config, tensors);

  const scores = meta['tokenizer.ggml.scores'];
  const types = meta['tokenizer.ggml.token_type'];
  const addBos = meta['tokenizer.ggml.add_bos_token'];
  const addSpace = meta['tokenizer.ggml.add_space_prefix'];
  const tmpl = meta['tokenizer.chat_template'];
  return {
    config,
    tensors,
    tokenizer: {
      model: String(meta['tokenizer.ggml.model'] ?? 'llama'),
      tokens: tokens as string[],
      scores: Float32Array.from(Array.isArray(scores) ? (scores as number[]) : tokens.map(() => 0)),
      types: Int32Array.from(Array.isArray(types) ? (types as number[]) : tokens.map(() => 1)),
      bos,
      eos,
      unk: num(meta, 'tokenizer.ggml.unknown_token_id', 0),
      addBos: typeof addBos === 'boolean' ? addBos : true, // llama.cpp's default for SPM vocabularies
      addSpacePrefix: typeof addSpace === 'boolean' ? addSpace : true,
    },
    chatTemplate: typeof tmpl === 'string' ? tmpl : undefined,
    metadata: meta,
    dataOffset,
  };
}

function checkShapes(c: LlamaConfig, tensors: Map<string, GgufTensorEntry>): void {
  const kv = c.nKvHeads * c.headDim;
  const want: [string, number[]][] = [
    ['token_embd.weight', [c.dim, c.vocabSize]],
    ['output_norm.weight', [c.dim]],
  ];
  if (!c.tiedOutput) want.push(['output.weight', [c.dim, c.vocabSize]]);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    want.push([`${p}attn_norm.weight`, [c.dim]], [`${p}ffn_norm.weight`, [c.dim]]);
    want.push([`${p}attn_q.weight`, [c.dim, c.dim]], [`${p}attn_k.weight`, [c.dim, kv]], [`${p}attn_v.weight`, [c.dim, kv]]);
    want.push([`${p}attn_output.weight`, [c.dim, c.dim]]);
    want.push([`${p}ffn_gate.weight`, [c.dim, c.hiddenDim]], [`${p}ffn_up.weight`, [c.dim, c.hiddenDim]]);
    want.push([`${p}ffn_down.weight`, [c.hiddenDim, c.dim]]);
  }
  for (const [name, dims] of want) {
    const t = tensors.get(name)!;
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i]))
      throw new ModelFormatError(`tensor ${name} has dims [${t.dims}], expected [${dims}]`);
    if (dims.length === 1 && t.type !== 'f32' && t.type !== 'f16')
      throw new ModelFormatError(`norm tensor ${name} must be f32 or f16, is ${t.type}`);
  }
}
