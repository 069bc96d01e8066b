import { describe, expect, it } from 'vitest';
import {
  GEMM_CANDIDATES, GEMM_DEFAULT, GEMM_TUNE_CANDIDATES, gemm, gemmChoiceError, gemmChoiceOptions, gemmConfigError, gemmTuned,
  planGemm, reference, tuneGemm, type GemmChoice, type GemmConfig,
} from '../../src/kernels/gemm';
import { MemoryTuneCache } from '../../src/kernels/autotune';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

// Runs the GPU GEMM on seeded inputs and returns [gpu result, CPU reference].
async function runCase(M: number, N: number, K: number, bT: boolean, config: GemmConfig, seed: number) {
  const gpu = await testGpu();
  const a = randn(M * K, seed); // [M, K]
  const b = randn(K * N, seed + 1); // [K, N] or [N, K]
  const ab = gpu.upload(a);
  const bb = gpu.upload(b);
  const cb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(cb, new Float32Array(M * N).fill(NaN)); // poison: every element must be written
  gemm(gpu, ab, bb, M, N, K, { bT, config, out: cb });
  const got = new Float32Array(await gpu.read(cb, M * N * 4)); // [M, N]
  gpu.free(cb);
  ab.destroy();
  bb.destroy();
  return [got, reference(a, b, M, N, K, bT)] as const;
}

const SMALL: GemmConfig = { wgX: 8, wgY: 8, bk: 8 }; // 64x64 tiles
const WIDE: GemmConfig = { wgX: 16, wgY: 8, bk: 16 }; // 64x128 tiles, 2 B loads per thread

