import { describe, expect, it } from 'vitest';
import { packI8, planGemmSubgroupMatrix, referenceI8, subgroupMatrixConfigs, subgroupMatrixSupport } from '../../src/kernels/gemm-subgroup-matrix';
import { create, globals } from 'webgpu';

// The shader itself runs only where the adapter offers subgroup matrices (the H100 bench validates it
// against referenceI8); here: the host helpers, and that the local adapter is gated off correctly.
describe('gemm_subgroup_matrix_i8 host side', () => {
  it('referenceI8 matches a hand-computed product and packI8 is little-endian', () => {
    const a = Int8Array.from([1, -2, 3, 4]); // [2, 2]
    const b = Int8Array.from([5, 6, -7, 8]); // [N=2, K=2]
    expect([...referenceI8(a, b, 2, 2, 2)]).toEqual([1 * 5 - 2 * 6, -7 - 16, 15 + 24, -21 + 32]);
    expect([...packI8(Int8Array.from([1, 2, 3, -1]))]).toEqual([(0xff << 24) | (3 << 16) | (2 << 8) | 1]);
  });

  it('reads config getters by name and gates on the i8 config', () => {
    class Cfg { get componentType() { return 'i8'; } get resultComponentType() { return 'i32'; } get M() { return 16; } get N() { return 16; } get K() { return 32; } }
    const info = { subgroupMatrixConfigs: [new Cfg()] };
    expect(subgroupMatrixConfigs(info)).toEqual([{ componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 }]);
    expect(subgroupMatrixSupport(['chromium-experimental-subgroup-matrix'], info)).toBeNull();
    expect(subgroupMatrixSupport([], info)).toMatch(/feature/);
    expect(subgroupMatrixSupport(['chromium-experimental-subgroup-matrix'], { subgroupMatrixConfigs: [] })).toMatch(/config/);
    expect(() => planGemmSubgroupMatrix(64, 64, 48)).toThrow(/K % 32/);
    expect(planGemmSubgroupMatrix(128, 256, 64).workgroups).toEqual([4, 2]);
  });

  it('the local adapter gate agrees with its features', async () => {
    Object.assign(globalThis, globals);
    const adapter = await (create([]) as unknown as GPU).requestAdapter();
    expect(adapter).toBeTruthy();
    const why = subgroupMatrixSupport(adapter!.features as unknown as Set<string>, adapter!.info);
    expect(why === null).toBe(adapter!.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName));
  });
});
