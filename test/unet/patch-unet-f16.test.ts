import { describe, expect, it } from 'vitest';
import { f16CarrierLen, packF16, unpackF16 } from '../../src/parallel/patch-unet-f16';

// Independent reference: Math.f16round is not in Node 20, so round by exhaustive nearest search over the
// representable halves near x (values from their definition), ties to the even mantissa.
function halfValues(): number[] {
  const v: number[] = [];
  for (let e = 0; e < 31; e++) for (let m = 0; m < 1024; m++) v.push(e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
  return v; // ascending, index = bits
}

describe('f16 host codec', () => {
  const hv = halfValues();
  const refRound = (x: number): number => {
    const a = Math.abs(x);
    if (a >= 65520) return Math.sign(x) * Infinity; // past max half + half an ulp
    let lo = 0;
    let hi = hv.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (hv[mid] <= a) lo = mid;
      else hi = mid;
    }
    const dl = a - hv[lo];
    const dh = hv[hi] - a;
    const r = dl < dh || (dl === dh && lo % 2 === 0) ? hv[lo] : hv[hi];
    return x < 0 ? -r : r;
  };
  it('rounds to nearest even like the reference, including subnormals, ties and overflow', () => {
    const xs = [0, -0, 1, -1, 0.1, 1 / 3, 65504, 65519, 65520, 1e6, -1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 6e-5];
    let s = 7;
    for (let i = 0; i < 5000; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      xs.push(((s / 2 ** 32) - 0.5) * 2 ** ((s % 40) - 20));
    }
    const src = Float32Array.from(xs); // [n]
    const carrier = packF16(src);
    expect(carrier.length).toBe(f16CarrierLen(src.length));
    const out = new Float32Array(src.length); // [n]
    unpackF16(carrier, out);
    for (let i = 0; i < src.length; i++) expect(out[i] + 0).toBe(refRound(src[i]) + 0); // + 0: the reference does not track the sign of zero
  });
  it('keeps NaN and infinities', () => {
    const out = new Float32Array(3);
    unpackF16(packF16(Float32Array.from([NaN, Infinity, -Infinity])), out);
    expect(Number.isNaN(out[0])).toBe(true);
    expect(out[1]).toBe(Infinity);
    expect(out[2]).toBe(-Infinity);
  });
});
