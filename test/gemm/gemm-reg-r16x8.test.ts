// shaders/gemm/gemm_reg_r16x8.wgsl (GemmRegConfig.regs) against the f64 CPU reference on lavapipe: f32 and
// packed-f16 and q8_0 B, the three CHECK modes (aligned, ragged M only, any shape), one and two shared stages.
import { describe, expect, it } from 'vitest';
import { gemmReg, gemmRegConfigError, gemmRegPackedError, planGemmReg, reference, type GemmRegConfig } from '../../src/kernels/gemm-reg';
import { dequantize, quantize, repack } from '../../src/kernels/common';
import { f16ToF32, f32ToF16 } from '../../src/gpu/f16';
import { testGpu } from '../helpers/gpu';
import { randn, relErr } from './util';

// 64x64 tiles, 32 threads: A and B take 4 quads per thread (all four named prefetch registers), f16 B two pieces.
const SMALL: GemmRegConfig = { wgX: 8, wgY: 4, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 8, groupM: 0, regs: true };
// 128x64 tiles, 64 threads, two stages, L2 grouping: 4 A quads, 2 B quads, 1 f16 piece per thread.
const TWO_STAGE: GemmRegConfig = { wgX: 8, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 2, warpX: 4, groupM: 2, regs: true };
// The H100 tile (128 threads) with bk16: 4 A quads, 4 B quads, 2 f16 pieces per thread; one stage (18 KB of
// workgroup memory: two stages need 36 KB, over lavapipe's 32 KB).
const BK16: GemmRegConfig = { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 16, stages: 1, warpX: 16, groupM: 8, regs: true };
// The 64-thread prefill tiles with bk16: 128x64 takes 8 A quads per thread (ra0..ra7), 4 f32 B quads, 2 f16
// pieces; 64x128 takes 4 A quads, 8 f32 B quads (rb0..rb7), 4 f16 pieces.
const TALL16: GemmRegConfig = { wgX: 8, wgY: 8, tm: 16, tn: 8, bk: 16, stages: 1, warpX: 4, groupM: 0, regs: true };
const WIDE16: GemmRegConfig = { wgX: 16, wgY: 4, tm: 16, tn: 8, bk: 16, stages: 1, warpX: 8, groupM: 0, regs: true };

/** Packs f32 values as f16 pairs in u32 words (low half first) and returns them with their f16-rounded values. */
function toF16(x: Float32Array): { packed: Uint16Array; rounded: Float32Array } {
  const packed = new Uint16Array(x.length + (x.length & 1)); // [n] halves, even count
  const rounded = new Float32Array(x.length); // [n]
  for (let i = 0; i < x.length; i++) {
    packed[i] = f32ToF16(x[i]);
    rounded[i] = f16ToF32(packed[i]);
  }
  return { packed, rounded };
}

type BType = 'f32' | 'f16' | 'q8_0';

/** B as the GPU reads it and the values it holds: f32, f16 pairs, or q8_0 ([N, K]) repacked with its scale
 * offset, whose values come from the CPU dequantizer (not from the GPU layout). */
function bOperand(b: Float32Array, N: number, K: number, type: BType): { data: ArrayBufferView; scaleOff?: number; seen: Float32Array } {
  if (type === 'f32') return { data: b, seen: b };
  if (type === 'f16') {
    const h = toF16(b);
    return { data: h.packed, seen: h.rounded };
  }
  const q = quantize(b, N, K, 'q8_0'); // GGUF q8_0 blocks
  return { ...repack(q), seen: dequantize(q) };
}

async function run(M: number, N: number, K: number, cfg: GemmRegConfig, bT: boolean, type: BType, seed: number) {
  const gpu = await testGpu();
  const a = randn(M * K, seed); // [M, K]
  const b = randn(K * N, seed + 1); // [K, N] or [N, K]
  const { data, scaleOff, seen } = bOperand(b, N, K, type);
  const ab = gpu.upload(a);
  const bb = gpu.upload(data);
  const cb = gpu.alloc(M * N * 4); // [M, N]
  gpu.write(cb, new Float32Array(M * N).fill(NaN)); // poison: every element must be written
  gemmReg(gpu, ab, bb, M, N, K, { bT, bF16: type === 'f16', bQ8: type === 'q8_0', scaleOff, config: cfg, out: cb });
  const got = new Float32Array(await gpu.read(cb, M * N * 4)); // [M, N]
  gpu.free(cb);
  ab.destroy();
  bb.destroy();
  return relErr(got, reference(a, seen, M, N, K, bT));
}

