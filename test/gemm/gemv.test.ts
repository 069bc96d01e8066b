import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, gemv, gemvDecodeConfig, GEMV_DECODE, GEMV_DECODE_Q8_INT8X, GEMV_DEFAULT, packF16, planGemv, reference,
  subgroupsUsable, unpackF16, type GemvConfig, type GemvWeights } from '../../src/kernels/gemv';
import type { Gpu } from '../../src/gpu/gpu';
import { dequantize, quantize, repack } from '../../src/kernels/common';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

/** w [N, K] as the GPU reads it (f32, f16 pairs, or q8_0 repacked with its scale offset) and the values it holds. */
function weights(w: Float32Array, N: number, K: number, wtype: GemvWeights): { data: ArrayBufferView; scaleOff: number; seen: Float32Array } {
  if (wtype === 'f32') return { data: w, scaleOff: 0, seen: w };
  if (wtype === 'f16') {
    const packed = packF16(w); // [N, K/2] f16x2 words
    return { data: packed, scaleOff: 0, seen: unpackF16(packed, N * K) };
  }
  const q = quantize(w, N, K, 'q8_0'); // GGUF q8_0 blocks
  return { ...repack(q), seen: dequantize(q) }; // the reference uses the CPU dequantizer, not the GPU layout
}

async function runCase(N: number, K: number, wtype: GemvWeights, config: GemvConfig, seed: number, check?: 1) {
  const gpu = await testGpu();
  const w = randn(N * K, seed); // [N, K]
  const x = randn(K, seed + 1); // [K]
  const { data, scaleOff, seen } = weights(w, N, K, wtype);
  const wb = gpu.upload(data);
  const xb = gpu.upload(x);
  const yb = gpu.alloc(N * 4); // [N]
  gpu.write(yb, new Float32Array(N).fill(NaN)); // poison: every row must be written
  if (check) {
    // The element-by-element path, forced (q8_0's K is always aligned, so planGemv never picks it there).
    const d = planGemv(N, K, wtype, config, scaleOff);
    gpu.run({ ...d.kernel, constants: { ...d.kernel.constants, CHECK: 1 } }, d.params, [wb, xb, yb], d.workgroups);
  } else {
    gemv(gpu, wb, xb, N, K, wtype, { config, out: yb, scaleOff });
  }
  const got = new Float32Array(await gpu.read(yb, N * 4)); // [N]
  gpu.free(yb);
  wb.destroy();
  xb.destroy();
  // The reference multiplies the values the GPU sees: f16-rounded or q8_0-dequantized weights.
  return [got, reference(seen, x, N, K)] as const;
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

  it('q8_0: fast path (unrolled loop plus tail), ragged N, scales per 32-element block', async () => {
    const [got, want] = await runCase(37, 32 * 70, 'q8_0', SMEM, 15); // 140 groups of 16: 128 unrolled + 12
    expect(relErr(got, want)).toBeLessThan(1e-5);
    const [g2, w2] = await runCase(9, 32, 'q8_0', SMEM, 16); // one block per row: tail only
    expect(relErr(g2, w2)).toBeLessThan(1e-5);
  });

  it('q8_0: bounds-checked path (forced) and the subgroup reduction', async (ctx) => {
    const [got, want] = await runCase(21, 96, 'q8_0', SMEM, 17, 1);
    expect(relErr(got, want)).toBeLessThan(1e-5);
    const gpu = await testGpu();
    const cfg: GemvConfig = { wg: 128, rows: 2, subgroups: true };
    if (!subgroupsUsable(gpu, cfg, 64)) ctx.skip();
    const [g1, w1] = await runCase(19, 32 * 140, 'q8_0', cfg, 18); // 280 groups: 256 unrolled + 24
    expect(relErr(g1, w1)).toBeLessThan(1e-5);
  });

  for (const wtype of ['f32', 'f16', 'q8_0'] as const) {
    it(`${wtype}: rows per thread (rt 2 and 4), N not a multiple of rt`, async (ctx) => {
      const gpu = await testGpu();
      for (const cfg of [{ wg: 64, rows: 2, subgroups: true, rt: 2 }, { wg: 128, rows: 8, subgroups: true, rt: 4 },
        { wg: 128, rows: 4, subgroups: true, rt: 4 }] as GemvConfig[]) {
        if (!subgroupsUsable(gpu, cfg, 32)) ctx.skip();
        const [g1, w1] = await runCase(23, 32 * 70, wtype, cfg, 21); // 23 rows: the last group is ragged
        expect(relErr(g1, w1)).toBeLessThan(1e-5);
        const [g2, w2] = await runCase(3, 64, wtype, cfg, 22); // fewer rows than one workgroup holds
        expect(relErr(g2, w2)).toBeLessThan(1e-5);
      }
    });
  }

  it('rows per thread: only 2 or 4, dividing rows, on the subgroup kernel', () => {
    expect(() => planGemv(8, 64, 'f32', { wg: 64, rows: 2, subgroups: false, rt: 2 })).toThrow(/rt 2 or 4/);
    expect(() => planGemv(8, 64, 'f32', { wg: 64, rows: 2, subgroups: true, rt: 4 })).toThrow(/rt 2 or 4/);
    expect(planGemv(8, 64, 'f32', { wg: 64, rows: 4, subgroups: true, rt: 4 }).kernel.constants?.RT).toBe(4);
  });

  it('q8_0 needs K % 32 == 0; the fast path by type alignment', () => {
    expect(() => planGemv(4, 48, 'q8_0')).toThrow(/K % 32/);
    expect(planGemv(4, 64, 'q8_0', GEMV_DEFAULT, 100).params[2]).toBe(100); // scaleOff reaches the shader
    expect(planGemv(4, 64, 'q8_0').kernel.constants?.WTYPE).toBe(2);
  });

  it('decode config: subgroups where the adapter reports subgroups of at most 128 lanes', () => {
    const report = (hasSubgroups: boolean, subgroupMaxSize?: number) => ({ report: { hasSubgroups, subgroupMaxSize } as Gpu['report'] });
    for (const t of ['f32', 'f16', 'q8_0'] as const) {
      expect(gemvDecodeConfig(report(true, 32), t)).toEqual(GEMV_DECODE[t]);
      expect(gemvDecodeConfig(report(true), t)).toEqual(GEMV_DECODE[t]); // unknown size: 128 lanes a row group still fit
      expect(gemvDecodeConfig(report(false, 32), t)).toEqual(GEMV_DEFAULT);
    }
    // q8_0 decode on int8 x where WGSL has dot4I8Packed; f32 / f16 never.
    const dot4 = { report: { hasSubgroups: true, subgroupMaxSize: 32, hasDot4I8: true } as Gpu['report'] };
    expect(gemvDecodeConfig(dot4, 'q8_0')).toEqual(GEMV_DECODE_Q8_INT8X);
    expect(gemvDecodeConfig(dot4, 'f16')).toEqual(GEMV_DECODE.f16);
    expect(subgroupsUsable(report(true, 32), { wg: 256, rows: 4, subgroups: true })).toBe(true);
    expect(subgroupsUsable(report(true), { wg: 256, rows: 4, subgroups: true })).toBe(false);
  });

  it('more than 65535 workgroups (2-D grid)', async () => {
    const [got, want] = await runCase(66000, 8, 'f32', { wg: 32, rows: 1, subgroups: false }, 13);
    expect(relErr(got, want)).toBeLessThan(1e-5);
  });
});
