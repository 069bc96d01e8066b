// Fast whole-matrix dequantization to f32 for building ORT initializers. quant.ts decodes element by
// element through a DataView and an arithmetic f16 decoder, which is right for the reference but
// takes tens of seconds for a 1B model; here f16 goes through a 65536-entry table (built once from
// quant.ts's exact decoder) and typed-array views replace the DataView.
import { f16ToF32, QK, Q4_0_BLOCK_BYTES, Q8_0_BLOCK_BYTES, rowBytes } from '../quant';
import type { WeightTensor } from '../types';

let table: Float32Array | null = null;

/** f16 bits -> f32, every one of the 65536 codes. */
function f16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536); // [65536]
    for (let h = 0; h < 65536; h++) table[h] = f16ToF32(h);
  }
  return table;
}

/** The tensor's bytes at an aligned offset (the shard's views into a file may start anywhere). */
function aligned(data: Uint8Array, bytes: number, align: number): Uint8Array {
  if (data.byteOffset % align === 0) return data.subarray(0, bytes);
  return data.slice(0, bytes); // a copy starts at offset 0
}

/** Dequantizes `w` ([rows, cols]) into out[off .. off + rows*cols). */
export function dequantizeTo(w: WeightTensor, out: Float32Array, off = 0): void {
  const n = w.rows * w.cols;
  const bytes = rowBytes(w.type, w.cols) * w.rows;
  if (w.data.byteLength < bytes) throw new Error(`tensor data too short: ${w.data.byteLength} < ${bytes}`);
  if (off + n > out.length) throw new Error(`dequantizeTo: ${n} values do not fit at ${off} of ${out.length}`);
  switch (w.type) {
    case 'f32': {
      const d = aligned(w.data, bytes, 4);
      out.set(new Float32Array(d.buffer, d.byteOffset, n), off);
      return;
    }
    case 'f16': {
      const d = aligned(w.data, bytes, 2);
      const h = new Uint16Array(d.buffer, d.byteOffset, n); // [n] f16 bits (little-endian hosts)
      const t = f16Table();
      for (let i = 0; i < n; i++) out[off + i] = t[h[i]];
      return;
    }
    case 'q8_0': {
      const t = f16Table();
      const u = w.data;
      const s = new Int8Array(u.buffer, u.byteOffset, bytes); // same bytes, signed
      for (let b = 0, o = 0, j0 = off; b < n / QK; b++, o += Q8_0_BLOCK_BYTES, j0 += QK) {
        const d = t[u[o] | (u[o + 1] << 8)];
        for (let j = 0; j < QK; j++) out[j0 + j] = d * s[o + 2 + j];
      }
      return;
    }
    case 'q4_0': {
      const t = f16Table();
      const u = w.data;
      for (let b = 0, o = 0, j0 = off; b < n / QK; b++, o += Q4_0_BLOCK_BYTES, j0 += QK) {
        const d = t[u[o] | (u[o + 1] << 8)];
        for (let j = 0; j < QK / 2; j++) {
          const q = u[o + 2 + j];
          out[j0 + j] = d * ((q & 0x0f) - 8);
          out[j0 + j + QK / 2] = d * ((q >> 4) - 8);
        }
      }
      return;
    }
  }
}

/** Whole matrix to a new f32 array [rows, cols]. */
export function dequantize(w: WeightTensor): Float32Array {
  const out = new Float32Array(w.rows * w.cols); // [rows, cols]
  dequantizeTo(w, out);
  return out;
}
