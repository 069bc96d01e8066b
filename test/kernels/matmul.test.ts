import { describe, expect, it } from 'vitest';
import { dequantize, quantize, uploadWeight } from '../../src/kernels/common';
import { matmul, reference, type MatmulPath } from '../../src/kernels/matmul';
import { gemvDecodeConfig } from '../../src/kernels/gemv';
import { dequantizeX, quantizedWords, quantizeQ8, unpackQuantized } from '../../src/kernels/quantize-q8';
import { testGpu } from '../helpers/gpu';
import { maxAbsDiff, randArray, rng } from './rand';

type WT = 'f32' | 'f16' | 'q8_0';

async function gpuMatmul(x: Float32Array, wf: Float32Array, M: number, N: number, K: number, type: WT,
  force?: MatmulPath): Promise<{ got: Float32Array; want: Float32Array }> {
  const gpu = await testGpu();
  const wt = quantize(wf, N, K, type); // [N, K] in GGUF bytes
  const w = uploadWeight(gpu, wt);
  const xb = gpu.upload(x); // [M, K]
  const yb = gpu.alloc(M * N * 4); // [M, N]
  matmul(gpu, xb, w, yb, M, force);
  const got = new Float32Array(await gpu.read(yb, M * N * 4));
  // q8_0 decode on int8 activations (as llama.cpp): the reference takes x as the quantize kernel rounds it.
  let xSeen = x; // [M, K]
  if (force === 'gemv' && gemvDecodeConfig(gpu, type).xq) {
    const qb = gpu.alloc(quantizedWords(K) * 4); // [K/4 + K/32] words
    quantizeQ8(gpu, xb, qb, K);
    const { q, d } = unpackQuantized(await gpu.read(qb, quantizedWords(K) * 4), K);
    gpu.free(qb);
    xSeen = dequantizeX(q, d);
  }
  gpu.free(yb);
  gpu.free(xb);
  gpu.free(w.buf);
  // The reference multiplies by the CPU-dequantized weights: the kernel must match them, not the f32 source.
  return { got, want: reference(xSeen, dequantize(wt), M, N, K) };
}

function slice2d(a: Float32Array, cols: number, r0: number, r1: number, c0: number, c1: number): Float32Array {
  const out = new Float32Array((r1 - r0) * (c1 - c0)); // [r1-r0, c1-c0]
  for (let r = r0; r < r1; r++) out.set(a.subarray(r * cols + c0, r * cols + c1), (r - r0) * (c1 - c0));
  return out;
}

const SHAPES: [number, number, number][] = [
  [1, 7, 5], [2, 3, 1], [3, 70, 33], [65, 130, 47], [17, 64, 16], [1, 300, 200],
];
const Q_SHAPES: [number, number, number][] = [[1, 7, 32], [3, 70, 64], [65, 130, 96], [1, 129, 160]];

describe('matmul', () => {
  for (const type of ['f32', 'f16', 'q8_0'] as WT[]) {
    const shapes = type === 'q8_0' ? Q_SHAPES : SHAPES;
    for (const [M, N, K] of shapes) {
      for (const force of (M === 1 ? ['tiled', 'rows', 'gemv'] : ['tiled', 'rows']) as MatmulPath[]) {
        it(`${type} M=${M} N=${N} K=${K} ${force}`, async () => {
          const r = rng(M * 1000 + N * 7 + K);
          const x = randArray(r, M * K); // [M, K]
          const w = randArray(r, N * K, 0.5); // [N, K]
          const { got, want } = await gpuMatmul(x, w, M, N, K, type, force);
          expect(maxAbsDiff(got, want)).toBeLessThan(1e-5 * K + 1e-6);
        });
      }
    }
  }

  // Tensor-parallel invariants, with each shard's weight quantized on its own (as a TP loader slices GGUF).
  for (const type of ['f32', 'q8_0'] as WT[]) {
    for (const M of [1, 5]) {
      it(`tp invariants ${type} M=${M}: row-parallel partials sum, column-parallel outputs concatenate`, async () => {
        const N = 40, K = 128, tp = 2;
        const r = rng(77 + M);
        const x = randArray(r, M * K); // [M, K]
        const w = randArray(r, N * K, 0.5); // [N, K]
        const full = await gpuMatmul(x, w, M, N, K, type);
        // Row-parallel (wo / w_down): rank i holds columns [i*K/tp, (i+1)*K/tp) and the matching slice of x.
        const sum = new Float32Array(M * N); // [M, N]
        for (let i = 0; i < tp; i++) {
          const k0 = (i * K) / tp, k1 = ((i + 1) * K) / tp;
          const part = await gpuMatmul(slice2d(x, K, 0, M, k0, k1), slice2d(w, K, 0, N, k0, k1), M, N, k1 - k0, type);
          for (let j = 0; j < sum.length; j++) sum[j] += part.got[j];
        }
        expect(maxAbsDiff(sum, full.got)).toBeLessThan(1e-4);
        expect(maxAbsDiff(sum, full.want)).toBeLessThan(1e-4);
        // Column-parallel (wq / w_gate / output): rank i holds rows [i*N/tp, (i+1)*N/tp).
        const cat = new Float32Array(M * N); // [M, N]
        for (let i = 0; i < tp; i++) {
          const n0 = (i * N) / tp, n1 = ((i + 1) * N) / tp;
          const part = await gpuMatmul(x, slice2d(w, K, n0, n1, 0, K), M, n1 - n0, K, type);
          for (let m = 0; m < M; m++) cat.set(part.got.subarray(m * (n1 - n0), (m + 1) * (n1 - n0)), m * N + n0);
        }
        expect(maxAbsDiff(cat, full.got)).toBeLessThan(1e-5);
      });
    }
  }
});
