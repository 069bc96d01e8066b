// attention kernel 'gemm' (src/kernels/diffusion/attention-gemm.ts: scores GEMM, row softmax, output
// GEMM, split-K sum) vs the float64 CPU reference() on lavapipe: the tile-aligned fast path and the
// bounds-checked path (c, lq, lk not multiples of 4 or of the 128 x 128 tile, odd offsets), DistriFusion
// patch queries against all keys (lq != lk, q and K/V in different buffers or one, with offsets), more
// than one query chunk, forced split-K on both GEMMs, a peaked softmax; then the plan at the widened
// U-Net's shapes and 'auto' (gemm by default, flash after setAutoAttentionKernel('flash')).
import { describe, expect, it, vi } from 'vitest';
import * as attn from '../../src/kernels/diffusion/attention';
import { planAttentionGemm, WEBGPU_DEFAULT_LIMITS, type AttentionGemmOptions } from '../../src/kernels/diffusion/attention-gemm';
import { testGpu } from '../helpers/gpu';
import { attentionLayout, maxRelErr } from './helpers';

interface Case {
  name: string;
  c: number;
  lq: number;
  lk: number;
  same: boolean; // q and K/V in one buffer (qkv of the self-attention) or q from its own buffer
  gap: number; // junk floats before q / between the blocks: offsets honoured
  qScale: number; // larger: more peaked softmax (exp overflows without the max subtraction)
  opts?: AttentionGemmOptions;
  chunks?: number; // expected query chunks
}

const rowsBytes = (rows: number, lk: number, splits = 1) => splits * rows * Math.ceil(lk / 4) * 4 * 4; // score buffer of `rows` queries
const CASES: Case[] = [
  { name: 'aligned U-Net qkv layout, c 128, 128 x 128: both GEMMs on the fast path', c: 128, lq: 128, lk: 128, same: true, gap: 0, qScale: 1 },
  { name: 'square 96 x 96, c 64, separate buffers, offsets multiple of 4', c: 64, lq: 96, lk: 96, same: false, gap: 4, qScale: 1 },
  { name: 'c 37 (not a multiple of 4), lq 45 vs lk 70, separate buffers, odd offsets', c: 37, lq: 45, lk: 70, same: false, gap: 3, qScale: 1 },
  { name: 'one qkv buffer, lq = lk = 70, c 100', c: 100, lq: 70, lk: 70, same: true, gap: 0, qScale: 1 },
  { name: 'patch: one buffer, 24 queries vs 100 keys, c 40, offsets', c: 40, lq: 24, lk: 100, same: true, gap: 5, qScale: 1 },
  { name: 'patch: separate buffers, 32 queries vs 136 keys (> one 128 tile), c 48', c: 48, lq: 32, lk: 136, same: false, gap: 8, qScale: 1 },
  { name: 'three query chunks of 32 (aligned chunk offsets), 96 vs 100 keys, c 40', c: 40, lq: 96, lk: 100, same: false, gap: 0, qScale: 1,
    opts: { maxScoreBytes: rowsBytes(32, 100) }, chunks: 3 },
  { name: 'three query chunks (16, 16, 13), odd offsets, c 37, 45 vs 70', c: 37, lq: 45, lk: 70, same: true, gap: 3, qScale: 1,
    opts: { maxScoreBytes: rowsBytes(16, 70) }, chunks: 3 },
  { name: 'forced split-K 3 on both GEMMs, chunks of 16, c 100, 45 vs 70', c: 100, lq: 45, lk: 70, same: false, gap: 1, qScale: 1,
    opts: { splitsQK: 3, splitsPV: 3, maxScoreBytes: rowsBytes(16, 70, 3) }, chunks: 3 },
  { name: 'forced split-K 2 on the aligned fast path, c 128, 128 x 128', c: 128, lq: 128, lk: 128, same: false, gap: 0, qScale: 1,
    opts: { splitsQK: 2, splitsPV: 2 } },
  { name: 'peaked softmax: scores ~ +-100 (exp overflows f32 without the max)', c: 64, lq: 50, lk: 60, same: false, gap: 2, qScale: 20 },
  { name: 'single query, single key', c: 5, lq: 1, lk: 1, same: false, gap: 0, qScale: 1 },
];

/** The CHECK constant of every attention_gemm.wgsl dispatch `fn` encodes (0: fast path). */
async function gemmChecks(fn: () => void): Promise<number[]> {
  const gpu = await testGpu();
  const run = vi.spyOn(gpu, 'run');
  try {
    fn();
    return run.mock.calls.filter((c) => c[0].file === 'shaders/diffusion/attention_gemm.wgsl').map((c) => c[0].constants?.CHECK ?? -1);
  } finally {
    run.mockRestore();
  }
}

