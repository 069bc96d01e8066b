import { describe, expect, it } from 'vitest';
import { dequantize, quantize, repack } from '../../src/kernels/common';
import { gemv, planGemv, reference as gemvReference, subgroupsUsable, type GemvConfig } from '../../src/kernels/gemv';
import { dequantizeX, quantizedWords, quantizeQ8, reference, unpackQuantized } from '../../src/kernels/quantize-q8';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

/** x [K] through the kernel, read back as quants [K] and scales [K/32]. */
async function gpuQuantize(x: Float32Array): Promise<{ q: Int8Array; d: Float32Array }> {
  const gpu = await testGpu();
  const K = x.length;
  const xb = gpu.upload(x);
  const ob = gpu.alloc(quantizedWords(K) * 4); // [K/4 + K/32] words
  quantizeQ8(gpu, xb, ob, K);
  const words = await gpu.read(ob, quantizedWords(K) * 4);
  gpu.free(ob);
  xb.destroy();
  return unpackQuantized(words, K);
}

describe('quantize_q8 (int8 activations for the q8_0 decode GEMV)', () => {
  it('reference(): ggml rule on a hand case (d = amax / 127, half away from zero, zero block)', () => {
    const x = new Float32Array(64);
    x[0] = 2.54; x[1] = -0.01; x[2] = 0.03; x[3] = -2.54; // d = 0.02: 127, -0.5 -> -1, 1.5 -> 2, -127
    const { q, d } = reference(x);
    expect(d[0]).toBeCloseTo(0.02, 7);
    expect([...q.subarray(0, 4)]).toEqual([127, -1, 2, -127]);
    expect(d[1]).toBe(0); // an all-zero block
    expect([...q.subarray(32)].every((v) => v === 0)).toBe(true);
  });

  it('kernel matches the CPU rule: scales to an ulp, quants exact but at the rare rounding tie (then by one)', async () => {
    const K = 32 * 64;
    const x = randn(K, 31).map((v, k) => (k >> 5 === 5 ? 0 : v * (1 + (k >> 5)))); // [K], block 5 all zero
    const got = await gpuQuantize(x);
    const want = reference(x);
    for (let b = 0; b < K / 32; b++) expect(Math.abs(got.d[b] - want.d[b])).toBeLessThanOrEqual(Math.abs(want.d[b]) * 3e-7);
    let same = 0;
    for (let k = 0; k < K; k++) {
      expect(Math.abs(got.q[k] - want.q[k])).toBeLessThanOrEqual(1);
      if (got.q[k] === want.q[k]) same++;
    }
    expect(same / K).toBeGreaterThan(0.999);
    expect(Math.max(...got.q.map(Math.abs))).toBe(127); // every block's largest value maps to +-127
  });

  it('rejects K not a multiple of 32', async () => {
    const gpu = await testGpu();
    expect(() => quantizeQ8(gpu, gpu.alloc(64), gpu.alloc(64), 40)).toThrow(/K % 32/);
  });
});

describe('gemv_sg.wgsl XQ: q8_0 weights against int8 x (packed int8 dots)', () => {
  for (const cfg of [{ wg: 64, rows: 2, subgroups: true, xq: true }, { wg: 128, rows: 8, subgroups: true, rt: 4, xq: true }] as GemvConfig[]) {
    it(`${JSON.stringify(cfg)}: equals the f64 product of the dequantized weights and the kernel's own x quants`, async (ctx) => {
      const gpu = await testGpu();
      if (!gpu.report.hasDot4I8 || !subgroupsUsable(gpu, cfg, 32)) ctx.skip();
      for (const [N, K, seed] of [[37, 32 * 70, 41], [3, 64, 42]]) {
        const w = quantize(randn(N * K, seed), N, K, 'q8_0'); // GGUF q8_0
        const { data, scaleOff } = repack(w);
        const x = randn(K, seed + 1); // [K]
        const wb = gpu.upload(data);
        const xb = gpu.upload(x);
        const xq = gpu.alloc(quantizedWords(K) * 4); // [K/4 + K/32] words
        const yb = gpu.alloc(N * 4); // [N]
        gpu.write(yb, new Float32Array(N).fill(NaN)); // poison: every row must be written
        quantizeQ8(gpu, xb, xq, K);
        gemv(gpu, wb, xq, N, K, 'q8_0', { config: cfg, out: yb, scaleOff });
        const got = new Float32Array(await gpu.read(yb, N * 4)); // [N]
        const quants = unpackQuantized(await gpu.read(xq, quantizedWords(K) * 4), K);
        for (const b of [xq, yb]) gpu.free(b);
        wb.destroy();
        xb.destroy();
        const wDeq = dequantize(w); // [N, K]
        // Integer products are exact, so only the f32 scaling and sums differ from the f64 reference.
        expect(relErr(got, gemvReference(wDeq, dequantizeX(quants.q, quants.d), N, K))).toBeLessThan(1e-6);
        // And the activation rounding stays small against the exact product (a broken scale or sign would not).
        expect(relErr(got, gemvReference(wDeq, x, N, K))).toBeLessThan(2e-2);
      }
    });
  }

  it('int8 x only for q8_0 on the subgroup kernel', () => {
    expect(() => planGemv(4, 64, 'f16', { wg: 64, rows: 2, subgroups: true, xq: true })).toThrow(/int8 x/);
    expect(() => planGemv(4, 64, 'q8_0', { wg: 64, rows: 2, subgroups: false, xq: true })).toThrow(/int8 x/);
    expect(planGemv(4, 64, 'q8_0', { wg: 64, rows: 2, subgroups: true, xq: true }).kernel.constants?.XQ).toBe(1);
  });
});
