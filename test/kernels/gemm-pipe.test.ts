import { describe, expect, it } from 'vitest';
import { gemmPipe, gemmPipeError, gemmPipeSharedBytes, planGemmPipe, reference, type GemmPipeConfig } from '../../src/kernels/gemm-pipe';
import { testGpu } from '../helpers/gpu';
import { maxAbsDiff, randArray, rng } from './rand';

// GPU result and f64-accumulated CPU reference on seeded inputs.
async function runCase(M: number, N: number, K: number, bT: boolean, config: GemmPipeConfig, seed: number) {
  const gpu = await testGpu();
  const r = rng(seed);
  const a = randArray(r, M * K); // [M, K]
  const b = randArray(r, K * N); // [K, N] or [N, K]
  const ab = gpu.upload(a);
  const bb = gpu.upload(b);
  const cb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(cb, new Float32Array(M * N).fill(NaN)); // poison: every element must be written
  gemmPipe(gpu, ab, bb, M, N, K, { bT, config, out: cb });
  const got = new Float32Array(await gpu.read(cb, M * N * 4)); // [M, N]
  gpu.free(cb);
  ab.destroy();
  bb.destroy();
  return [got, reference(a, b, M, N, K, bT)] as const;
}

// lavapipe allows 32 KiB of workgroup memory: bk16 s2 (48 KiB, the H100 target) cannot run here, bk8 s2
// (24 KiB) exercises the same two-stage schedule with one load part per tile.
// lavapipe compiles each case in ~30 s: the two-stage schedule in both layouts, one stage (with warp layout 8
// and L2 grouping) in NN.
const CONFIGS: [string, GemmPipeConfig, boolean[]][] = [
  ['bk8 two stages warp4', { bk: 8, stages: 2, warpX: 4, groupM: 0 }, [false, true]],
  ['bk16 one stage warp8 group2', { bk: 16, stages: 1, warpX: 8, groupM: 2 }, [false]],
];

describe('gemm_reg_p16x8 (shaders/gemm/gemm_reg_p16x8.wgsl)', () => {
  it('checks shapes, knobs and workgroup memory', () => {
    const c: GemmPipeConfig = { bk: 16, stages: 2, warpX: 4, groupM: 0 };
    expect(gemmPipeSharedBytes(c)).toBe(49152);
    expect(gemmPipeError(4096, 4096, 4096, c)).toBeNull();
    expect(gemmPipeError(4096, 4096, 4096, c, { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256 })).toMatch(/memory/);
    expect(gemmPipeError(100, 256, 64, c)).toMatch(/aligned/);
    expect(gemmPipeError(128, 256, 24, { ...c, bk: 16 })).toMatch(/aligned/);
    expect(() => planGemmPipe(128, 128, 64)).toThrow(/aligned/);
    expect(planGemmPipe(256, 512, 64).workgroups).toEqual([2, 2]);
  });

  for (const [name, config, layouts] of CONFIGS) {
    for (const bT of layouts) {
      it(`${name} ${bT ? 'NT' : 'NN'} matches the CPU reference (256x512x48, 3 K tiles or more)`, async () => {
        const [got, want] = await runCase(256, 512, 48, bT, config, 11);
        expect(maxAbsDiff(got, want)).toBeLessThan(2e-5 * 48);
      }, 120_000);
    }
  }
});
