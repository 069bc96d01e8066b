// matmul()'s prefill GEMM path (gemm_reg_r16x8 through matmulChoice / tuneMatmul) against the f64 CPU
// reference on lavapipe, for f32 and f16 weights, plus the pure choice rules.
import { describe, expect, it } from 'vitest';
import { MemoryTuneCache, defaultTuneCache, tuneKey } from '../../src/kernels/autotune';
import { dequantize, quantize, uploadWeight } from '../../src/kernels/common';
import type { GemmRegConfig } from '../../src/kernels/gemm-reg';
import {
  MATMUL_GEMM_CONFIGS, matmul, matmulChoice, matmulChoiceError, matmulDefaultChoice, matmulShapeKey, reference, tuneMatmul,
} from '../../src/kernels/matmul';
import { testGpu } from '../helpers/gpu';
import { maxAbsDiff, randArray, rng } from './rand';

// 64x64 tiles, 32 threads: a small config lavapipe compiles in reasonable time (the H100 ones are 128-wide).
const SMALL: GemmRegConfig = { wgX: 8, wgY: 4, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 8, groupM: 0, regs: true };
const LIMITS = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 };

describe('matmul prefill choice (pure)', () => {
  it('buckets M and keys by N, K and weight type', () => {
    expect(matmulShapeKey(100, 2048, 5632, 'f16')).toBe('matmul.v1|f16|m128|n2048|k5632');
    expect(matmulShapeKey(128, 2048, 5632, 'f16')).toBe('matmul.v1|f16|m128|n2048|k5632');
    expect(matmulShapeKey(129, 2048, 5632, 'f32')).toBe('matmul.v1|f32|m256|n2048|k5632');
    expect(matmulShapeKey(2, 64, 64, 'f32')).toBe('matmul.v1|f32|m8|n64|k64');
  });

  it('uses the GEMM only with enough workgroups, aligned N and K, and f32/f16 weights', () => {
    expect(matmulDefaultChoice(2048, 2048, 2048, 'f32', LIMITS)).toEqual({ reg: MATMUL_GEMM_CONFIGS[0] }); // 256 tiles of 128x128
    expect(matmulDefaultChoice(512, 2048, 2048, 'f16', LIMITS)).toEqual({ reg: MATMUL_GEMM_CONFIGS[1] }); // 128 tiles of 64x128
    expect(matmulDefaultChoice(128, 2048, 2048, 'f32', LIMITS)).toEqual({ tiled: true }); // too few workgroups
    expect(matmulDefaultChoice(2048, 2048, 2048, 'q8_0', LIMITS)).toEqual({ tiled: true });
    expect(matmulDefaultChoice(2048, 2000, 2048, 'f32', LIMITS)).toEqual({ tiled: true }); // N % 64 != 0
    expect(matmulChoiceError({ reg: MATMUL_GEMM_CONFIGS[0] }, 2048, 2052, 'f32', LIMITS)).toMatch(/K/);
    expect(matmulChoiceError({ tiled: true }, 7, 5, 'q8_0', LIMITS)).toBeNull();
  });
});

async function run(M: number, N: number, K: number, type: 'f32' | 'f16', seed: number) {
  const gpu = await testGpu();
  const r = rng(seed);
  const wt = quantize(randArray(r, N * K), N, K, type); // [N, K] GGUF bytes
  const x = randArray(r, M * K); // [M, K]
  const w = uploadWeight(gpu, wt);
  const xb = gpu.upload(x); // [M, K]
  const yb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(yb, new Float32Array(M * N).fill(NaN)); // poison
  // 'gemm': the memoized matmulChoice() (what the default path takes for M > 1 on a GPU; lavapipe is a
  // fallback adapter, whose default is the row kernel).
  matmul(gpu, xb, w, yb, M, 'gemm');
  const got = new Float32Array(await gpu.read(yb, M * N * 4)); // [M, N]
  gpu.free(yb);
  gpu.free(xb);
  w.buf.destroy();
  return { got, want: reference(x, dequantize(wt), M, N, K) };
}

describe('matmul prefill through the GEMM (lavapipe)', () => {
  for (const type of ['f32', 'f16'] as const) {
    it(`${type}: a cached GEMM choice is used for ragged and aligned M`, async () => {
      const gpu = await testGpu();
      for (const [M, N, K] of [[37, 128, 64], [64, 64, 40]] as const) {
        // Seed the default cache as tuneMatmul() would: this shape class -> SMALL.
        defaultTuneCache().set(tuneKey(gpu.report, matmulShapeKey(M, N, K, type)), JSON.stringify({ reg: SMALL }));
        expect(matmulChoice(gpu, M, N, K, type)).toEqual({ reg: SMALL });
        const { got, want } = await run(M, N, K, type, M + N);
        expect(maxAbsDiff(got, want), `${M}x${N}x${K}`).toBeLessThan(2e-6 * K + 1e-6);
      }
    }, 600_000);
  }

  it('tuneMatmul() times the candidates and caches a valid winner', async () => {
    const gpu = await testGpu();
    const cache = new MemoryTuneCache();
    const res = await tuneMatmul(gpu, 64, 64, 32, 'f16', { cache, candidates: [{ tiled: true }, { reg: SMALL }] });
    expect(res.cached).toBe(false);
    expect(res.trials.every((t) => Number.isFinite(t.seconds))).toBe(true);
    expect(matmulChoice(gpu, 64, 64, 32, 'f16', cache)).toEqual(res.best);
    expect((await tuneMatmul(gpu, 60, 64, 32, 'f16', { cache, candidates: [{ tiled: true }, { reg: SMALL }] })).cached).toBe(true);
  }, 600_000);
});