describe("attention 'gemm' vs reference()", () => {
  CASES.forEach((k, n) => {
    it(k.name, async () => {
      const gpu = await testGpu();
      const { qHost, kvHost, shape } = attentionLayout(k, 60 + n);
      if (k.chunks) expect(planAttentionGemm(shape, gpu.report.limits, k.opts).chunks).toBe(k.chunks);
      const qb = gpu.upload(qHost); // [gap + c lq + ...]
      const kvb = k.same ? qb : gpu.upload(kvHost); // [... 2 c lk ...]
      const out = k.opts ? attn.attentionGemm(gpu, qb, kvb, shape, k.opts) : attn.attention(gpu, qb, kvb, shape, 'gemm'); // [c, lq]
      const got = new Float32Array(await gpu.read(out, k.c * k.lq * 4));
      const want = attn.reference(qHost, kvHost, shape); // [c, lq]
      expect(got.every(Number.isFinite)).toBe(true);
      expect(maxRelErr(got, want)).toBeLessThan(5e-5);
      gpu.free(out);
      qb.destroy();
      if (!k.same) kvb.destroy();
    });
  });

  it('takes the unchecked fast path only where the shape and offsets allow it', async () => {
    const gpu = await testGpu();
    const checks = async (c: number, l: number, qBase: number, opts?: AttentionGemmOptions) => {
      const q = gpu.alloc((qBase + 3 * c * l) * 4, 'test.qkv'); // [qBase + 3c l]: q, k, v
      const sh: attn.AttentionShape = { c, lq: l, lk: l, qBase, kBase: qBase + c * l, vBase: qBase + 2 * c * l };
      let out: GPUBuffer | null = null;
      const r = await gemmChecks(() => (out = attn.attentionGemm(gpu, q, q, sh, opts)));
      gpu.free(out!);
      gpu.free(q);
      return r;
    };
    expect(await checks(128, 128, 0)).toEqual([0, 0]); // scores, output
    expect(await checks(128, 128, 0, { splitsQK: 2, splitsPV: 2 })).toEqual([0, 0]);
    expect(await checks(128, 128, 2)).toEqual([1, 1]); // offsets not 16-byte aligned
    expect(await checks(64, 128, 0)).toEqual([0, 1]); // output GEMM: M = c = 64 < one 128-row tile
    await gpu.flush();
  });

  it('plans the widened U-Net shapes: chunks, split-K, buffer sizes, dispatches', () => {
    const p640 = planAttentionGemm({ c: 640, lq: 4096, lk: 4096, qBase: 0, kBase: 0, vBase: 0 });
    expect(p640).toMatchObject({ chunk: 4096, chunks: 1, ldS: 4096, splitsQK: 1, splitsPV: 4, kPerPV: 1024, dispatches: 4 });
    expect(p640.scoreBytes).toBe(64 * 2 ** 20);
    expect(p640.partialBytes).toBe(4 * 640 * 4096 * 4);
    expect(p640.flops).toBe(4 * 640 * 4096 * 4096);
    const p1280 = planAttentionGemm({ c: 1280, lq: 1024, lk: 1024, qBase: 0, kBase: 0, vBase: 0 });
    expect(p1280).toMatchObject({ chunks: 1, splitsQK: 5, kPerQK: 256, splitsPV: 4, kPerPV: 256, dispatches: 4 });
    const patch = planAttentionGemm({ c: 640, lq: 1024, lk: 4096, qBase: 0, kBase: 0, vBase: 0 }); // N = 4 patch
    expect(patch).toMatchObject({ chunk: 1024, splitsQK: 2, kPerQK: 320, splitsPV: 13, kPerPV: 320 });
    const big = planAttentionGemm({ c: 320, lq: 16384, lk: 16384, qBase: 0, kBase: 0, vBase: 0 }); // 64 KiB score rows
    expect(big).toMatchObject({ chunk: 1024, chunks: 16, splitsQK: 1 });
    expect(big.scoreBytes).toBeLessThanOrEqual(64 * 2 ** 20);
    expect(big.partialBytes).toBeLessThanOrEqual(64 * 2 ** 20);
    // a small binding limit shrinks the chunks (pool buckets round up by <= 25%: 0.8 of the limit)
    const small = planAttentionGemm({ c: 640, lq: 4096, lk: 4096, qBase: 0, kBase: 0, vBase: 0 }, { ...WEBGPU_DEFAULT_LIMITS, maxStorageBufferBindingSize: 40 * 2 ** 20 });
    expect(small.scoreBytes).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(small.chunks).toBe(2);
    expect(() => planAttentionGemm({ c: 8, lq: 8, lk: 8, qBase: 0, kBase: 0, vBase: 0 }, WEBGPU_DEFAULT_LIMITS,
      { tile: { wgX: 16, wgY: 16, tm: 16, tn: 8, bk: 16, stages: 2, warpX: 4 } })).toThrow(/workgroup memory|threads/);
  });

  it("'auto' runs 'gemm' past attention.wgsl's limits by default, flash after setAutoAttentionKernel('flash')", async () => {
    const gpu = await testGpu();
    const run = vi.spyOn(gpu, 'run');
    try {
      const files = (c: number, lk: number) => {
        run.mockClear();
        const q = gpu.alloc(c * 8 * 4, 'test.q'); // [c, 8]
        const kv = gpu.alloc(2 * c * lk * 4, 'test.kv'); // [2c, lk]
        gpu.free(attn.attention(gpu, q, kv, { c, lq: 8, lk, qBase: 0, kBase: 0, vBase: c * lk }));
        gpu.free(q);
        gpu.free(kv);
        return run.mock.calls.map((call) => call[0].file);
      };
      expect(files(640, 16)).toEqual(['shaders/diffusion/attention_gemm.wgsl', 'shaders/diffusion/attention_softmax.wgsl', 'shaders/diffusion/attention_gemm.wgsl']);
      expect(files(64, 64)).toEqual(['shaders/diffusion/attention.wgsl']); // small shapes keep attention.wgsl
      expect(attn.setAutoAttentionKernel('flash')).toBe('gemm');
      try {
        expect(files(640, 16)).toEqual(['shaders/diffusion/attention_flash.wgsl']);
      } finally {
        expect(attn.setAutoAttentionKernel('gemm')).toBe('flash');
      }
      await gpu.flush();
    } finally {
      run.mockRestore();
    }
  });
});
