import { describe, expect, it } from 'vitest';
import { CommRegistry, type SegmentKind } from '../../src/parallel/patch-plan';
import { pieceCarrier, unetPieces } from '../../src/parallel/patch-unet-exchange';
import { i8CarrierWords, reference as packI8, referenceUnpack as unpackI8 } from '../../src/kernels/diffusion/i8-pack';
import { f16CarrierLen, packBlocks, packF16, unpackBlocks, unpackF16 } from '../../src/parallel/patch-unet-wire';

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

describe('i8 host codec (int8, one absmax per 64 values)', () => {
  it('stores each block\'s max |x| exactly and every value as the nearest of its block\'s 255 levels', () => {
    let s = 3;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
    const n = 64 * 5 + 37; // a partial last block and a partial last word
    const src = Float32Array.from({ length: n }, (_, i) => (i >= 128 && i < 192 ? 0 : rnd() * 2 ** ((i >> 6) * 3 - 6))); // [n] block 2 all zeros, scales 2^-6..2^6
    const carrier = packI8(src, { count: n, srcBase: 0 });
    expect(carrier.length).toBe(i8CarrierWords(n));
    expect(i8CarrierWords(n)).toBe(6 + Math.ceil(n / 4));
    const maxima = new Float32Array(carrier.buffer, 0, 6); // [blocks]
    const out = new Float32Array(n); // [n]
    unpackI8(carrier, { count: n, srcBase: 0, dstBase: 0 }, out);
    for (let b = 0; b < 6; b++) {
      const blk = src.subarray(64 * b, Math.min(n, 64 * b + 64)); // [<= 64]
      const m = Math.max(...Array.from(blk, Math.abs));
      expect(maxima[b]).toBe(m);
      blk.forEach((x, k) => {
        const i = 64 * b + k;
        if (m === 0) return expect(out[i]).toBe(0);
        // the nearest level q * m / 127 by exhaustive search (ties, measure zero here, would allow either)
        let best = Infinity;
        for (let q = -127; q <= 127; q++) best = Math.min(best, Math.abs(x - (q * m) / 127));
        expect(Math.abs(x - out[i])).toBeLessThanOrEqual(best * (1 + 1e-5) + m * 1e-7);
      });
    }
  });
});

describe('mixed piece carriers (GroupNorm sums f32, activations f16 or i8)', () => {
  it.each(['f16', 'i8'] as const)('%s: round-trips stats segments exactly and the rest as its codec does, runs word-aligned', (dtype) => {
    // segments of 2 ranks with odd sizes, consecutive runs of one kind, and sums past the half range
    const kinds: [SegmentKind, number, number][] = [
      ['stats', 8, 8], ['halo', 7, 5], ['attn_x', 3, 9], ['stats', 8, 8], ['halo', 5, 5], ['stats', 8, 8], ['stats', 8, 8], ['attn_x', 11, 1],
      ['halo', 150, 70], ['attn_x', 90, 130],
    ];
    const reg = new CommRegistry(2);
    kinds.forEach(([k, a, b], i) => reg.register(`s${i}`, k, [a, b]));
    reg.freeze();
    const pieces = unetPieces(reg, 3);
    expect(pieces.count).toBeGreaterThan(1);
    const runWords = (n: number) => (dtype === 'f16' ? Math.ceil(n / 2) : Math.ceil(n / 64) + Math.ceil(n / 4));
    for (let r = 0; r < 2; r++) {
      const flat = Float32Array.from({ length: reg.total(r) }, (_, i) => (i % 3 === 0 ? 3e5 + i / 7 : Math.sin(i) * 10)); // [total]
      const got = new Float32Array(flat.length); // [total]
      let words = 0;
      const runMax = new Float32Array(flat.length); // [total] max |x| over the run each float travels in
      for (let j = 0; j < pieces.count; j++) {
        const [a, b] = pieces.range(j, r);
        const c = pieceCarrier(reg, pieces, j, r, dtype);
        // expected words: each maximal same-kind run (stats vs not) whole floats for stats, the codec's words otherwise
        let want = 0;
        let run: { f32: boolean; n: number; from: number } | null = null;
        const close = () => {
          if (!run) return;
          want += run.f32 ? run.n : runWords(run.n);
          const part = flat.subarray(run.from, run.from + run.n);
          runMax.fill(Math.max(...Array.from(part, Math.abs)), run.from, run.from + run.n);
        };
        reg.segments.forEach((sg) => {
          if (sg.offsets[r] < a || sg.offsets[r] >= b) return;
          const f32 = sg.kind === 'stats';
          if (run && run.f32 === f32) run.n += sg.sizes[r];
          else {
            close();
            run = { f32, n: sg.sizes[r], from: sg.offsets[r] };
          }
        });
        close();
        expect(c.words).toBe(want);
        words += c.words;
        const carrier = packBlocks(flat.subarray(a, b), c.blocks, c.words); // [words]
        expect(carrier.length).toBe(c.words);
        unpackBlocks(carrier, c.blocks, got.subarray(a, b));
        expect(pieceCarrier(reg, pieces, j, r, 'f32')).toEqual({ blocks: [{ from: 0, count: b - a, word: 0, enc: 'f32' }], words: b - a });
      }
      expect(words).toBeLessThan((dtype === 'f16' ? 0.6 : 0.4) * reg.total(r));
      reg.segments.forEach((sg, si) => {
        const want = reg.view(flat, si, r);
        const have = reg.view(got, si, r);
        if (sg.kind === 'stats') return expect(Array.from(have), sg.name).toEqual(Array.from(want));
        if (dtype === 'f16') {
          const rounded = new Float32Array(want.length); // [n]
          unpackF16(packF16(want), rounded);
          return expect(Array.from(have), sg.name).toEqual(Array.from(rounded));
        }
        // i8: within half a level of the run's largest value (a block's max is at most the run's)
        const m = reg.view(runMax, si, r);
        want.forEach((x, i) => expect(Math.abs(have[i] - x), `${sg.name}[${i}]`).toBeLessThanOrEqual((m[i] / 254) * (1 + 1e-5)));
      });
    }
  });
});
