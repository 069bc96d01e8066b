// The pixel codec against Node's own base64 of the same f32 bytes (an independent encoder), and a
// round trip that must be bit-exact, including values decimal JSON would round.
import { describe, expect, it } from 'vitest';
import { decodePixels, encodePixels } from '../../src/engines/pixel-codec';

describe('pixel codec', () => {
  const px = new Float32Array(32 * 32).map((_, i) => Math.fround(Math.abs(Math.sin(i * 0.37)) / 3)); // [32*32]

  it('encodes the f32 bytes as Node base64 does', () => {
    expect(encodePixels(px)).toBe(Buffer.from(px.buffer).toString('base64'));
  });

  it('round-trips exactly, also for a view into a larger array', () => {
    const big = new Float32Array(3000).map((_, i) => Math.fround(i / 2999)); // [3000]
    const view = big.subarray(1000, 2024); // [1024]
    expect(decodePixels(encodePixels(view))).toEqual(Array.from(view));
    expect(decodePixels(encodePixels(px))).toEqual(Array.from(px));
  });

  it('keeps two 32x32 images under the 16300-byte control message limit', () => {
    expect(2 * encodePixels(px).length).toBeLessThan(16300 - 1000);
  });

  it('rejects a byte count that is not whole f32 values', () => {
    expect(() => decodePixels(btoa('abc'))).toThrow(/whole number of f32/);
  });
});
