import { describe, expect, it } from 'vitest';
import {
  gemmReg, gemmRegCandidates, gemmRegConfigError, gemmRegSharedBytes, planGemmReg, reference, type GemmRegConfig,
} from '../../src/kernels/gemm-reg';
import { gemm } from '../../src/kernels/gemm';
import { testGpu } from '../helpers/gpu';
import { maxAbsDiff, randArray, rng } from './rand';

// Runs the GPU GEMM on seeded inputs and returns [gpu result, CPU reference].
async function runCase(M: number, N: number, K: number, bT: boolean, config: GemmRegConfig, seed: number) {
  const gpu = await testGpu();
  const r = rng(seed);
  const a = randArray(r, M * K); // [M, K]
  const b = randArray(r, K * N); // [K, N] or [N, K]
  const ab = gpu.upload(a);
  const bb = gpu.upload(b);
  const cb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(cb, new Float32Array(M * N).fill(NaN)); // poison: every element must be written
  gemmReg(gpu, ab, bb, M, N, K, { bT, config, out: cb });
  const got = new Float32Array(await gpu.read(cb, M * N * 4)); // [M, N]
  gpu.free(cb);
  ab.destroy();
  bb.destroy();
  return [got, reference(a, b, M, N, K, bT)] as const;
}

const base: GemmRegConfig = { wgX: 8, wgY: 8, tm: 8, tn: 8, bk: 8, stages: 2, warpX: 8, groupM: 8 }; // 64x64
const CONFIGS: [string, GemmRegConfig][] = [
  ['64x64 t8x8 bk8 s2 warp8 group8', base],
  ['64x64 bk16 one stage, plain threads, raster order', { ...base, bk: 16, stages: 1, warpX: 0, groupM: 0 }],
  ['32x64 t4x8 warp4 group2', { ...base, tm: 4, tn: 8, warpX: 4, groupM: 2 }],
  ['64x32 t8x4 bk32', { ...base, tm: 8, tn: 4, bk: 32 }],
  ['128x64 t16x8 (4 A quads per k)', { ...base, tm: 16, tn: 8, warpX: 4 }],
  ['64x128 t8x16 128 threads', { ...base, wgY: 8, wgX: 8, tn: 16, warpX: 8 }],
  ['128x128 t8x8 256 threads (the H100 shape)', { wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8, stages: 2, warpX: 8, groupM: 8 }],
  // Hand-unrolled shaders (gemm_reg_u*.wgsl)
  ['unrolled 64x64 t8x8 bk16 s1', { ...base, bk: 16, stages: 1, unroll: true }],
  ['unrolled 64x128 t8x16 raster order', { ...base, tn: 16, groupM: 0, unroll: true }],
  ['unrolled 128x64 t16x8 warp4 s1 (the H100 winner shape)', { ...base, tm: 16, stages: 1, warpX: 4, groupM: 0, unroll: true }],
];

// Aligned shapes hit the CHECK=false path for 64-tiles; the odd ones cover partial tiles in M, N and K
// (K not a multiple of 4 or 8) and a grid smaller than the swizzle group.
const SHAPES: [number, number, number][] = [[128, 128, 64], [64, 192, 96], [70, 45, 37], [1, 9, 13], [133, 67, 130]];

describe('gemm_reg (shaders/gemm/gemm_reg.wgsl)', () => {
  it('reference() matches a hand-computed product', () => {
    const a = new Float32Array([1, 2, 3, 4]);
    expect([...reference(a, new Float32Array([5, 6, 7, 8]), 2, 2, 2)]).toEqual([19, 22, 43, 50]);
    expect([...reference(a, new Float32Array([5, 7, 6, 8]), 2, 2, 2, true)]).toEqual([19, 22, 43, 50]);
  });

  it('validates configs and picks the fast path only for aligned shapes', () => {
    for (const c of gemmRegCandidates()) expect(gemmRegConfigError(c)).toBeNull();
    expect(gemmRegCandidates().length).toBeGreaterThan(20);
    expect(gemmRegConfigError({ ...base, bk: 4 })).not.toBeNull();
    expect(gemmRegConfigError({ ...base, tm: 16, tn: 16 })).not.toBeNull();
    expect(gemmRegConfigError({ ...base, warpX: 16 })).not.toBeNull(); // wgX = 8 < 16
    expect(gemmRegConfigError({ ...base, tm: 4, unroll: true })).toMatch(/unroll/); // no 4x8 unrolled shader
    expect(planGemmReg(128, 128, 64, { config: { ...base, unroll: true } }).kernel.file).toBe('shaders/gemm/gemm_reg_u8x8.wgsl');
    expect(planGemmReg(128, 128, 64, { config: { ...base, unroll: true } }).kernel.constants?.TM).toBeUndefined();
    expect(gemmRegSharedBytes(base)).toBe(2 * 1 * 32 * 9 * 16);
    expect(gemmRegConfigError(base, { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 4096 }))
      .toMatch(/workgroup memory/);
    expect(planGemmReg(128, 128, 64, { config: base }).kernel.constants?.CHECK).toBe(0);
    expect(planGemmReg(128, 120, 64, { config: base }).kernel.constants?.CHECK).toBe(1);
    expect(planGemmReg(100, 70, 8, { config: base }).workgroups).toEqual([2, 2]);
  });

  it('gemm() of gemm.ts dispatches it when opts.reg is given', async () => {
    const gpu = await testGpu();
    const [M, N, K] = [40, 72, 24];
    const r = rng(99);
    const a = randArray(r, M * K); // [M, K]
    const b = randArray(r, N * K); // [N, K]
    const ab = gpu.upload(a);
    const bb = gpu.upload(b);
    const cb = gemm(gpu, ab, bb, M, N, K, { bT: true, reg: base }); // [M, N]
    const got = new Float32Array(await gpu.read(cb, M * N * 4)); // [M, N]
    gpu.free(cb);
    ab.destroy();
    bb.destroy();
    expect(maxAbsDiff(got, reference(a, b, M, N, K, true))).toBeLessThan(1e-4);
  });

  for (const [name, cfg] of CONFIGS) {
    // lavapipe compiles the 128-output-per-thread kernels slowly (~30 s each): one layout for those.
    for (const bT of cfg.tm * cfg.tn > 64 ? [false] : [false, true]) {
      it(`${name} bT=${bT}`, async () => {
        const gpu = await testGpu();
        if (gemmRegConfigError(cfg, gpu.report.limits)) return; // over this adapter's limits
        let seed = 1;
        for (const [M, N, K] of SHAPES) {
          const [got, want] = await runCase(M, N, K, bT, cfg, seed++);
          expect(maxAbsDiff(got, want), `${M}x${N}x${K}`).toBeLessThan(2e-6 * K + 1e-6);
        }
      }, 400_000); // lavapipe's shader compile of these unrolled kernels takes from 1 s to minutes on a loaded CPU
    }
  }
});
