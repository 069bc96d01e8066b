// Fused decode kernels (issue 7 §3: fewer dispatches per token) against their CPU references, and the
// fused LlamaGpu forward against the unfused one and the CPU model.
import { describe, expect, it } from 'vitest';
import { dequantize, quantize, uploadWeight } from '../../src/kernels/common';
import * as at from '../../src/kernels/attention';
import * as ew from '../../src/kernels/elementwise';
import { attentionBatch, packRows } from '../../src/kernels/batch-decode';
import { concatRows, matmul, reference as matmulRef } from '../../src/kernels/matmul';
import * as rms from '../../src/kernels/rmsnorm';
import { dequantizeX, quantizeQ8, quantizedWords, unpackQuantized } from '../../src/kernels/quantize-q8';
import * as ropeK from '../../src/kernels/rope';
import { readRange } from '../../src/model/gguf';
import { LlamaGpu } from '../../src/model/llama';
import { LlamaCpu } from '../../src/model/reference';
import { makeShard } from '../../src/parallel/tp';
import { testGpu } from '../helpers/gpu';
import { synthetic } from '../model/models';
import { maxAbsDiff, randArray, rng } from './rand';

async function readF32(buf: GPUBuffer, n: number): Promise<Float32Array> {
  const gpu = await testGpu();
  return new Float32Array(await gpu.read(buf, n * 4));
}

