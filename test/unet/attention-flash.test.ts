// attention_flash.wgsl (query-tiled online-softmax attention) vs the float64 CPU reference() on
// lavapipe: shapes that are not multiples of its tiles (BQ queries, BKV keys, CC channel chunks),
// DistriFusion's patch queries against all keys (lq != lk, q and K/V in different buffers or the same
// one, with offsets), c past one workgroup's 640 output channels (channel slices recomputing the
// scores), more query tiles than one dispatch dimension holds, and 'auto' picking it for big shapes.
import { describe, expect, it, vi } from 'vitest';
import * as attn from '../../src/kernels/diffusion/attention';
import { testGpu } from '../helpers/gpu';
import { attentionLayout, maxRelErr } from './helpers';

interface Case {
  name: string;
  c: number;
  lq: number;
  lk: number;
  same: boolean; // q and K/V in one buffer (qkv of the self-attention) or q from its own buffer
  gap: number; // junk floats before q / between the blocks: offsets honoured
  kvScale: number; // larger: more peaked softmax (stresses the running-max rescale)
}

const CASES: Case[] = [
  { name: 'patch queries vs all keys, separate buffers, c 37 (< 2 chunks), 45 x 70', c: 37, lq: 45, lk: 70, same: false, gap: 3, kvScale: 2 },
  { name: 'one qkv buffer, lq = lk = 70, c 100', c: 100, lq: 70, lk: 70, same: true, gap: 0, kvScale: 1 },
  { name: 'one buffer, patch rows 45 vs 70 keys, offsets, peaked', c: 100, lq: 45, lk: 70, same: true, gap: 5, kvScale: 4 },
  { name: 'widened regime c 600, lq 33, lk 90', c: 600, lq: 33, lk: 90, same: false, gap: 1, kvScale: 2 },
  { name: 'c 1300 > 640: three channel slices, lq 20, lk 40', c: 1300, lq: 20, lk: 40, same: false, gap: 2, kvScale: 2 },
  { name: 'single query, single key', c: 5, lq: 1, lk: 1, same: false, gap: 0, kvScale: 1 },
];

describe('attention_flash.wgsl vs reference()', () => {
  CASES.forEach((k, n) => {
    it(k.name, async () => {
      const gpu = await testGpu();
      const { qHost, kvHost, shape } = attentionLayout(k, 40 + n);
      const qb = gpu.upload(qHost); // [gap + c lq + ...]
      const kvb = k.same ? qb : gpu.upload(kvHost); // [... 2 c lk ...]
      const out = attn.attention(gpu, qb, kvb, shape, 'flash'); // [c, lq]
      const got = new Float32Array(await gpu.read(out, k.c * k.lq * 4));
      const want = attn.reference(qHost, kvHost, shape); // [c, lq]
      expect(got.every(Number.isFinite)).toBe(true);
      expect(maxRelErr(got, want)).toBeLessThan(5e-5);
      gpu.free(out);
    }, 120_000);
  });

  it('more query tiles than one dispatch dimension holds (y-folded tiles)', async () => {
    const gpu = await testGpu();
    const lq = 65535 * attn.FLASH_TILE.BQ + 40; // 65538 tiles: the last 3 in dispatch row y = 1
    const k: Case = { name: '', c: 2, lq, lk: 3, same: false, gap: 1, kvScale: 2 };
    const { qHost, kvHost, shape } = attentionLayout(k, 7);
    const out = attn.attention(gpu, gpu.upload(qHost), gpu.upload(kvHost), shape, 'flash'); // [c, lq]
    const got = new Float32Array(await gpu.read(out, k.c * lq * 4));
    expect(maxRelErr(got, attn.reference(qHost, kvHost, shape))).toBeLessThan(5e-5);
    gpu.free(out);
  }, 300_000);

  it("'auto' dispatches attention_flash past attention.wgsl's limits after the bench switch (online likewise), attention.wgsl within them", async () => {
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
      expect(attn.setAutoAttentionKernel('flash')).toBe('gemm'); // the A/B switch benches use ('gemm' is the default)
      try {
        expect(files(640, 16)).toEqual(['shaders/diffusion/attention_flash.wgsl']);
        expect(files(8, 1100)).toEqual(['shaders/diffusion/attention_flash.wgsl']);
        expect(files(64, 64)).toEqual(['shaders/diffusion/attention.wgsl']);
        expect(attn.setAutoAttentionKernel('online')).toBe('flash');
        expect(files(640, 16)).toEqual(['shaders/diffusion/attention_online.wgsl']);
        expect(files(64, 64)).toEqual(['shaders/diffusion/attention.wgsl']);
      } finally {
        attn.setAutoAttentionKernel('gemm');
      }
      await gpu.flush();
    } finally {
      run.mockRestore();
    }
  });
});
