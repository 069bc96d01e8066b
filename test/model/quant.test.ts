import { describe, expect, it } from 'vitest';
import { dequantizeMatrix, dequantizeVector, f16ToF32, f32ToF16, quantize, quantizeMatrix } from '../../src/model/quant';
import { rng } from './models';

describe('f16', () => {
  it('matches IEEE binary16 encodings of known values', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [2 ** -24, 0x0001], [2 ** -14, 0x0400],
      [0, 0x0000], [-0, 0x8000], [0.1, 0x2e66], [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1+2^-10: ties to even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd below: ties to even (up)
      [65520, 0x7c00], // rounds past the largest finite half -> inf
      [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal: to even (0)
      [3 * 2 ** -26, 0x0001], // 0.75 ulp of the smallest subnormal -> up
    ];
    for (const [v, h] of cases) expect(f32ToF16(v), `${v}`).toBe(h);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
  });

  it('round-trips every finite half value exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN payloads
      expect(f32ToF16(f16ToF32(h))).toBe(h);
    }
  });
});

describe('q8_0', () => {
  it('dequantizes a hand-built block (f16 d + 32 int8)', () => {
    const block = new Uint8Array(34);
    const dv = new DataView(block.buffer);
    dv.setUint16(0, 0x3800, true); // d = 0.5
    for (let j = 0; j < 32; j++) dv.setInt8(2 + j, j % 2 ? -j * 4 : j * 4);
    const x = dequantizeVector('q8_0', block, 32);
    for (let j = 0; j < 32; j++) expect(x[j]).toBe((j % 2 ? -j * 4 : j * 4) * 0.5);
  });

  it('quantizes to ggml bytes (d = amax/127, round half away from zero)', () => {
    const x = new Float32Array(32);
    x[0] = -63.5; // amax -> d = 0.5
    x[1] = 0.25; // 0.5 units -> 1
    x[2] = -0.25; // -> -1
    x[3] = 10.1; // 20.2 -> 20
    const b = quantize('q8_0', x);
    expect(b.length).toBe(34);
    const dv = new DataView(b.buffer);
    expect(dv.getUint16(0, true)).toBe(0x3800);
    expect([dv.getInt8(2), dv.getInt8(3), dv.getInt8(4), dv.getInt8(5), dv.getInt8(6)]).toEqual([-127, 1, -1, 20, 0]);
  });

  it('round-trip error stays within half a quantization step', () => {
    const r = rng(7);
    const x = Float32Array.from({ length: 32 * 64 }, () => (r() - 0.5) * 8); // [4, 512]
    const y = dequantizeMatrix(quantizeMatrix('q8_0', x, 4, 512));
    for (let b = 0; b < x.length / 32; b++) {
      const blk = x.subarray(b * 32, b * 32 + 32);
      const step = Math.max(...blk.map(Math.abs)) / 127;
      for (let j = 0; j < 32; j++) expect(Math.abs(y[b * 32 + j] - blk[j])).toBeLessThanOrEqual(step * 0.5 + step * 2 ** -10 * 127);
    }
  });
});

describe('q4_0', () => {
  it('dequantizes a hand-built block: low nibbles are elements 0..15, high nibbles 16..31', () => {
    const block = new Uint8Array(18);
    new DataView(block.buffer).setUint16(0, 0x4000, true); // d = 2
    for (let j = 0; j < 16; j++) block[2 + j] = j | ((15 - j) << 4);
    const x = dequantizeVector('q4_0', block, 32);
    for (let j = 0; j < 16; j++) {
      expect(x[j]).toBe((j - 8) * 2);
      expect(x[j + 16]).toBe((15 - j - 8) * 2);
    }
  });

  it('quantizes as ggml: d = max/-8 (signed max), q = min(15, trunc(x/d + 8.5))', () => {
    const x = new Float32Array(32);
    x[0] = -8; // signed max magnitude -> d = 1
    x[1] = 7; // 15.5 -> 15
    x[2] = 3.4; // 11.9 -> 11
    x[16] = -2; // 6.5 -> 6 (high nibble of byte 0)
    const b = quantize('q4_0', x);
    expect(b.length).toBe(18);
    expect(new DataView(b.buffer).getUint16(0, true)).toBe(0x3c00);
    expect(b[2]).toBe(0 | (6 << 4));
    expect(b[3]).toBe(15 | (8 << 4));
    expect(b[4]).toBe(11 | (8 << 4));
    const y = dequantizeVector('q4_0', b, 32);
    expect([y[0], y[1], y[2], y[16], y[17]]).toEqual([-8, 7, 3, -2, 0]);
  });
});
