// Split-KV decode attention (attention_split.wgsl + attention_combine.wgsl) against the plain-TS
// references of the old kernels: single-sequence decode at several GQA shapes, head sizes and context
// lengths (1 key, lengths that are no multiple of the chunk, many chunks), a layer offset into a
// two-layer cache, an irregular head -> kv head map (a heterogeneous tensor-parallel shard), a 1B-like
// group of 8 query heads per kv head, other lane layouts / unrolls / workgroup sizes than the defaults
// (several lane groups per subgroup, merged by the shuffle tree), and the batched path with rows in
// cache slots (each row bit-equal to its lone decode). Shapes with several query heads per kv head run
// through the warp kernel (attention_split_gqa_warp.wgsl; the tile and block kernels where a test picks
// them), MHA shapes through the lane-group kernel.
import { afterEach, describe, expect, it } from 'vitest';
import * as at from '../../src/kernels/attention';
import * as bd from '../../src/kernels/batch-decode';
import { testGpu } from '../helpers/gpu';
import { maxAbsDiff, randArray, rng } from './rand';

async function readF32(buf: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await (await testGpu()).read(buf, n * 4));
}

const saved = { ...at.splitTuning };
afterEach(() => { Object.assign(at.splitTuning, saved); });

/** Regular GQA map: head h reads kv head floor(h * nKv / nHeads). */
const regular = (nHeads: number, nKv: number) => Array.from({ length: nHeads }, (_, h) => Math.floor((h * nKv) / nHeads));

