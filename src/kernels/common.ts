// Helpers shared by the LLM kernels: uniform packing, dispatch geometry, f16 conversion, and the
// on-GPU weight format (GpuWeight) with its upload-time repacking and a CPU dequantizer for references.

import type { Gpu } from '../gpu/gpu';
import { f16ToF32, f32ToF16 } from '../gpu/f16';
import type { GgmlType, WeightTensor } from '../model/types';

/** Packs a uniform struct: plain numbers become u32, {f} becomes f32, {i} becomes i32 (4 bytes each). */
export function params(...fields: (number | { f: number } | { i: number })[]): Uint8Array {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const dv = new DataView(buf);
  fields.forEach((v, k) => {
    if (typeof v === 'number') dv.setUint32(k * 4, v, true);
    else if ('f' in v) dv.setFloat32(k * 4, v.f, true);
    else dv.setInt32(k * 4, v.i, true);
  });
  return new Uint8Array(buf);
}

export const MAX_WG_PER_DIM = 65535;

/** Workgroup grid for `count` independent workgroups: 2-D once 65535 per dimension is not enough. */
export function grid(count: number): [number, number] {
  if (count <= MAX_WG_PER_DIM) return [Math.max(1, count), 1];
  const y = Math.ceil(count / MAX_WG_PER_DIM);
  return [Math.ceil(count / y), y];
}

// f16 conversion lives in src/gpu/f16.ts; these are the names the kernel code and tests use.
export { f16ToF32 as halfToFloat, f32ToF16 as floatToHalf };

/** WTYPE override values of the weight-reading shaders. */
export const WTYPE: Record<'f32' | 'f16' | 'q8_0', number> = { f32: 0, f16: 1, q8_0: 2 };

/** A weight matrix resident on the GPU, in the layout the kernels read (see repack()). */
export interface GpuWeight {
  type: 'f32' | 'f16' | 'q8_0';
  rows: number; // N (out features)
  cols: number; // K (in features)
  buf: GPUBuffer;
  scaleOff: number; // q8_0: word offset of the f32 scales in buf; 0 otherwise
  bytes: number;
}

function checkType(t: GgmlType): asserts t is 'f32' | 'f16' | 'q8_0' {
  if (t !== 'f32' && t !== 'f16' && t !== 'q8_0') throw new Error(`weights of type ${t} are not supported on the GPU yet`);
}

/**
 * The bytes to upload for a weight. f32 and f16 go up as GGUF stores them. q8_0 blocks are 34 bytes
 * (f16 scale + 32 int8), which breaks 4-byte alignment, so they are split into all int8 quants in
 * order (rows*cols bytes, 4 per u32 word) followed by one f32 scale per block: still ~1.06 bytes per weight.
 */
export function repack(w: WeightTensor): { data: Uint8Array; scaleOff: number } {
  checkType(w.type);
  if (w.type !== 'q8_0') return { data: w.data, scaleOff: 0 };
  if (w.cols % 32 !== 0) throw new Error(`q8_0 weight with ${w.cols} columns (must be a multiple of 32)`);
  const n = w.rows * w.cols;
  const nb = n / 32;
  const qBytes = Math.ceil(n / 4) * 4;
  const out = new Uint8Array(qBytes + nb * 4);
  const scales = new Float32Array(out.buffer, qBytes, nb); // [rows*cols/32]
  const src = w.data;
  for (let b = 0; b < nb; b++) {
    const o = b * 34;
    scales[b] = f16ToF32(src[o] | (src[o + 1] << 8));
    out.set(src.subarray(o + 2, o + 34), b * 32);
  }
  return { data: out, scaleOff: qBytes / 4 };
}

export function uploadWeight(gpu: Gpu, w: WeightTensor, label?: string): GpuWeight {
  checkType(w.type);
  const { data, scaleOff } = repack(w);
  const buf = gpu.upload(data, label);
  return { type: w.type, rows: w.rows, cols: w.cols, buf, scaleOff, bytes: buf.size };
}

/** CPU dequantization of a GGUF weight to f32 [rows, cols] (independent of the GPU repacking). */
export function dequantize(w: WeightTensor): Float32Array {
  const n = w.rows * w.cols;
  const out = new Float32Array(n); // [rows, cols]
  const dv = new DataView(w.data.buffer, w.data.byteOffset, w.data.byteLength);
  if (w.type === 'f32') {
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  } else if (w.type === 'f16') {
    for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
  } else if (w.type === 'q8_0') {
    for (let b = 0; b < n / 32; b++) {
      const d = f16ToF32(dv.getUint16(b * 34, true));
      for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(b * 34 + 2 + j);
    }
  } else {
    throw new Error(`dequantize: ${w.type} not supported`);
  }
  return out;
}

/** Quantizes f32 [rows, cols] into GGUF bytes of `type` (tests use it to build f16 / q8_0 weights). */
export function quantize(values: Float32Array, rows: number, cols: number, type: 'f32' | 'f16' | 'q8_0'): WeightTensor {
  const n = rows * cols;
  if (type === 'f32') return { type, rows, cols, data: new Uint8Array(values.slice(0, n).buffer) };
  if (type === 'f16') {
    const h = new Uint16Array(n);
    for (let i = 0; i < n; i++) h[i] = f32ToF16(values[i]);
    return { type, rows, cols, data: new Uint8Array(h.buffer) };
  }
  const data = new Uint8Array((n / 32) * 34);
  const dv = new DataView(data.buffer);
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[b * 32 + j]));
    const d = amax / 127;
    const dh = f32ToF16(d);
    dv.setUint16(b * 34, dh, true);
    const id = d ? 1 / d : 0;
    for (let j = 0; j < 32; j++) dv.setInt8(b * 34 + 2 + j, Math.round(values[b * 32 + j] * id));
  }
  return { type, rows, cols, data };
}