describe('fused decode kernels', () => {
  for (const [nH, nKv, hd] of [[4, 2, 8], [3, 1, 6]]) {
    it(`ropeQkv splits q|k|v, rotates q and k, stores k and v in each row's cache row (heads ${nH}/${nKv}, hd ${hd})`, async () => {
      const gpu = await testGpu();
      const r = rng(nH * 10 + hd);
      const qDim = nH * hd, kvDim = nKv * hd, cacheRows = 40;
      const rows = [{ base: 0, pos: 5 }, { base: 20, pos: 0 }, { base: 20, pos: 13 }]; // [T] (slot base, position)
      const qkv = randArray(r, rows.length * (qDim + 2 * kvDim)); // [T, qDim + 2*kvDim]
      const kc = randArray(r, cacheRows * kvDim), vc = randArray(r, cacheRows * kvDim); // [cacheRows, kvDim]
      const kcb = gpu.upload(kc), vcb = gpu.upload(vc), qb = gpu.alloc(rows.length * qDim * 4); // q [T, qDim]
      const tab = gpu.upload(ropeK.ropeTable(cacheRows, hd, 10000)); // [cacheRows, hd/2, 2]
      ropeK.ropeQkv(gpu, gpu.upload(qkv), tab, gpu.upload(packRows(rows)), qb, kcb, vcb, rows.length, qDim, kvDim, hd);
      const wantK = Float32Array.from(kc), wantV = Float32Array.from(vc); // untouched rows keep their values
      const wantQ = ropeK.ropeQkvReference(qkv, rows, qDim, kvDim, hd, 10000, wantK, wantV);
      expect(maxAbsDiff(await readF32(qb, wantQ.length), wantQ)).toBeLessThan(1e-5);
      expect(maxAbsDiff(await readF32(kcb, wantK.length), wantK)).toBeLessThan(1e-5);
      expect(maxAbsDiff(await readF32(vcb, wantV.length), wantV)).toBe(0);
    });
  }

  // 1024 and 2048 wide: add_rmsnorm4.wgsl (vec4, the width compiled in) on the shared path.
  for (const impl of ['shared', 'rows'] as const) for (const [rows, dim] of [[1, 64], [3, 200], [70, 7], [1, 1024], [3, 2048]]) {
    it(`addRmsnorm (${impl}) rows=${rows} dim=${dim}: x += d, y = rmsnorm(x) * w`, async () => {
      const gpu = await testGpu();
      const r = rng(rows * 7 + dim);
      const x = randArray(r, rows * dim, 3), d = randArray(r, rows * dim, 2), w = randArray(r, dim); // [rows, dim] x2, [dim]
      const xb = gpu.upload(x), y = gpu.alloc(rows * dim * 4); // [rows, dim]
      rms.addRmsnorm(gpu, xb, gpu.upload(d), gpu.upload(w), y, rows, dim, 1e-5, impl);
      const want = rms.addRmsnormReference(x, d, w, rows, dim, 1e-5);
      expect(maxAbsDiff(await readF32(xb, rows * dim), want.x)).toBeLessThan(1e-6);
      expect(maxAbsDiff(await readF32(y, rows * dim), want.y)).toBeLessThan(1e-5);
    });
  }

  it('swiglu over fused gate|up rows, hid not a multiple of 256', async () => {
    const gpu = await testGpu();
    const rows = 3, hid = 300;
    const gu = randArray(rng(5), rows * 2 * hid, 4); // [rows, 2*hid]
    const h = gpu.alloc(rows * hid * 4); // [rows, hid]
    ew.swiglu(gpu, gpu.upload(gu), h, rows, hid);
    expect(maxAbsDiff(await readF32(h, rows * hid), ew.swigluReference(gu, rows, hid))).toBeLessThan(1e-5);
  });

  // The int8 outputs for q8_0 decode: the same bits as quantize_q8 run on the kernel's own f32 output, and (an
  // independent check) each value within half a step of its block's scale of that output.
  async function checkInt8(got: GPUBuffer, y: GPUBuffer, n: number): Promise<void> {
    const gpu = await testGpu();
    const viaKernel = gpu.alloc(quantizedWords(n) * 4);
    quantizeQ8(gpu, y, viaKernel, n);
    const a = await gpu.read(got, quantizedWords(n) * 4), b = await gpu.read(viaKernel, quantizedWords(n) * 4);
    expect(new Uint32Array(a)).toEqual(new Uint32Array(b));
    const { q, d } = unpackQuantized(a, n);
    expect(d.some((v) => v > 0)).toBe(true);
    const yv = await readF32(y, n); // [n]
    const back = dequantizeX(q, d); // [n]
    for (let i = 0; i < n; i++) expect(Math.abs(back[i] - yv[i]), `element ${i}`).toBeLessThanOrEqual(d[i >> 5] * 0.5 * (1 + 1e-5));
  }

  for (const [rows, dim] of [[1, 1024], [2, 2048]]) {
    it(`addRmsnorm with int8 output (rows=${rows}, dim=${dim}): y and its q8 quantization in one dispatch`, async () => {
      const gpu = await testGpu();
      const r = rng(rows + dim);
      const x = randArray(r, rows * dim, 3), d = randArray(r, rows * dim, 2), w = randArray(r, dim); // [rows, dim] x2, [dim]
      const y = gpu.alloc(rows * dim * 4), yq = gpu.alloc(quantizedWords(rows * dim) * 4); // [rows, dim], its int8 form
      rms.addRmsnorm(gpu, gpu.upload(x), gpu.upload(d), gpu.upload(w), y, rows, dim, 1e-5, 'shared', yq);
      expect(maxAbsDiff(await readF32(y, rows * dim), rms.addRmsnormReference(x, d, w, rows, dim, 1e-5).y)).toBeLessThan(1e-5);
      await checkInt8(yq, y, rows * dim);
      expect(() => rms.addRmsnorm(gpu, y, y, y, y, 1, 96, 1e-5, 'shared', yq)).toThrow(/1024/); // the scalar kernel has no int8 form
    });
  }

  it('swiglu with int8 output: h and its q8 quantization in one dispatch', async () => {
    const gpu = await testGpu();
    const rows = 3, hid = 96 * 8 + 32; // 3 rows x 25 blocks: workgroups of 8 blocks straddle rows, the last is partial
    const gu = randArray(rng(6), rows * 2 * hid, 4); // [rows, 2*hid]
    const h = gpu.alloc(rows * hid * 4), hq = gpu.alloc(quantizedWords(rows * hid) * 4); // [rows, hid], its int8 form
    ew.swiglu(gpu, gpu.upload(gu), h, rows, hid, hq);
    expect(maxAbsDiff(await readF32(h, rows * hid), ew.swigluReference(gu, rows, hid))).toBeLessThan(1e-5);
    await checkInt8(hq, h, rows * hid);
  });

  it('split-KV attention with int8 output: out and its q8 quantization from the combine kernel, single- and multi-chunk rows', async (ctx) => {
    const gpu = await testGpu();
    if (!at.splitPlan(gpu, 4, 64, 128)) ctx.skip(); // no subgroups: no split kernel
    expect([32, 64, 128, 256].map(at.splitWritesInt8)).toEqual([true, true, true, true]);
    expect([8, 16, 48, 96].map(at.splitWritesInt8)).toEqual([false, false, false, false]); // no 32-value block per combine workgroup
    const [nHeads, nKv, hd, maxSeq] = [4, 2, 64, 120];
    const kvDim = nKv * hd, qDim = nHeads * hd;
    const r = rng(77);
    const kvmap = [0, 0, 1, 1];
    const kc = randArray(r, 2 * maxSeq * kvDim), vc = randArray(r, 2 * maxSeq * kvDim); // [2 slots, maxSeq, kvDim] each
    const bufs = [gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap))] as const;
    // One row: 1 key (the split kernel finishes it; main_q8 only quantizes) and 100 keys (chunks merged).
    for (const nKeys of [1, 100]) {
      const q = randArray(r, qDim, 2); // [1, qDim]
      const s = { T: 1, pos: nKeys - 1, nHeads, headDim: hd, kvDim };
      const out = gpu.alloc(qDim * 4), outq = gpu.alloc(quantizedWords(qDim) * 4); // [1, qDim], its int8 form
      expect(at.attention(gpu, gpu.upload(q), bufs[0], bufs[1], bufs[2], out, s, 0, 'split', outq)).toBe(true);
      expect(maxAbsDiff(await readF32(out, qDim), at.reference(q, kc, vc, kvmap, s))).toBeLessThan(2e-5);
      await checkInt8(outq, out, qDim);
    }
    // MHA (the lane-group split kernel; the GQA rows above take the tile kernel): 2 heads of 64 read as 2 kv heads.
    {
      const s = { T: 1, pos: 99, nHeads: 2, headDim: hd, kvDim };
      expect(at.splitPlan(gpu, 2, hd, kvDim)!.kernel).toBe('lane');
      const q = randArray(r, 2 * hd, 2); // [1, 2*hd]
      const out = gpu.alloc(2 * hd * 4), outq = gpu.alloc(quantizedWords(2 * hd) * 4); // [1, 2*hd], its int8 form
      expect(at.attention(gpu, gpu.upload(q), bufs[0], bufs[1], gpu.upload(new Uint32Array([0, 1])), out, s, 0, 'split', outq)).toBe(true);
      expect(maxAbsDiff(await readF32(out, 2 * hd), at.reference(q, kc, vc, [0, 1], s))).toBeLessThan(2e-5);
      await checkInt8(outq, out, 2 * hd);
    }
    // A batch: row 0 in slot 1 with 90 keys (several chunks), row 1 in slot 0 with 3 keys (one chunk).
    const rows = [{ base: maxSeq, pos: 89 }, { base: 0, pos: 2 }];
    const q = randArray(r, 2 * qDim, 2); // [2, qDim]
    const out = gpu.alloc(2 * qDim * 4), outq = gpu.alloc(quantizedWords(2 * qDim) * 4); // [2, qDim], its int8 form
    expect(attentionBatch(gpu, gpu.upload(q), bufs[0], bufs[1], bufs[2], gpu.upload(packRows(rows)), out, 2, { nHeads, headDim: hd, kvDim }, 'split', outq)).toBe(true);
    const got = await readF32(out, 2 * qDim);
    rows.forEach((row, b) => {
      const s = { T: 1, pos: row.pos, nHeads, headDim: hd, kvDim };
      const want = at.reference(q.subarray(b * qDim, (b + 1) * qDim), kc.subarray(row.base * kvDim), vc.subarray(row.base * kvDim), kvmap, s);
      expect(maxAbsDiff(got.subarray(b * qDim, (b + 1) * qDim), want)).toBeLessThan(2e-5);
    });
    await checkInt8(outq, out, 2 * qDim);
    // Where no combine workgroup covers a block (headDim 48), no int8 form: attention() says so, runSplit throws.
    const s48 = { T: 1, pos: 9, nHeads: 2, headDim: 48, kvDim: 48 };
    const o48 = gpu.alloc(96 * 4);
    expect(at.attention(gpu, gpu.upload(randArray(r, 96)), bufs[0], bufs[1], gpu.upload(new Uint32Array([0, 0])), o48, s48, 0, 'split', outq)).toBe(false);
    expect(() => at.runSplit(gpu, at.splitPlan(gpu, 2, 48, 48)!, o48, o48, o48, o48, null, o48, 1, 2, 48, 0, 9, outq)).toThrow(/headDim 48/);
  }, 300_000);

  // Stacked weights give every part's product side by side: same types keep their bytes, mixed widen to f32.
  for (const types of [['f16', 'f16', 'f16'], ['q8_0', 'q8_0'], ['f16', 'q8_0', 'f32']] as const) {
    it(`concatRows(${types.join(', ')}) matmul equals each part's product`, async () => {
      const gpu = await testGpu();
      const r = rng(types.length * 3 + types[0].length);
      const K = 64, M = 2, Ns = [32, 8, 16].slice(0, types.length);
      const parts = types.map((t, i) => quantize(randArray(r, Ns[i] * K), Ns[i], K, t)); // [N_i, K]
      const fused = concatRows(parts);
      expect(fused.type).toBe(new Set(types).size === 1 ? types[0] : 'f32');
      const x = randArray(r, M * K); // [M, K]
      const want = new Float32Array(M * fused.rows); // [M, sum N_i]: row m = [y_0 | y_1 | ...]
      let off = 0;
      parts.forEach((p, i) => {
        const y = matmulRef(x, dequantize(p), M, Ns[i], K); // [M, N_i]
        for (let m = 0; m < M; m++) want.set(y.subarray(m * Ns[i], (m + 1) * Ns[i]), m * fused.rows + off);
        off += Ns[i];
      });
      const w = uploadWeight(gpu, fused);
      for (const path of ['rows', 'tiled'] as const) {
        const y = gpu.alloc(M * fused.rows * 4); // [M, sum N_i]
        matmul(gpu, gpu.upload(x), w, y, M, path);
        expect(maxAbsDiff(await readF32(y, M * fused.rows), want)).toBeLessThan(1e-4);
      }
    });
  }

  it('fused LlamaGpu equals the unfused one and the CPU model, with 9 dispatches a layer instead of 15', async () => {
    const gpu = await testGpu();
    const m = await synthetic({ dim: 64, nHeads: 4, nKvHeads: 2, hidden: 96, vocab: 50, layers: 2, seed: 11 });
    const shard = await makeShard(m.index, (s, e) => readRange(m.buf, s, e), 0, 1);
    const cpu = new LlamaCpu(shard, 24);
    const fused = await LlamaGpu.load(gpu, shard, { maxSeqLen: 24, maxSlots: 2 });
    const plain = await LlamaGpu.load(gpu, shard, { maxSeqLen: 24, maxSlots: 2, fuse: false });
    const prompt = Int32Array.of(1, 7, 9, 30, 2); // [5]
    const wantPrompt = await cpu.forward(prompt, 0); // [vocab]
    for (const model of [fused, plain]) expect(maxAbsDiff(await model.forward(prompt, 0), wantPrompt)).toBeLessThan(1e-4);
    const want = await cpu.forward(Int32Array.of(12), 5); // [vocab]
    const counts: number[] = [];
    for (const model of [fused, plain]) {
      gpu.resetStats();
      const got = await model.forward(Int32Array.of(12), 5); // [vocab]
      counts.push(gpu.resetStats().dispatches);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    }
    // embed + first norm + output projection, then per layer 9 fused / 15 unfused.
    expect(counts).toEqual([3 + 9 * 2, 3 + 15 * 2]);
    // Batched decode: slot 1 prefilled separately, both slots step together.
    for (const model of [fused, plain]) await model.forward(Int32Array.of(1, 4), 0, undefined, 1);
    const rows = [{ slot: 0, token: 3, pos: 6 }, { slot: 1, token: 5, pos: 2 }];
    const a = await fused.decodeBatch(rows), b = await plain.decodeBatch(rows); // [2, vocab]
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    fused.destroy();
    plain.destroy();
  });
});