describe('split-KV decode attention', async () => {
  const gpu = await testGpu();
  const can = at.splitPlan(gpu, 4, 64, 128) !== null;
  /** Max |split - reference| of one decode row (query at the last of nKeys positions) on random data. */
  const splitDecodeError = async (r: () => number, nHeads: number, nKv: number, hd: number, nKeys: number): Promise<number> => {
    const kvDim = nKv * hd;
    const kvmap = regular(nHeads, nKv);
    const q = randArray(r, nHeads * hd, 3); // [1, nHeads*hd]
    const kc = randArray(r, nKeys * kvDim); // [nKeys, kvDim]
    const vc = randArray(r, nKeys * kvDim); // [nKeys, kvDim]
    const s = { T: 1, pos: nKeys - 1, nHeads, headDim: hd, kvDim };
    const out = gpu.alloc(q.length * 4); // [1, nHeads*hd]
    at.attention(gpu, gpu.upload(q), gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap)), out, s, 0, 'split');
    return maxAbsDiff(await readF32(out, q.length), at.reference(q, kc, vc, kvmap, s));
  };

  // [nHeads, nKv, headDim, kvmap?]
  const shapes: [number, number, number, number[]?][] = [
    [8, 2, 64], [4, 1, 128], [6, 6, 16], [4, 2, 8], [32, 8, 128],
    [5, 2, 32, [0, 1, 1, 1, 1]], // heads 3..7 of a group-4 model: 1 and 4 heads per kv head
    [32, 4, 64], // 1B-like: 8 query heads per kv head in one pass (fewer vec4s per lane)
    [8, 2, 128], [8, 1, 64], // block kernel: 4 heads x 128 and 8 heads x 64 per pass (variants shared above)
  ];
  for (const [nHeads, nKv, hd, map] of shapes) {
    for (const nKeys of nHeads > 8 ? [33, 517] : hd === 128 || nKv === 1 ? [1, 33, 517] : [1, 33, 100, 517]) {
      it.skipIf(!can)(`heads=${nHeads} kv=${nKv} hd=${hd} keys=${nKeys}`, async () => {
        const r = rng(nHeads * 1000 + hd * 10 + nKeys);
        const kvDim = nKv * hd, maxSeq = 520;
        const kvmap = map ?? regular(nHeads, nKv);
        const q = randArray(r, nHeads * hd, 2); // [1, nHeads*hd]
        const kc = randArray(r, 2 * maxSeq * kvDim); // [2 layers, maxSeq, kvDim]
        const vc = randArray(r, 2 * maxSeq * kvDim); // [2 layers, maxSeq, kvDim]
        const layerOff = maxSeq * kvDim; // layer 1
        const s = { T: 1, pos: nKeys - 1, nHeads, headDim: hd, kvDim };
        const out = gpu.alloc(q.length * 4); // [1, nHeads*hd]
        at.attention(gpu, gpu.upload(q), gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap)), out, s, layerOff, 'split');
        const want = at.reference(q, kc.subarray(layerOff), vc.subarray(layerOff), kvmap, s);
        expect(maxAbsDiff(await readF32(out, q.length), want)).toBeLessThan(2e-5);
      }, 300_000); // the first case of a shape compiles its kernel variant: up to minutes on lavapipe
    }
  }

  it('regularKvMap: head h -> kv head floor(h / group) only', () => {
    expect(at.regularKvMap([0, 0, 1, 1], 2)).toBe(true);
    expect(at.regularKvMap([0, 1, 2, 3], 4)).toBe(true);
    expect(at.regularKvMap([0, 1, 0, 1], 2)).toBe(false); // interleaved
    expect(at.regularKvMap([0, 1, 1, 1, 1], 2)).toBe(false); // a heterogeneous shard's straddling group
    expect(at.regularKvMap([0, 0, 0], 2)).toBe(false); // heads not a multiple of kv heads
  });

  it.skipIf(!can)('the warp kernel takes GQA shapes only (MHA keeps the lane-group kernel; tile without one subgroup size)', () => {
    const gqa = at.splitPlan(gpu, 32, 128, 8 * 128)!, mha = at.splitPlan(gpu, 32, 128, 32 * 128)!;
    const fixed = gpu.report.subgroupMinSize === gpu.report.subgroupMaxSize;
    expect([gqa.kernel, mha.kernel]).toEqual([fixed ? 'warp' : 'tile', 'lane']);
    at.splitTuning.gqaKernel = 'tile';
    const tile = at.splitPlan(gpu, 32, 128, 8 * 128)!;
    expect(tile.kernel).toBe('tile');
    // all 4 query heads of a kv head in one pass where 4 x VPL query vec4s fit the registers
    expect(tile.consts.G).toBe(Math.min(4, Math.floor(16 / tile.consts.VPL)));
    at.splitTuning.gqaKernel = 'block';
    expect(at.splitPlan(gpu, 32, 128, 8 * 128)!.kernel).toBe('block');
  });

  it.skipIf(!can)('many small chunks (minChunk 4, 12 workgroups), hd=128, 1000 keys', async () => {
    Object.assign(at.splitTuning, { minChunk: 4, targetWorkgroups: 12 });
    const [nHeads, nKv, hd, nKeys] = [4, 1, 128, 1000];
    const r = rng(99);
    const plan = at.splitPlan(gpu, nHeads, hd, nKv * hd)!;
    expect(at.splitChunks(plan, nKeys)).toBe(12); // 1000 keys in chunks of 84: the last one short
    expect(await splitDecodeError(r, nHeads, nKv, hd, nKeys)).toBeLessThan(2e-5);
  });

  // Other lane layouts and loop shapes than the defaults (2 vec4s per lane: 16 lanes per key where the
  // subgroup allows, 1 key per step, 64 threads), ragged chunks. Few cases: lavapipe compiles each
  // variant of this kernel slowly.
  for (const [vpl, unroll, wg] of [[2, 1, 64]]) {
    it.skipIf(!can)(`tuning vpl=${vpl} unroll=${unroll} wg=${wg}: GQA hd=128 and MHA hd=64, 301 keys`, async () => {
      Object.assign(at.splitTuning, { vpl, unroll, wg, minChunk: 16, targetWorkgroups: 24 });
      for (const [nHeads, nKv, hd] of [[8, 2, 128], [4, 4, 64]]) {
        expect(await splitDecodeError(rng(vpl * 100 + hd), nHeads, nKv, hd, 301)).toBeLessThan(2e-5);
      }
    }, 240_000);
  }

  // Tile kernel (GQA) off its defaults: no prefetch, 128 threads, 2 query heads per pass (several passes
  // over the chunk), ragged chunks and a single-chunk row.
  it.skipIf(!can)('tile kernel gqaPf=0 wg=128 gqaHeads=2: GQA hd=128 and hd=64, 301 and 20 keys', async () => {
    Object.assign(at.splitTuning, { gqaKernel: 'tile', gqaPf: 0, gqaWg: 128, gqaHeads: 2, gqaMinChunk: 16, gqaTarget: 24 });
    for (const [nHeads, nKv, hd] of [[8, 2, 128], [8, 1, 64]]) {
      const plan = at.splitPlan(gpu, nHeads, hd, nKv * hd)!;
      expect([plan.kernel, plan.consts.PF, plan.consts.G, plan.nct]).toEqual(['tile', 0, 2, Math.ceil(24 / nKv)]);
      for (const nKeys of [301, 20]) expect(await splitDecodeError(rng(hd + nKeys), nHeads, nKv, hd, nKeys)).toBeLessThan(2e-5);
    }
  }, 300_000);

  // Warp kernel (GQA, one subgroup size): per-subgroup online softmax, reduce-scatter of the dots. Shapes
  // with 2..8 heads per kv head, a padded group (3 heads in a pass of 4: the irregular map), several
  // passes (gqaHeads 2), E = 2 totals per lane where S*E fits, ragged chunks and single-chunk rows.
  const warpCases: [number, number, number, number[] | undefined, Partial<typeof at.splitTuning>][] = [
    [8, 2, 128, undefined, {}], [32, 4, 64, undefined, {}], [5, 2, 32, [0, 1, 1, 1, 0], {}], [4, 2, 8, undefined, {}],
    [8, 2, 64, undefined, { gqaE: 2 }], [8, 1, 64, undefined, { gqaHeads: 2, gqaWarpWg: 128 }],
    [8, 2, 128, undefined, { gqaTarget: 2 }], // one chunk per kv head: long walks, the running max moves often
    [8, 2, 128, undefined, { gqaTarget: 2, gqaWs: 4 }], [8, 2, 128, undefined, { gqaHeads: 2 }], [32, 4, 64, undefined, { gqaWarpWg: 8, gqaE: 2 }],
  ];
  for (const [nHeads, nKv, hd, map, tuning] of warpCases) {
    it.skipIf(!can)(`warp kernel heads=${nHeads} kv=${nKv} hd=${hd} ${JSON.stringify(tuning)}: 301, 40 and 20 keys`, async () => {
      Object.assign(at.splitTuning, { gqaKernel: 'warp', gqaMinChunk: 16, gqaTarget: 24 }, tuning);
      const plan = at.splitPlan(gpu, nHeads, hd, nKv * hd)!;
      if (plan.kernel !== 'warp') return expect(gpu.report.subgroupMinSize).not.toBe(gpu.report.subgroupMaxSize);
      if (tuning.gqaE) expect(plan.consts.E).toBe(plan.consts.S * 2 <= 32 ? 2 : 1);
      const kvmap = map ?? regular(nHeads, nKv);
      expect(at.regularKvMap(kvmap, nKv)).toBe(!map);
      for (const nKeys of [301, 40, 20]) {
        const r = rng(hd * 7 + nKeys);
        const kvDim = nKv * hd;
        const q = randArray(r, nHeads * hd, 3); // [1, nHeads*hd]
        const kc = randArray(r, nKeys * kvDim), vc = randArray(r, nKeys * kvDim); // [nKeys, kvDim] each
        const bufs = [gpu.upload(q), gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap))] as const;
        // the kvmap scan, and for a regular map the heads derived without it: the same bits
        const got: Float32Array[] = [];
        for (const kvRegular of map ? [false] : [false, true]) {
          const s = { T: 1, pos: nKeys - 1, nHeads, headDim: hd, kvDim, kvRegular };
          expect(at.splitPlan(gpu, nHeads, hd, kvDim, kvRegular)!.consts.REG).toBe(kvRegular ? 1 : 0);
          const out = gpu.alloc(q.length * 4); // [1, nHeads*hd]
          at.attention(gpu, ...bufs, out, s, 0, 'split');
          got.push(await readF32(out, q.length));
          expect(maxAbsDiff(got[got.length - 1], at.reference(q, kc, vc, kvmap, s))).toBeLessThan(2e-5);
        }
        if (got.length === 2) expect(got[1]).toEqual(got[0]);
      }
    }, 300_000);
  }

  it.skipIf(!can)('attention() picks the split kernel for decode by default (not on a CPU adapter), the old one for prefill', async () => {
    const [nHeads, nKv, hd, T, pos] = [4, 2, 16, 3, 70];
    const r = rng(5);
    const kvDim = nKv * hd;
    const kvmap = regular(nHeads, nKv);
    const kc = randArray(r, 80 * kvDim), vc = randArray(r, 80 * kvDim); // [80, kvDim]
    const bufs = [gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap))] as const;
    for (const t of [1, T]) {
      const q = randArray(r, t * nHeads * hd); // [t, nHeads*hd]
      const s = { T: t, pos, nHeads, headDim: hd, kvDim };
      const out = gpu.alloc(q.length * 4); // [t, nHeads*hd]
      const before = gpu.stats.dispatches;
      at.attention(gpu, gpu.upload(q), bufs[0], bufs[1], bufs[2], out, s, 0);
      // split + combine for decode; one dispatch of the old kernel for prefill, and always on a
      // CPU-backed adapter (attention_rows.wgsl)
      expect(gpu.stats.dispatches - before).toBe(t === 1 && !gpu.report.isFallback ? 2 : 1);
      expect(maxAbsDiff(await readF32(out, q.length), at.reference(q, kc, vc, kvmap, s))).toBeLessThan(2e-5);
    }
  });

  for (const [nHeads, nKv, hd] of [[4, 2, 8], [8, 2, 64], [4, 1, 128], [8, 1, 64]]) {
    it.skipIf(!can)(`batched rows heads=${nHeads} kv=${nKv} hd=${hd}: reference, and each row equals a lone decode`, async () => {
      Object.assign(at.splitTuning, { minChunk: 8, targetWorkgroups: 16 });
      const r = rng(nHeads + hd);
      const kvDim = nKv * hd, maxSeq = 300, slots = 4;
      const rows: bd.BatchRow[] = [{ base: 2 * maxSeq, pos: 270 }, { base: 0, pos: 0 }, { base: 3 * maxSeq, pos: 9 }, { base: maxSeq, pos: 64 }];
      const kvmap = regular(nHeads, nKv);
      const q = randArray(r, rows.length * nHeads * hd, 2); // [B, nHeads*hd]
      const kc = randArray(r, slots * maxSeq * kvDim); // [slots*maxSeq, kvDim]
      const vc = randArray(r, slots * maxSeq * kvDim); // [slots*maxSeq, kvDim]
      const [kb, vb, mb] = [gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap))];
      const out = gpu.alloc(q.length * 4); // [B, nHeads*hd]
      const shape = { nHeads, headDim: hd, kvDim, kvRegular: true };
      bd.attentionBatch(gpu, gpu.upload(q), kb, vb, mb, gpu.upload(bd.packRows(rows)), out, rows.length, shape, 'split');
      const got = await readF32(out, q.length);
      expect(maxAbsDiff(got, bd.attentionReference(q, kc, vc, kvmap, rows, shape))).toBeLessThan(2e-5);
      for (const [b, row] of rows.entries()) {
        const n = nHeads * hd;
        const one = gpu.alloc(n * 4); // [1, nHeads*hd]
        at.attention(gpu, gpu.upload(q.subarray(b * n, (b + 1) * n)), kb, vb, mb, one, { T: 1, pos: row.pos, nHeads, headDim: hd, kvDim, kvRegular: true },
          row.base * kvDim, 'split');
        expect(await readF32(one, n)).toEqual(got.subarray(b * n, (b + 1) * n));
      }
    });
  }
});
