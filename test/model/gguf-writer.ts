// A minimal GGUF v3 writer for tests (independent of the parser under test): builds synthetic and
// re-quantized models in memory. Layout per the GGUF spec: header, KV pairs, tensor infos, padding to
// `alignment`, tensor data (each tensor aligned).
import type { MetadataValue } from '../../src/model/gguf';

export const GGUF_T = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;
export const GGML_TYPE = { f32: 0, f16: 1, q4_0: 2, q4_1: 3, q8_0: 8 } as const;

export interface KV {
  key: string;
  type: number; // GGUF_T
  subType?: number; // for arrays
  value: MetadataValue;
}

export interface TensorSpec {
  name: string;
  ggmlType: number;
  dims: number[]; // innermost first
  data: Uint8Array;
}

class Buf {
  private parts: Uint8Array[] = [];
  size = 0;
  private push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.length;
  }
  u8(v: number) { this.push(Uint8Array.of(v)); }
  u32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); this.push(b); }
  i32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); this.push(b); }
  f32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.push(b); }
  u64(v: number | bigint) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); this.push(b); }
  str(s: string) { const e = new TextEncoder().encode(s); this.u64(e.length); this.push(e); }
  bytes(b: Uint8Array) { this.push(b); }
  pad(align: number) { const n = (align - (this.size % align)) % align; if (n) this.push(new Uint8Array(n)); }
  concat(): ArrayBuffer {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out.buffer;
  }
}

function writeValue(b: Buf, type: number, v: MetadataValue, subType?: number) {
  switch (type) {
    case GGUF_T.UINT8: return b.u8(Number(v));
    case GGUF_T.UINT32: return b.u32(Number(v));
    case GGUF_T.INT32: return b.i32(Number(v));
    case GGUF_T.FLOAT32: return b.f32(Number(v));
    case GGUF_T.BOOL: return b.u8(v ? 1 : 0);
    case GGUF_T.STRING: return b.str(String(v));
    case GGUF_T.UINT64: return b.u64(v as number | bigint);
    case GGUF_T.ARRAY: {
      const arr = v as MetadataValue[];
      b.u32(subType!);
      b.u64(arr.length);
      for (const x of arr) writeValue(b, subType!, x);
      return;
    }
    default: throw new Error(`writer: unsupported type ${type}`);
  }
}

export function writeGguf(kvs: KV[], tensors: TensorSpec[], alignment = 32): ArrayBuffer {
  const b = new Buf();
  b.bytes(new TextEncoder().encode('GGUF'));
  b.u32(3);
  b.u64(tensors.length);
  b.u64(kvs.length);
  for (const kv of kvs) {
    b.str(kv.key);
    b.u32(kv.type);
    writeValue(b, kv.type, kv.value, kv.subType);
  }
  let off = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(off);
    off += Math.ceil(t.data.length / alignment) * alignment;
  }
  tensors.forEach((t, i) => {
    b.str(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.ggmlType);
    b.u64(offsets[i]);
  });
  b.pad(alignment);
  for (const t of tensors) {
    b.bytes(t.data);
    b.pad(alignment);
  }
  return b.concat();
}

/** KV entries for a llama model's metadata (types as llama.cpp writes them). */
export function llamaKvs(meta: Record<string, MetadataValue>): KV[] {
  const kvs: KV[] = [];
  for (const [key, value] of Object.entries(meta)) {
    if (key === 'version' || key === 'tensor_count' || key === 'kv_count') continue;
    if (key === 'tokenizer.ggml.tokens') kvs.push({ key, type: GGUF_T.ARRAY, subType: GGUF_T.STRING, value });
    else if (key === 'tokenizer.ggml.scores') kvs.push({ key, type: GGUF_T.ARRAY, subType: GGUF_T.FLOAT32, value });
    else if (key === 'tokenizer.ggml.token_type') kvs.push({ key, type: GGUF_T.ARRAY, subType: GGUF_T.INT32, value });
    else if (typeof value === 'string') kvs.push({ key, type: GGUF_T.STRING, value });
    else if (typeof value === 'boolean') kvs.push({ key, type: GGUF_T.BOOL, value });
    else if (typeof value === 'bigint') kvs.push({ key, type: GGUF_T.UINT64, value });
    else if (typeof value === 'number')
      kvs.push({ key, type: Number.isInteger(value) && !key.includes('epsilon') && !key.includes('freq_base') ? GGUF_T.UINT32 : GGUF_T.FLOAT32, value });
    else throw new Error(`llamaKvs: cannot write ${key}`);
  }
  return kvs;
}
