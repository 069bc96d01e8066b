import { describe, expect, it } from 'vitest';
import { parseSamplingParams, philox4x32, sampleToken, samplingParams, SamplingParamsError, uniform } from '../../src/model/sampling';

describe('Philox4x32-10', () => {
  it("matches Random123's published known-answer vectors", () => {
    expect(philox4x32([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
    expect(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });

  it('gives uniform draws in [0, 1) that depend on seed, sequence and step', () => {
    let sum = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const u = uniform(42, 0, i);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      sum += u;
    }
    expect(Math.abs(sum / N - 0.5)).toBeLessThan(0.01); // sd of the mean is 0.002
    expect(uniform(42, 0, 5)).toBe(uniform(42, 0, 5));
    expect(uniform(42, 0, 5)).not.toBe(uniform(43, 0, 5));
    expect(uniform(42, 0, 5)).not.toBe(uniform(42, 1, 5));
    expect(uniform(2 ** 40 + 42, 0, 5)).not.toBe(uniform(42, 0, 5)); // high seed bits matter
  });
});

describe('SamplingParams', () => {
  it("has vLLM's defaults", () => {
    expect(samplingParams()).toEqual({
      n: 1, temperature: 1, top_k: 0, top_p: 1, min_p: 0, seed: undefined, max_tokens: 16, stop: [], stop_token_ids: [], ignore_eos: false,
    });
    expect(samplingParams({ stop: 'x' }).stop).toEqual(['x']);
  });

  it('rejects out-of-range values with vLLM-style messages', () => {
    const bad: [object, RegExp][] = [
      [{ n: 0 }, /n must be at least 1/],
      [{ temperature: -0.1 }, /temperature must be non-negative/],
      [{ top_p: 0 }, /top_p must be in \(0, 1\]/],
      [{ top_p: 1.5 }, /top_p/],
      [{ top_k: -2 }, /top_k must be 0 \(disable\), or at least 1/],
      [{ min_p: 1.5 }, /min_p must be in \[0, 1\]/],
      [{ max_tokens: 0 }, /max_tokens must be at least 1/],
      [{ seed: -1 }, /seed/],
      [{ stop: [''] }, /stop strings/],
    ];
    for (const [p, re] of bad) {
      expect(() => samplingParams(p), JSON.stringify(p)).toThrow(SamplingParamsError);
      expect(() => samplingParams(p)).toThrow(re);
    }
    expect(() => samplingParams({ top_k: -1 })).not.toThrow(); // -1 also means off
  });

  it('parses untrusted JSON with type checks', () => {
    expect(parseSamplingParams({ temperature: 0, max_tokens: 5, stop: ['a'], seed: null, model: 'x' })).toMatchObject({
      temperature: 0, max_tokens: 5, stop: ['a'], seed: undefined,
    });
    expect(() => parseSamplingParams({ temperature: '0.5' })).toThrow(/temperature must be a number/);
    expect(() => parseSamplingParams({ stop: [1] })).toThrow(/stop must be a string or a list/);
    expect(() => parseSamplingParams({ ignore_eos: 1 })).toThrow(/ignore_eos/);
  });
});

describe('sampleToken', () => {
  const logits = Float32Array.from([0.5, 0.3, 0.2, 0].map((p) => (p ? Math.log(p) : -Infinity))); // probs .5 .3 .2 0
  const freq = (p: Parameters<typeof sampleToken>[1], N = 6000) => {
    const c = [0, 0, 0, 0];
    for (let s = 0; s < N; s++) c[sampleToken(logits, p, 7, 0, s)]++;
    return c.map((x) => x / N);
  };

  it('temperature 0 is argmax', () => {
    expect(sampleToken(Float32Array.from([1, 3, 2]), samplingParams({ temperature: 0 }), 1, 0, 0)).toBe(1);
  });

  it('samples in proportion to softmax(logits / T)', () => {
    const f = freq(samplingParams({}));
    [0.5, 0.3, 0.2, 0].forEach((p, i) => expect(Math.abs(f[i] - p)).toBeLessThan(0.025));
    const t2 = freq(samplingParams({ temperature: 2 })); // p ~ sqrt(p): .5^.5 : .3^.5 : .2^.5
    const z = Math.sqrt(0.5) + Math.sqrt(0.3) + Math.sqrt(0.2);
    [0.5, 0.3, 0.2].forEach((p, i) => expect(Math.abs(t2[i] - Math.sqrt(p) / z)).toBeLessThan(0.025));
  });

  it('top_k, top_p and min_p keep the right tokens', () => {
    const k2 = freq(samplingParams({ top_k: 2 }));
    expect(k2[2]).toBe(0);
    expect(Math.abs(k2[0] - 0.625)).toBeLessThan(0.025);
    expect(freq(samplingParams({ top_p: 0.5 }))).toEqual([1, 0, 0, 0]); // .5 already reaches .5
    const p6 = freq(samplingParams({ top_p: 0.6 })); // needs the token crossing .6
    expect(p6[2]).toBe(0);
    expect(p6[1]).toBeGreaterThan(0.3);
    const mp = freq(samplingParams({ min_p: 0.5 })); // keep p >= .25
    expect(mp[2]).toBe(0);
    expect(mp[1]).toBeGreaterThan(0.3);
    expect(freq(samplingParams({ top_k: 1 }), 200)).toEqual([1, 0, 0, 0]);
  });
});
