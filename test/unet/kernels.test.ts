// The WGSL kernels added for fm-unet vs their plain-TS references, on small odd shapes.
import { describe, expect, it } from 'vitest';
import * as addK from '../../src/kernels/diffusion/add';
import * as attn from '../../src/kernels/diffusion/attention';
import * as gnm from '../../src/kernels/diffusion/group-norm-merge';
import * as gns from '../../src/kernels/diffusion/group-norm-stats';
import * as pad from '../../src/kernels/diffusion/pad-rows';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { testGpu } from '../helpers/gpu';
import { maxRelErr } from './helpers';

let stream = 0;
const rand = (n: number, scale = 1, shift = 0) => gaussianNoise(777, stream++, n).map((v) => v * scale + shift);

async function readF32(buf: GPUBuffer, n: number): Promise<Float32Array> {
  const gpu = await testGpu();
  return new Float32Array(await gpu.read(buf, n * 4));
}

describe('fm-unet kernels', () => {
  it('group norm chunk moments and their merge, each against its own reference', async () => {
    const gpu = await testGpu();
    const [groupElems, groups, chunkElems] = [3 * 1000 + 17, 3, 512]; // 6 full chunks and a short one per group
    const chunks = Math.ceil(groupElems / chunkElems);
    const x = rand(groups * groupElems, 3, -5); // [groups * groupElems]
    const refPart = gns.chunkMomentsReference(x, groupElems, groups, chunkElems); // [groups, chunks, 4]
    const part = gns.groupNormStatsPass(gpu, gpu.upload(x), groupElems, groups, chunkElems, 1e-5, true); // [groups, chunks, 4]
    expect(maxRelErr(await readF32(part, groups * chunks * 4), refPart)).toBeLessThan(2e-5);
    for (const finalize of [true, false]) {
      const out = gnm.groupNormMerge(gpu, gpu.upload(refPart), groups, chunks, 1e-5, finalize); // [groups, 2]
      const want = gnm.reference(refPart, groups, chunks, 1e-5, finalize);
      expect(maxRelErr(await readF32(out, 2 * groups), want)).toBeLessThan(2e-5);
      // merged chunk moments are the whole group's two-pass statistics
      expect(maxRelErr(want, gns.reference(x, { channels: groups, plane: groupElems, groups, eps: 1e-5 }, finalize))).toBeLessThan(1e-6);
      gpu.free(out);
    }
    gpu.free(part);
  });

  for (const s of [
    { channels: 16, plane: 7 * 9, groups: 8, eps: 1e-5 },
    { channels: 6, plane: 33 * 31, groups: 3, eps: 1e-5 }, // > 256 elements per thread row: strided loop
    { channels: 4, plane: 5, groups: 1, eps: 1e-3 },
    { channels: 8, plane: 67 * 61, groups: 2, eps: 1e-5 }, // 16348 elements per group: one workgroup (just below gnSplit.minElems)
    { channels: 8, plane: 129 * 67, groups: 2, eps: 1e-5 }, // 34572 per group: the split path, 9 chunks, the last one short
  ]) {
    for (const finalize of [true, false]) {
      it(`group norm stats C${s.channels} plane ${s.plane} groups ${s.groups} finalize=${finalize}`, async () => {
        const gpu = await testGpu();
        const x = rand(s.channels * s.plane, 2, 3); // [C, plane], mean far from 0: the two-pass matters
        const out = gns.groupNormStats(gpu, gpu.upload(x), s, finalize); // [groups, 2]
        const got = await readF32(out, 2 * s.groups);
        expect(maxRelErr(got, gns.reference(x, s, finalize))).toBeLessThan(2e-5);
        gpu.free(out);
      });
    }
  }

  for (const s of [
    { c: 8, lq: 70, lk: 70, split: false }, // L not a multiple of 64
    { c: 130, lq: 3, lk: 64, split: true }, // c > 64 threads: strided channel loops
    { c: 16, lq: 4, lk: 1024, split: true }, // the key limit
  ]) {
    it(`attention c${s.c} lq${s.lq} lk${s.lk} (${s.split ? 'separate q and kv buffers' : 'one qkv buffer'})`, async () => {
      const gpu = await testGpu();
      const q = rand(s.c * s.lq); // [c, lq]
      const kv = rand(2 * s.c * s.lk); // [2c, lk]
      let shape: attn.AttentionShape;
      let qHost: Float32Array, kvHost: Float32Array;
      if (s.split) {
        // q sits after 3 junk floats; kv = [k; v] after 5 junk floats: offsets are honoured
        qHost = new Float32Array(3 + q.length);
        qHost.set(q, 3);
        kvHost = new Float32Array(5 + kv.length);
        kvHost.set(kv, 5);
        shape = { c: s.c, lq: s.lq, lk: s.lk, qBase: 3, kBase: 5, vBase: 5 + s.c * s.lk };
      } else {
        // self-attention layout [3c, L]: q, k, v at channel offsets 0, c, 2c of one buffer
        const L = s.lq;
        qHost = new Float32Array(3 * s.c * L);
        qHost.set(rand(3 * s.c * L));
        kvHost = qHost;
        shape = { c: s.c, lq: L, lk: L, qBase: 0, kBase: s.c * L, vBase: 2 * s.c * L };
      }
      const qb = gpu.upload(qHost);
      const kvb = s.split ? gpu.upload(kvHost) : qb;
      const out = attn.attention(gpu, qb, kvb, shape); // [c, lq]
      const got = await readF32(out, s.c * shape.lq);
      expect(maxRelErr(got, attn.reference(qHost, kvHost, shape))).toBeLessThan(2e-5);
      gpu.free(out);
    });
  }

  it('add, n not a multiple of 64', async () => {
    const gpu = await testGpu();
    const a = rand(1000), b = rand(1000);
    const y = addK.add(gpu, gpu.upload(a), gpu.upload(b), 1000);
    expect(await readF32(y, 1000)).toEqual(addK.reference(a, b));
    gpu.free(y);
  });

  for (const [withSrc, withHalo] of [[true, false], [true, true], [false, true], [false, false]] as const) {
    it(`pad rows src=${withSrc} halo=${withHalo}`, async () => {
      const gpu = await testGpu();
      const s = { channels: 3, rows: 4, width: 5, top: 2, bottom: 1 };
      const R = s.top + s.rows + s.bottom;
      const src = rand(s.channels * s.rows * s.width); // [C, rows, W]
      const halo = rand(s.channels * (s.top + s.bottom) * s.width); // [C, top+bottom, W]
      const before = rand(s.channels * R * s.width); // [C, R, W]: what dst held before
      const dst = gpu.alloc(before.length * 4);
      gpu.write(dst, before);
      pad.padRowsInto(gpu, withSrc ? gpu.upload(src) : null, withHalo ? gpu.upload(halo) : null, dst, s);
      const want = pad.reference(withSrc ? src : null, withHalo ? halo : null, s, before);
      expect(await readF32(dst, before.length)).toEqual(want);
      gpu.free(dst);
    });
  }
});
