import { describe, expect, it } from 'vitest';
import * as attn from '../../src/kernels/attention';
import { dequantize, quantize, uploadWeight } from '../../src/kernels/common';
import * as ew from '../../src/kernels/elementwise';
import * as emb from '../../src/kernels/embed';
import * as rms from '../../src/kernels/rmsnorm';
import * as ropeK from '../../src/kernels/rope';
import * as sm from '../../src/kernels/softmax';
import { testGpu } from '../helpers/gpu';
import { maxAbsDiff, randArray, rng } from './rand';

async function readF32(buf: GPUBuffer, n: number): Promise<Float32Array> {
  const gpu = await testGpu();
  return new Float32Array(await gpu.read(buf, n * 4));
}

describe('llm kernels', () => {
  // Both implementations: 'shared' (workgroup reduction, for GPUs) and 'rows' (barrier-free, for
  // CPU-backed adapters); each against the plain-TS reference.
  for (const impl of ['shared', 'rows'] as const) for (const [rows, dim] of [[1, 64], [3, 200], [5, 7]]) {
    it(`rmsnorm (${impl}) rows=${rows} dim=${dim}`, async () => {
      const gpu = await testGpu();
      const r = rng(rows * 31 + dim);
      const x = randArray(r, rows * dim, 3); // [rows, dim]
      const w = randArray(r, dim); // [dim]
      const y = gpu.alloc(rows * dim * 4); // [rows, dim]
      rms.rmsnorm(gpu, gpu.upload(x), gpu.upload(w), y, rows, dim, 1e-5, impl);
      expect(maxAbsDiff(await readF32(y, rows * dim), rms.reference(x, w, rows, dim, 1e-5))).toBeLessThan(1e-5);
    });
  }

  for (const [T, nHeads, headDim, pos] of [[1, 8, 8, 0], [3, 4, 64, 17], [5, 3, 6, 500]]) {
    it(`rope T=${T} heads=${nHeads} hd=${headDim} pos=${pos}`, async () => {
      const gpu = await testGpu();
      const r = rng(T + nHeads + headDim + pos);
      const x = randArray(r, T * nHeads * headDim); // [T, nHeads*headDim]
      const tab = gpu.upload(ropeK.ropeTable(pos + T + 3, headDim, 10000)); // [maxSeq, hd/2, 2]
      const xb = gpu.upload(x);
      ropeK.rope(gpu, xb, tab, T, nHeads, headDim, pos);
      const want = ropeK.reference(x, T, nHeads, headDim, pos, 10000);
      expect(maxAbsDiff(await readF32(xb, x.length), want)).toBeLessThan(1e-5);
    });
  }

  for (const [rows, cols] of [[1, 512], [4, 33], [2, 1000]]) {
    it(`softmax rows=${rows} cols=${cols}`, async () => {
      const gpu = await testGpu();
      const x = randArray(rng(rows * cols), rows * cols, 10); // [rows, cols]
      const xb = gpu.upload(x);
      sm.softmax(gpu, xb, rows, cols);
      expect(maxAbsDiff(await readF32(xb, x.length), sm.reference(x, rows, cols))).toBeLessThan(1e-6);
    });
  }

  it('silu(g)*u and residual add, n not a multiple of 256', async () => {
    const gpu = await testGpu();
    const n = 1000;
    const r = rng(9);
    const g = randArray(r, n, 4), u = randArray(r, n); // [n]
    const gb = gpu.upload(g);
    ew.siluMul(gpu, gb, gpu.upload(u), n);
    expect(maxAbsDiff(await readF32(gb, n), ew.siluMulReference(g, u))).toBeLessThan(1e-6);
    const xb = gpu.upload(g);
    ew.add(gpu, xb, gpu.upload(u), n);
    expect(maxAbsDiff(await readF32(xb, n), ew.addReference(g, u))).toBeLessThan(1e-6);
  });

  for (const type of ['f32', 'f16', 'q8_0'] as const) {
    it(`embedding gather from a ${type} table`, async () => {
      const gpu = await testGpu();
      const vocab = 37, dim = 64;
      const wt = quantize(randArray(rng(3), vocab * dim), vocab, dim, type); // [vocab, dim]
      const tokens = new Int32Array([0, 36, 5, 5, 12, 40]); // 40 is out of range -> zeros
      const out = gpu.alloc(tokens.length * dim * 4); // [T, dim]
      emb.embed(gpu, gpu.upload(tokens), uploadWeight(gpu, wt), out, tokens.length);
      const want = emb.reference(dequantize(wt), vocab, dim, tokens);
      expect(maxAbsDiff(await readF32(out, tokens.length * dim), want)).toBe(0);
    });
  }

  // [T, pos, nHeads, nKv, headDim]: prefill from 0, prefill after a prefix, decode with > 64 keys, GQA maps.
  const cases: [number, number, number, number, number][] = [
    [1, 0, 2, 1, 8], [5, 0, 8, 4, 8], [3, 70, 4, 2, 16], [1, 130, 3, 3, 100], [7, 11, 6, 2, 64],
  ];
  // 'prefill' (the tiled kernel, T > 1 and headDim % 4 == 0) also on a 300-token prompt after a prefix (several
  // tiles, blocks past the diagonal) and headDim 256 (8 threads a query).
  const prefillCases: typeof cases = [[5, 0, 8, 4, 8], [3, 70, 4, 2, 16], [7, 11, 6, 2, 64], [300, 21, 4, 2, 32], [40, 3, 4, 1, 128], [9, 0, 2, 2, 256]];
  for (const impl of ['shared', 'rows', 'prefill'] as const) for (const [T, pos, nHeads, nKv, hd] of impl === 'prefill' ? prefillCases : cases) {
    it(`attention (${impl}) T=${T} pos=${pos} heads=${nHeads} kv=${nKv} hd=${hd}`, async (ctx) => {
      const gpu = await testGpu();
      if (impl === 'prefill' && !attn.prefillPlan(gpu, hd)) return ctx.skip();
      const r = rng(T * 100 + pos + hd);
      const kvDim = nKv * hd;
      const maxSeq = pos + T + 5, nLayers = 2, layer = 1;
      const q = randArray(r, T * nHeads * hd, 2); // [T, nHeads*hd]
      const kc = randArray(r, nLayers * maxSeq * kvDim); // [nLayers, maxSeq, kvDim]
      const vc = randArray(r, nLayers * maxSeq * kvDim); // [nLayers, maxSeq, kvDim]
      const kvmap = Array.from({ length: nHeads }, (_, h) => Math.floor((h * nKv) / nHeads));
      const out = gpu.alloc(T * nHeads * hd * 4); // [T, nHeads*hd]
      const shape = { T, pos, nHeads, headDim: hd, kvDim };
      const off = layer * maxSeq * kvDim;
      attn.attention(gpu, gpu.upload(q), gpu.upload(kc), gpu.upload(vc), gpu.upload(new Uint32Array(kvmap)), out, shape, off, impl);
      const want = attn.reference(q, kc.subarray(off), vc.subarray(off), kvmap, shape);
      expect(maxAbsDiff(await readF32(out, T * nHeads * hd), want)).toBeLessThan(1e-5);
    });
  }
});
