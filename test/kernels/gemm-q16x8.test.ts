import { describe, expect, it } from 'vitest';
import { gemmQ, gemmQError, gemmQLabel, gemmQSharedBytes, planGemmQ, reference, GEMM_Q_DEFAULT, type GemmQConfig } from '../../src/kernels/gemm-q16x8';
import { testGpu } from '../helpers/gpu';
import { maxAbsDiff, randArray, rng } from './rand';

// GPU result and f64-accumulated CPU reference on seeded inputs.
async function runCase(M: number, N: number, K: number, bT: boolean, config: GemmQConfig, seed: number) {
  const gpu = await testGpu();
  const r = rng(seed);
  const a = randArray(r, M * K); // [M, K]
  const b = randArray(r, K * N); // [K, N] or [N, K]
  const ab = gpu.upload(a);
  const bb = gpu.upload(b);
  const cb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(cb, new Float32Array(M * N).fill(NaN)); // poison: every element must be written
  gemmQ(gpu, ab, bb, M, N, K, { bT, config, out: cb });
  const got = new Float32Array(await gpu.read(cb, M * N * 4)); // [M, N]
  gpu.free(cb);
  ab.destroy();
  bb.destroy();
  return [got, reference(a, b, M, N, K, bT)] as const;
}

const Q = (o: Partial<GemmQConfig>): GemmQConfig => ({ ...GEMM_Q_DEFAULT, ...o });
// lavapipe: 32 KiB of workgroup memory, subgroup size 8 (the warp tiling is a pure permutation, so any size
// works), ~30 s to compile each case. Cases: the H100 target tile (128x256 bk16, 27 KiB) with both knobs on
// in NN and NT; two stages + loop over chunks + L2 grouping on 128x128 (128 threads); two stages with the
// unconditional prefetch (the last tile stores into the stage read one tile earlier) and row-major threads.
const CASES: [GemmQConfig, number, number, number, boolean][] = [
  [Q({ unrollKc: true, pfUncond: true }), 256, 512, 48, false],
  [Q({ unrollKc: true, pfUncond: true }), 128, 256, 48, true],
  [Q({ wgX: 16, wgY: 8, bk: 8, stages: 2, warpX: 8, groupM: 2 }), 256, 256, 40, false],
  [Q({ wgX: 16, wgY: 8, bk: 8, stages: 2, warpX: 0, unrollKc: true, pfUncond: true }), 128, 128, 24, false],
];

describe('gemm_reg_q16x8 (shaders/gemm/gemm_reg_q16x8.wgsl)', () => {
  it('checks shapes, knobs and workgroup memory', () => {
    expect(gemmQSharedBytes(GEMM_Q_DEFAULT)).toBe(27648);
    expect(gemmQError(4096, 4096, 4096, GEMM_Q_DEFAULT)).toBeNull();
    expect(gemmQError(4096, 4096, 4096, Q({ stages: 2 }), { maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024 })).toMatch(/memory/);
    expect(gemmQError(4096, 4096, 4096, Q({ wgX: 16, wgY: 8, bk: 32 }))).toBeNull(); // 8 + 8 loads per thread
    expect(gemmQError(4096, 4096, 4096, Q({ bk: 32, wgX: 16, wgY: 4 }))).toMatch(/1\.\.8/);
    expect(gemmQError(100, 256, 64, GEMM_Q_DEFAULT)).toMatch(/aligned/);
    expect(gemmQError(128, 256, 24, GEMM_Q_DEFAULT)).toMatch(/aligned/);
    expect(() => planGemmQ(128, 128, 64)).toThrow(/aligned/);
    expect(planGemmQ(256, 512, 64).workgroups).toEqual([2, 2]);
    expect(gemmQLabel(Q({ unrollKc: true, pfUncond: true }))).toBe('q 128x256 bk16 s1 w4 g0 U P');
  });

  for (const [config, M, N, K, bT] of CASES) {
    it(`${gemmQLabel(config)} ${bT ? 'NT' : 'NN'} ${M}x${N}x${K} matches the CPU reference`, async () => {
      const [got, want] = await runCase(M, N, K, bT, config, 7 + K);
      expect(maxAbsDiff(got, want)).toBeLessThan(2e-5 * K);
    }, 180_000);
  }
});
