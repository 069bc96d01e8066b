import { describe, expect, it } from 'vitest';
import { packF16, unpackF16, type GemvWeights } from '../../src/kernels/gemv';
import { gemvBatch, gemvBatchUsable, reference } from '../../src/kernels/gemv-batch';
import { dequantize, quantize, repack } from '../../src/kernels/common';
import { dequantizeX, quantizedWords, quantizeQ8, unpackQuantized } from '../../src/kernels/quantize-q8';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

/** y [M, N]; with xq, X goes through the quantize kernel first and its quants [M*K] / scales [M*K/32] come back too. */
async function run(N: number, K: number, M: number, wtype: GemvWeights, x: Float32Array, packed: ArrayBufferView, scaleOff: number,
  xq = false): Promise<{ y: Float32Array; quants?: { q: Int8Array; d: Float32Array } }> {
  const gpu = await testGpu();
  const wb = gpu.upload(packed); // [N, K] f32, f16x2 or q8_0 repacked
  const xb = gpu.upload(x); // [M, K]
  const qb = xq ? gpu.alloc(quantizedWords(M * K) * 4) : null; // [M*K/4 + M*K/32] words
  const yb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(yb, new Float32Array(M * N).fill(NaN)); // poison: every entry must be written
  if (qb) quantizeQ8(gpu, xb, qb, M * K);
  gemvBatch(gpu, wb, qb ?? xb, yb, M, N, K, wtype, { scaleOff, xq });
  const y = new Float32Array(await gpu.read(yb, M * N * 4)); // [M, N]
  const quants = qb ? unpackQuantized(await gpu.read(qb, quantizedWords(M * K) * 4), M * K) : undefined;
  for (const b of [yb, ...(qb ? [qb] : [])]) gpu.free(b);
  wb.destroy();
  xb.destroy();
  return { y, quants };
}

describe('gemv_batch (batched decode projections)', async () => {
  const gpu = await testGpu();
  const ok = gemvBatchUsable(gpu);
  const cases: [GemvWeights, number, number, number][] = [];
  for (const wtype of ['f32', 'f16'] as const) for (const [N, K, M] of [[37, 64, 3], [70, 72, 11], [33, 13, 9]]) cases.push([wtype, N, K, M]);
  for (const [N, K, M] of [[37, 64, 3], [70, 96, 11], [33, 32, 9]]) cases.push(['q8_0', N, K, M]);
  for (const [wtype, N, K, M] of cases) {
    it.runIf(ok)(`${wtype} N=${N} K=${K} M=${M} matches the f64 reference; rows are independent of the batch`, async () => {
      const w = randn(N * K, N + K); // [N, K]
      const x = randn(M * K, M); // [M, K]
      const q = wtype === 'q8_0' ? quantize(w, N, K, 'q8_0') : null; // GGUF q8_0 blocks
      const { data: packed, scaleOff } = q ? repack(q) : { data: wtype === 'f16' ? packF16(w) : w, scaleOff: 0 };
      // What the GPU multiplies: f16-rounded or CPU-dequantized q8_0 weights.
      const wSeen = q ? dequantize(q) : wtype === 'f16' ? unpackF16(packed as Uint32Array, N * K) : w;
      const got = (await run(N, K, M, wtype, x, packed, scaleOff)).y; // [M, N]
      expect(relErr(got, reference(x, wSeen, M, N, K))).toBeLessThan(1e-5);
      // Batch invariance (what keeps a request's text the same alone or batched): row m computed in a
      // batch of M is bitwise the row computed alone.
      for (const m of [0, M - 1]) {
        const alone = (await run(N, K, 1, wtype, x.slice(m * K, (m + 1) * K), packed, scaleOff)).y; // [1, N]
        expect(Array.from(got.subarray(m * N, (m + 1) * N))).toEqual(Array.from(alone));
      }
    });
  }

  for (const [N, K, M] of [[37, 64, 3], [70, 96, 11]]) {
    it.runIf(ok && gpu.report.hasDot4I8)(`q8_0 on int8 X N=${N} K=${K} M=${M}: the f64 product of the kernel's own quants; rows independent of the batch`, async () => {
      const q = quantize(randn(N * K, N + K + 1), N, K, 'q8_0'); // GGUF q8_0 blocks
      const { data, scaleOff } = repack(q);
      const x = randn(M * K, M + 1); // [M, K]
      const { y, quants } = await run(N, K, M, 'q8_0', x, data, scaleOff, true); // [M, N]
      expect(relErr(y, reference(dequantizeX(quants!.q, quants!.d), dequantize(q), M, N, K))).toBeLessThan(1e-6);
      for (const m of [0, M - 1]) {
        const alone = (await run(N, K, 1, 'q8_0', x.slice(m * K, (m + 1) * K), data, scaleOff, true)).y; // [1, N]
        expect(Array.from(y.subarray(m * N, (m + 1) * N))).toEqual(Array.from(alone));
      }
    });
  }
});
