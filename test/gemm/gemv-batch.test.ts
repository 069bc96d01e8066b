import { describe, expect, it } from 'vitest';
import { packF16, unpackF16, type GemvWeights } from '../../src/kernels/gemv';
import { gemvBatch, gemvBatchUsable, reference } from '../../src/kernels/gemv-batch';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

async function run(N: number, K: number, M: number, wtype: GemvWeights, x: Float32Array, packed: Float32Array | Uint32Array): Promise<Float32Array> {
  const gpu = await testGpu();
  const wb = gpu.upload(packed); // [N, K] f32 or f16x2
  const xb = gpu.upload(x); // [M, K]
  const yb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(yb, new Float32Array(M * N).fill(NaN)); // poison: every entry must be written
  gemvBatch(gpu, wb, xb, yb, M, N, K, wtype);
  const got = new Float32Array(await gpu.read(yb, M * N * 4)); // [M, N]
  gpu.free(yb);
  wb.destroy();
  xb.destroy();
  return got;
}

describe('gemv_batch (batched decode projections)', async () => {
  const gpu = await testGpu();
  const ok = gemvBatchUsable(gpu);
  for (const wtype of ['f32', 'f16'] as const) for (const [N, K, M] of [[37, 64, 3], [70, 72, 11], [33, 13, 9]]) {
    it.runIf(ok)(`${wtype} N=${N} K=${K} M=${M} matches the f64 reference; rows are independent of the batch`, async () => {
      const w = randn(N * K, N + K); // [N, K]
      const x = randn(M * K, M); // [M, K]
      const packed = wtype === 'f16' ? packF16(w) : w;
      const wSeen = wtype === 'f16' ? unpackF16(packed as Uint32Array, N * K) : w; // what the GPU multiplies
      const got = await run(N, K, M, wtype, x, packed); // [M, N]
      expect(relErr(got, reference(x, wSeen, M, N, K))).toBeLessThan(1e-5);
      // Batch invariance (what keeps a request's text the same alone or batched): row m computed in a
      // batch of M is bitwise the row computed alone.
      for (const m of [0, M - 1]) {
        const alone = await run(N, K, 1, wtype, x.slice(m * K, (m + 1) * K), packed); // [1, N]
        expect(Array.from(got.subarray(m * N, (m + 1) * N))).toEqual(Array.from(alone));
      }
    });
  }
});
