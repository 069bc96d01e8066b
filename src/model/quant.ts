// CPU (de)quantization of ggml row formats. Byte layouts are exactly ggml's (ggml-common.h):
//   f16 : IEEE binary16, little-endian
//   q8_0: block of 32 = f16 scale d (2 B) + 32 x int8 qs            -> 34 B, x[j] = d * qs[j]
//   q4_0: block of 32 = f16 scale d (2 B) + 16 B nibbles            -> 18 B,
//         byte j holds element j (low nibble) and element j+16 (high nibble), x = d * (nibble - 8)
// Used by the CPU reference (dequantize whole matrices once) and by tests that build quantized models.

import type { GgmlType, WeightTensor } from './types';
import { f16ToF32, f32ToF16 } from '../gpu/f16';

export { f16ToF32, f32ToF16 };

export const QK = 32; // elements per q8_0 / q4_0 block
export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;

/** Bytes of one row of `cols` elements in `type`. Block types need cols % 32 == 0. */
export function rowBytes(type: GgmlType, cols: number): number {
  switch (type) {
    case 'f32':
      return cols * 4;
    case 'f16':
      return cols * 2;
    case 'q8_0':
    case 'q4_0':
      if (cols % QK !== 0) throw new Error(`${type} row of ${cols} elements is not a multiple of ${QK}`);
      return (cols / QK) * (type === 'q8_0' ? Q8_0_BLOCK_BYTES : Q4_0_BLOCK_BYTES);
  }
}

/** Elements per indivisible unit along a row (1 for float types, 32 for block types). */
export function blockElems(type: GgmlType): number {
  return type === 'q8_0' || type === 'q4_0' ? QK : 1;
}

/**
 * Dequantize `n` consecutive elements starting at byte `offset` of `src` into `dst[dstOff..]`.
 * For block types `n` must be a multiple of 32 and `offset` a block boundary.
 */
export function dequantizeInto(
  type: GgmlType,
  src: Uint8Array,
  offset: number,
  n: number,
  dst: Float32Array,
  dstOff = 0,
): void {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (type) {
    case 'f32':
      for (let i = 0; i < n; i++) dst[dstOff + i] = dv.getFloat32(offset + i * 4, true);
      return;
    case 'f16':
      for (let i = 0; i < n; i++) dst[dstOff + i] = f16ToF32(dv.getUint16(offset + i * 2, true));
      return;
    case 'q8_0':
      for (let b = 0; b < n / QK; b++) {
        const o = offset + b * Q8_0_BLOCK_BYTES;
        const d = f16ToF32(dv.getUint16(o, true));
        for (let j = 0; j < QK; j++) dst[dstOff + b * QK + j] = d * dv.getInt8(o + 2 + j);
      }
      return;
    case 'q4_0':
      for (let b = 0; b < n / QK; b++) {
        const o = offset + b * Q4_0_BLOCK_BYTES;
        const d = f16ToF32(dv.getUint16(o, true));
        for (let j = 0; j < QK / 2; j++) {
          const q = src[o + 2 + j];
          dst[dstOff + b * QK + j] = d * ((q & 0x0f) - 8);
          dst[dstOff + b * QK + j + QK / 2] = d * ((q >> 4) - 8);
        }
      }
      return;
  }
}

/** Whole matrix to f32, row-major [rows, cols]. */
export function dequantizeMatrix(w: WeightTensor): Float32Array {
  const out = new Float32Array(w.rows * w.cols); // [rows, cols]
  const rb = rowBytes(w.type, w.cols);
  if (w.data.byteLength < rb * w.rows) throw new Error(`tensor data too short: ${w.data.byteLength} < ${rb * w.rows}`);
  for (let r = 0; r < w.rows; r++) dequantizeInto(w.type, w.data, r * rb, w.cols, out, r * w.cols);
  return out;
}

/** A 1-D tensor (norm weights) to f32. */
export function dequantizeVector(type: GgmlType, data: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n); // [n]
  dequantizeInto(type, data, 0, n, out, 0);
  return out;
}

/** f32 values -> raw ggml bytes of `type` (the ggml reference quantizers, quantize_row_*_ref). */
export function quantize(type: GgmlType, x: Float32Array): Uint8Array {
  const n = x.length;
  const out = new Uint8Array(rowBytes(type, n));
  const dv = new DataView(out.buffer);
  switch (type) {
    case 'f32':
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, x[i], true);
      break;
    case 'f16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, f32ToF16(x[i]), true);
      break;
    case 'q8_0':
      for (let b = 0; b < n / QK; b++) {
        let amax = 0;
        for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]));
        const d = Math.fround(amax / 127);
        const id = d ? Math.fround(1 / d) : 0; // ggml scales by 1/d of the f32 d, not the f16-rounded one
        const o = b * Q8_0_BLOCK_BYTES;
        dv.setUint16(o, f32ToF16(d), true);
        for (let j = 0; j < QK; j++) dv.setInt8(o + 2 + j, roundHalfAway(Math.fround(x[b * QK + j] * id)));
      }
      break;
    case 'q4_0':
      for (let b = 0; b < n / QK; b++) {
        let amax = 0;
        let max = 0; // the signed value of largest magnitude
        for (let j = 0; j < QK; j++) {
          const v = x[b * QK + j];
          if (Math.abs(v) > amax) {
            amax = Math.abs(v);
            max = v;
          }
        }
        const d = Math.fround(max / -8);
        const id = d ? Math.fround(1 / d) : 0;
        const o = b * Q4_0_BLOCK_BYTES;
        dv.setUint16(o, f32ToF16(d), true);
        for (let j = 0; j < QK / 2; j++) {
          // (int8_t)(x*id + 8.5f) truncates toward zero, then clamps to 15 as ggml does
          const q0 = Math.min(15, Math.trunc(Math.fround(Math.fround(x[b * QK + j] * id) + 8.5)));
          const q1 = Math.min(15, Math.trunc(Math.fround(Math.fround(x[b * QK + j + QK / 2] * id) + 8.5)));
          out[o + 2 + j] = q0 | (q1 << 4);
        }
      }
      break;
  }
  return out;
}

/** Quantize a row-major [rows, cols] f32 matrix row by row into a WeightTensor. */
export function quantizeMatrix(type: GgmlType, x: Float32Array, rows: number, cols: number): WeightTensor {
  const rb = rowBytes(type, cols);
  const data = new Uint8Array(rb * rows); // [rows, rowBytes]
  for (let r = 0; r < rows; r++) data.set(quantize(type, x.subarray(r * cols, (r + 1) * cols)), r * rb);
  return { type, rows, cols, data };
}

function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v); // C roundf: halves away from zero
}
