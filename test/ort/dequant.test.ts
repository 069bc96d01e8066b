// The ORT loader's table-driven dequantizer against quant.ts's element-wise reference decoder.
import { describe, expect, it } from 'vitest';
import { dequantize, dequantizeTo } from '../../src/model/ort/dequant';
import { dequantizeMatrix, quantizeMatrix } from '../../src/model/quant';
import type { GgmlType } from '../../src/model/types';
import { mulberry32 } from '../../src/model/prng';

describe('ORT dequantize', () => {
  for (const type of ['f32', 'f16', 'q8_0', 'q4_0'] as GgmlType[]) {
    it(`${type}: bit-identical to quant.ts, from unaligned views too`, () => {
      const r = mulberry32(7);
      const rows = 5;
      const cols = 64;
      const x = Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * 3); // [rows, cols]
      x[3] = 1e-6; // an f16 subnormal
      const w = quantizeMatrix(type, x, rows, cols);
      const shifted = new Uint8Array(w.data.byteLength + 1);
      shifted.set(w.data, 1);
      const odd = { ...w, data: shifted.subarray(1) }; // same bytes at an odd offset
      const want = dequantizeMatrix(w); // [rows, cols]
      expect(Array.from(dequantize(w))).toEqual(Array.from(want));
      expect(Array.from(dequantize(odd))).toEqual(Array.from(want));
      const out = new Float32Array(rows * cols + 3).fill(-7);
      dequantizeTo(odd, out, 2);
      expect(Array.from(out.subarray(2, 2 + rows * cols))).toEqual(Array.from(want));
      expect([out[0], out[1], out[out.length - 1]]).toEqual([-7, -7, -7]);
    });
  }
});