// [M, N, K] and the CHECK mode planGemmReg picks for 64x64 tiles.
const SHAPES: [number, number, number, number][] = [[128, 128, 64, 0], [70, 128, 40, 1], [1, 64, 16, 1], [70, 45, 37, 2]];
// [M, N, K] and the CHECK mode for the 128x64 / 64x128 bk16 tiles (N % 128, K % 16 for CHECK <= 1).
// (lavapipe compiles these 64-thread kernels slowly: ~20 s per CHECK mode, so one shape per mode)
const SHAPES16: [number, number, number, number][] = [[128, 128, 64, 0], [70, 128, 48, 1], [70, 45, 37, 2]];
// q8_0 (K % 32 == 0; N ragged for CHECK 2): several 32-blocks per row, so a wrong scale index shows.
const SHAPES_Q8: [number, number, number, number][] = [[128, 128, 96, 0], [70, 128, 64, 1], [70, 45, 96, 2]];

describe('gemm_reg_r16x8 (register prefetch, f16 B, ragged M)', () => {
  it('validates configs and picks the CHECK mode', () => {
    expect(gemmRegConfigError(SMALL)).toBeNull();
    expect(gemmRegConfigError(TWO_STAGE)).toBeNull();
    expect(gemmRegConfigError({ ...SMALL, tm: 8 })).toMatch(/16x8/);
    expect(gemmRegConfigError({ ...SMALL, bk: 16 })).toBeNull(); // 8 A and 8 B quads per thread
    expect(gemmRegConfigError({ ...SMALL, bk: 32 })).toMatch(/1\.\.8/); // 16 A quads per thread
    expect(gemmRegPackedError(SMALL)).toBeNull();
    expect(gemmRegPackedError({ ...SMALL, regs: false })).not.toBeNull();
    expect(gemmRegPackedError({ wgX: 16, wgY: 16, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 4, groupM: 0, regs: true })).not.toBeNull();
    for (const [M, N, K, check] of SHAPES) {
      const d = planGemmReg(M, N, K, { config: SMALL, bT: true });
      expect(d.kernel.file).toBe('shaders/gemm/gemm_reg_r16x8.wgsl');
      expect(d.kernel.constants?.CHECK, `${M}x${N}x${K}`).toBe(check);
    }
    for (const cfg of [TALL16, WIDE16]) {
      expect(gemmRegConfigError(cfg)).toBeNull();
      expect(gemmRegPackedError(cfg)).toBeNull();
      for (const [M, N, K, check] of SHAPES16) {
        expect(planGemmReg(M, N, K, { config: cfg, bT: true }).kernel.constants?.CHECK, `${M}x${N}x${K}`).toBe(check);
      }
    }
    expect(() => planGemmReg(64, 64, 64, { config: SMALL, bF16: true })).toThrow(/bT/);
    expect(() => planGemmReg(64, 64, 48, { config: SMALL, bT: true, bQ8: true })).toThrow(/K % 32/);
    expect(() => planGemmReg(64, 64, 64, { config: SMALL, bT: true, bQ8: true, bF16: true })).toThrow(/not both/);
    // The scales' word offset reaches the shader: the caller's, else right after the N*K quants.
    expect(planGemmReg(64, 64, 64, { config: SMALL, bT: true, bQ8: true, scaleOff: 5000 }).params[3]).toBe(5000);
    expect(planGemmReg(64, 32, 64, { config: SMALL, bT: true, bQ8: true }).params[3]).toBe(512);
    expect(planGemmReg(64, 32, 64, { config: SMALL, bT: true }).params[3]).toBe(0);
  });

  const cases: [string, GemmRegConfig, boolean, BType][] = [
    ['64x64 f32 NN', SMALL, false, 'f32'],
    ['64x64 f32 NT', SMALL, true, 'f32'],
    ['64x64 f16 NT', SMALL, true, 'f16'],
    ['128x64 two stages f16 NT', TWO_STAGE, true, 'f16'],
    ['128x128 bk16 f16 NT (two k-chunks per tile)', BK16, true, 'f16'],
    ['128x128 bk16 f32 NN', BK16, false, 'f32'],
    ['128x64 bk16 f32 NT (8 A registers)', TALL16, true, 'f32'],
    ['64x128 bk16 f16 NT', WIDE16, true, 'f16'],
    ['64x128 bk16 f32 NN (8 B registers)', WIDE16, false, 'f32'],
    ['64x64 q8_0 NT (4 pieces per 32-block)', SMALL, true, 'q8_0'],
    ['128x128 bk16 q8_0 NT (two pieces per tile row)', BK16, true, 'q8_0'],
  ];
  for (const [name, cfg, bT, type] of cases) {
    it(name, async () => {
      const gpu = await testGpu();
      expect(gemmRegConfigError(cfg, gpu.report.limits)).toBeNull(); // every case must fit this adapter
      let seed = 10;
      const shapes = type === 'q8_0' ? SHAPES_Q8 : cfg.bk === 16 && cfg.wgX * cfg.wgY === 64 ? SHAPES16 : SHAPES;
      for (const [M, N, K] of shapes) {
        expect(await run(M, N, K, cfg, bT, type, (seed += 2)), `${M}x${N}x${K}`).toBeLessThan(1e-5);
      }
    }, 600_000); // lavapipe compiles each unrolled pipeline slowly (3 CHECK modes per case)
  }
});