describe('gemm (shaders/gemm/gemm.wgsl)', () => {
  it('reference() matches a hand-computed product', () => {
    // [[1,2],[3,4]] * [[5,6],[7,8]] = [[19,22],[43,50]]; with B transposed the same B^T gives it too.
    const a = new Float32Array([1, 2, 3, 4]);
    expect([...reference(a, new Float32Array([5, 6, 7, 8]), 2, 2, 2)]).toEqual([19, 22, 43, 50]);
    expect([...reference(a, new Float32Array([5, 7, 6, 8]), 2, 2, 2, true)]).toEqual([19, 22, 43, 50]);
  });

  it('picks the fast path only for tile-aligned shapes', () => {
    expect(planGemm(128, 128, 64, { config: SMALL }).kernel.constants?.CHECK).toBe(0);
    expect(planGemm(128, 120, 64, { config: SMALL }).kernel.constants?.CHECK).toBe(1);
    expect(planGemm(128, 128, 60, { config: SMALL }).kernel.constants?.CHECK).toBe(1);
    expect(planGemm(100, 70, 8, { config: SMALL }).workgroups).toEqual([2, 2]);
    for (const c of GEMM_CANDIDATES) expect(gemmConfigError(c)).toBeNull();
    expect(gemmConfigError({ wgX: 16, wgY: 16, bk: 4 })).not.toBeNull();
    expect(gemmConfigError({ wgX: 8, wgY: 8, bk: 8, swiz: true })).toBeNull();
    expect(gemmConfigError({ wgX: 4, wgY: 16, bk: 8, swiz: true })).not.toBeNull();
  });

  for (const bT of [false, true]) {
    it(`fast path, tile-aligned (bT=${bT})`, async () => {
      const [got, want] = await runCase(64, 128, 48, bT, SMALL, 11);
      expect(relErr(got, want)).toBeLessThan(1e-5);
    });

    it(`bounds-checked path, M/N/K not multiples of the tile or of 4 (bT=${bT})`, async () => {
      const [got, want] = await runCase(37, 45, 19, bT, SMALL, 23);
      expect(relErr(got, want)).toBeLessThan(1e-5);
    });

    it(`64x128 tiles with two loads per thread, aligned and ragged (bT=${bT})`, async () => {
      const [g1, w1] = await runCase(64, 128, 32, bT, WIDE, 31);
      expect(relErr(g1, w1)).toBeLessThan(1e-5);
      const [g2, w2] = await runCase(70, 130, 33, bT, WIDE, 37);
      expect(relErr(g2, w2)).toBeLessThan(1e-5);
    });
  }

  it('warp-tiled thread layout (swiz), aligned and ragged, both layouts', async () => {
    const swiz: GemmConfig = { wgX: 16, wgY: 8, bk: 8, swiz: true };
    const [g1, w1] = await runCase(64, 128, 24, false, swiz, 43);
    expect(relErr(g1, w1)).toBeLessThan(1e-5);
    const [g2, w2] = await runCase(67, 131, 13, true, swiz, 47);
    expect(relErr(g2, w2)).toBeLessThan(1e-5);
  });

  it('128x128 tiles (16x16 threads, BK 16), aligned', async () => {
    const [got, want] = await runCase(128, 128, 32, false, { wgX: 16, wgY: 16, bk: 16 }, 41);
    expect(relErr(got, want)).toBeLessThan(1e-5);
  });

  it('tuneGemm times the candidates once, then answers from the per-adapter cache', async () => {
    const gpu = await testGpu();
    const cache = new MemoryTuneCache();
    const candidates = [SMALL, WIDE];
    const first = await tuneGemm(gpu, 64, 64, 32, { cache, candidates });
    expect(first.cached).toBe(false);
    expect(first.trials).toHaveLength(2);
    for (const t of first.trials) expect(t.seconds).toBeGreaterThan(0);
    const keys = Object.keys(cache.entries());
    expect(keys).toHaveLength(1);
    expect(keys[0]).toContain(gpu.report.vendor || '?');
    const second = await tuneGemm(gpu, 64, 64, 32, { cache, candidates });
    expect(second.cached).toBe(true);
    expect(second.best).toEqual(first.best);
  });

  it('tunes gemm.wgsl and gemm_reg.wgsl candidates together; gemmTuned() reads the winner back', async () => {
    const gpu = await testGpu();
    const limits = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 };
    expect(GEMM_TUNE_CANDIDATES.some((c) => 'reg' in c)).toBe(true);
    for (const c of GEMM_TUNE_CANDIDATES) expect(gemmChoiceError(c, limits)).toBeNull(); // WebGPU's default limits
    expect(gemmChoiceError({ wgX: 32, wgY: 16, bk: 32 }, limits)).toMatch(/threads/);
    const cache = new MemoryTuneCache();
    expect(gemmTuned(gpu, 64, 64, 32, { cache })).toEqual({ config: GEMM_DEFAULT }); // nothing tuned yet
    const reg = { wgX: 8, wgY: 8, tm: 8, tn: 8, bk: 8, stages: 2 as const, warpX: 8, groupM: 8 };
    const candidates: GemmChoice[] = [SMALL, { reg }];
    const r = await tuneGemm(gpu, 64, 64, 32, { bT: true, cache, candidates });
    expect(r.trials.map((t) => Number.isFinite(t.seconds))).toEqual([true, true]);
    const opts = gemmTuned(gpu, 64, 64, 32, { bT: true, cache });
    expect(opts).toEqual(gemmChoiceOptions(r.best));
    expect(gemmTuned(gpu, 64, 64, 32, { bT: false, cache })).toEqual({ config: GEMM_DEFAULT }); // other layout
    // The winner computes the right product on an unaligned shape (bounds-checked path).
    const [M, N, K] = [37, 70, 29];
    const a = randn(M * K, 5); // [M, K]
    const b = randn(N * K, 6); // [N, K]
    const ab = gpu.upload(a);
    const bb = gpu.upload(b);
    const cb = gemm(gpu, ab, bb, M, N, K, { bT: true, ...opts }); // [M, N]
    const got = new Float32Array(await gpu.read(cb, M * N * 4)); // [M, N]
    gpu.free(cb);
    ab.destroy();
    bb.destroy();
    expect(relErr(got, reference(a, b, M, N, K, true))).toBeLessThan(1e-5);
  });
});
