import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, gemv, packF16, planGemv, reference, subgroupsUsable, unpackF16,
  type GemvConfig, type GemvWeights } from '../../src/kernels/gemv';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

async function runCase(N: number, K: number, wtype: GemvWeights, config: GemvConfig, seed: number) {
  const gpu = await testGpu();
  const w = randn(N * K, seed); // [N, K]
  const x = randn(K, seed + 1); // [K]
  const packed = wtype === 'f16' ? packF16(w) : w; // [N, K] as f32 or f16x2 words
  const wb = gpu.upload(packed);
  const xb = gpu.upload(x);
  const yb = gpu.alloc(N * 4); // [N]
  gpu.write(yb, new Float32Array(N).fill(NaN)); // poison: every row must be written
  gemv(gpu, wb, xb, N, K, wtype, { config, out: yb });
  const got = new Float32Array(await gpu.read(yb, N * 4)); // [N]
  gpu.free(yb);
  wb.destroy();
  xb.destroy();
  // The reference multiplies the values the GPU sees: f16-rounded weights for f16.
  const wSeen = wtype === 'f16' ? unpackF16(packed as Uint32Array, N * K) : w; // [N, K]
  return [got, reference(wSeen, x, N, K)] as const;
}

const SMEM: GemvConfig = { wg: 64, rows: 2, subgroups: false };

describe('f16 packing', () => {
  it('rounds to nearest even and handles specials', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(70000)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.33325, 5);
    expect([...unpackF16(packF16(new Float32Array([0.5, -3, 1024])), 3)]).toEqual([0.5, -3, 1024]);
  });
});

describe('gemv (shaders/gemm/gemv.wgsl, gemv_sg.wgsl)', () => {
  it('reference() matches a hand-computed product', () => {
    expect([...reference(new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([1, 0, -1]), 2, 3)]).toEqual([-2, -2]);
  });

  it('uses the fast path only for aligned K, and a 2-D grid past 65535 workgroups', () => {
    expect(planGemv(64, 64, 'f32').kernel.constants?.CHECK).toBe(0);
    expect(planGemv(64, 68, 'f16').kernel.constants?.CHECK).toBe(1);
    expect(planGemv(100000, 64, 'f32', { wg: 64, rows: 1, subgroups: false }).workgroups).toEqual([65535, 2]);
  });

  for (const wtype of ['f32', 'f16'] as const) {
    it(`${wtype}: aligned K (fast path, unrolled loop plus tail) and ragged N`, async () => {
      const [got, want] = await runCase(37, 8 * 32 + 8 * 3, wtype, SMEM, 5);
      expect(relErr(got, want)).toBeLessThan(1e-5);
    });

    it(`${wtype}: K not a multiple of 4 or 8 (bounds-checked path)`, async () => {
      const [got, want] = await runCase(13, 21, wtype, SMEM, 7);
      expect(relErr(got, want)).toBeLessThan(1e-5);
    });

    it(`${wtype}: subgroup reduction, when the adapter has subgroups`, async (ctx) => {
      const gpu = await testGpu();
      const cfg: GemvConfig = { wg: 128, rows: 2, subgroups: true }; // 64 threads per row
      if (!subgroupsUsable(gpu, cfg, 64)) ctx.skip();
      const [g1, w1] = await runCase(19, 512 + 40, wtype, cfg, 9);
      expect(relErr(g1, w1)).toBeLessThan(1e-5);
      const [g2, w2] = await runCase(5, 27, wtype, cfg, 10);
      expect(relErr(g2, w2)).toBeLessThan(1e-5);
    });
  }

  it('more than 65535 workgroups (2-D grid)', async () => {
    const [got, want] = await runCase(66000, 8, 'f32', { wg: 32, rows: 1, subgroups: false }, 13);
    expect(relErr(got, want)).toBeLessThan(1e-5);
  });
});
