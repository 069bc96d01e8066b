import { describe, expect, it } from 'vitest';
import { packF16, unpackF16, type GemvWeights } from '../../src/kernels/gemv';
import { gemvBatch, gemvBatchUsable, reference } from '../../src/kernels/gemv-batch';
import { dequantize, quantize, repack } from '../../src/kernels/common';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

async function run(N: number, K: number, M: number, wtype: GemvWeights, x: Float32Array, packed: ArrayBufferView, scaleOff: number): Promise<Float32Array> {
  const gpu = await testGpu();
  const wb = gpu.upload(packed); // [N, K] f32, f16x2 or q8_0 repacked
  const xb = gpu.upload(x); // [M, K]
  const yb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(yb, new Float32Array(M * N).fill(NaN)); // poison: every entry must be written
  gemvBatch(gpu, wb, xb, yb, M, N, K, wtype, { scaleOff });
  const got = new Float32Array(await gpu.read(yb, M * N * 4)); // [M, N]
  gpu.free(yb);
  wb.destroy();
  xb.destroy();
  return got;
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
      const got = await run(N, K, M, wtype, x, packed, scaleOff); // [M, N]
      expect(relErr(got, reference(x, wSeen, M, N, K))).toBeLessThan(1e-5);
      // Batch invariance (what keeps a request's text the same alone or batched): row m computed in a
      // batch of M is bitwise the row computed alone.
      for (const m of [0, M - 1]) {
        const alone = await run(N, K, 1, wtype, x.slice(m * K, (m + 1) * K), packed, scaleOff); // [1, N]
        expect(Array.from(got.subarray(m * N, (m + 1) * N))).toEqual(Array.from(alone));
      }
    });
  }
});
