// Diffusion WGSL kernels vs their plain-TS references, on seeded random shapes (sizes are not
// multiples of the workgroup), and the full GPU forward vs the golden numpy eps.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as act from '../../src/kernels/diffusion/activation';
import * as cadd from '../../src/kernels/diffusion/channel-add';
import * as conv from '../../src/kernels/diffusion/conv2d';
import * as lin from '../../src/kernels/diffusion/linear';
import * as napply from '../../src/kernels/diffusion/norm-apply';
import * as nstats from '../../src/kernels/diffusion/norm-stats';
import * as up from '../../src/kernels/diffusion/upsample';
import { loadDdpm } from '../../src/model/ddpm/config';
import { DdpmGpu } from '../../src/model/ddpm/forward-gpu';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { getTensor, parseSafetensors } from '../../src/model/ddpm/safetensors';
import { testGpu } from '../helpers/gpu';

const shared = process.env.TABMESH_SHARED ?? new URL('../../../shared/', import.meta.url).pathname;
let stream = 0;
const rand = (n: number, scale = 1) => gaussianNoise(1234, stream++, n).map((v) => v * scale);

async function readF32(buf: GPUBuffer, n: number): Promise<Float32Array> {
  const gpu = await testGpu();
  return new Float32Array(await gpu.read(buf, n * 4));
}

function expectClose(got: Float32Array, want: Float32Array, tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

describe('diffusion kernels', () => {
  const convShapes: conv.Conv2dShape[] = [
    { cin: 3, cout: 5, inRows: 9, width: 13, k: 3, stride: 1, padW: 1 },
    { cin: 2, cout: 3, inRows: 16, width: 28, k: 7, stride: 1, padW: 3 },
    { cin: 4, cout: 6, inRows: 12, width: 11, k: 5, stride: 2, padW: 2 },
    { cin: 5, cout: 7, inRows: 9, width: 10, k: 1, stride: 2, padW: 0 },
    { cin: 3, cout: 65, inRows: 4, width: 9, k: 3, stride: 2, padW: 1 },
  ];
  for (const s of convShapes) {
    it(`conv2d k${s.k} s${s.stride} ${s.cin}->${s.cout} ${s.inRows}x${s.width} (halo-padded rows)`, async () => {
      const gpu = await testGpu();
      const x = rand(s.cin * s.inRows * s.width); // [cin, inRows, W]
      const w = rand(s.cout * s.cin * s.k * s.k, 0.2); // [cout, cin, k, k]
      const b = rand(s.cout); // [cout]
      const { outRows, outW } = conv.conv2dOutSize(s);
      const bufs = [gpu.upload(x), gpu.upload(w), gpu.upload(b)];
      const out = conv.conv2d(gpu, bufs[0], bufs[1], bufs[2], s); // [cout, outRows, outW]
      expectClose(await readF32(out, s.cout * outRows * outW), conv.reference(x, w, b, s), 1e-5);
      gpu.free(out);
    });
  }

  for (const s of [
    { channels: 8, rows: 5, width: 7, groups: 4 },
    { channels: 32, rows: 30, width: 28, groups: 1 }, // 26880 per group: several chunks
    { channels: 6, rows: 3, width: 5, groups: 3 },
  ]) {
    it(`norm stats C${s.channels} ${s.rows}x${s.width} groups ${s.groups}`, async () => {
      const gpu = await testGpu();
      const x = rand(s.channels * s.rows * s.width).map((v) => v + 0.7); // [C, rows, W], nonzero mean
      const got = await nstats.normStats(gpu, gpu.upload(x), s);
      const want = nstats.reference(x, s);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]))).toBeLessThan(1e-5);
    });
  }

  for (const [affine, a, add] of [['element', 'gelu', true], ['channel', 'silu', false], ['none', 'none', true]] as const) {
    it(`norm apply affine=${affine} act=${a} add=${add}, into a halo-padded tile`, async () => {
      const gpu = await testGpu();
      const C = 6, rows = 5, W = 9, groups = 3, fullHeight = 11, rowStart = 4, off = 2;
      const s: napply.NormApplyShape = { channels: C, rows, width: W, groups, affine, fullHeight, rowStart, act: a, outRowOffset: off, outRows: rows + 2 * off };
      const x = rand(C * rows * W); // [C, rows, W]
      const mr = Float32Array.from([0.1, 1.3, -0.2, 0.7, 0.05, 2.0]); // [groups, 2]
      const nAff = affine === 'element' ? C * fullHeight * W : C;
      const gamma = rand(nAff); // [C(, fullH, W)]
      const beta = rand(nAff);
      const cv = rand(C); // [C]
      const out = gpu.alloc(C * s.outRows * W * 4); // [C, outRows, W]
      gpu.write(out, new Float32Array(C * s.outRows * W));
      const mrB = gpu.upload(mr);
      napply.normApply(gpu, gpu.upload(x), mrB, affine === 'none' ? null : gpu.upload(gamma), affine === 'none' ? null : gpu.upload(beta), add ? gpu.upload(cv) : null, out, s);
      const want = napply.reference(x, mr, gamma, beta, add ? cv : null, s);
      expectClose(await readF32(out, C * s.outRows * W), want, 1e-5);
      gpu.free(out);
    });
  }

  it('gelu (erf) and silu over [-9, 9], n not a multiple of 64', async () => {
    const gpu = await testGpu();
    const n = 1001;
    const x = Float32Array.from({ length: n }, (_, i) => -9 + (18 * i) / (n - 1)); // [n]
    for (const a of ['gelu', 'silu'] as const) {
      const y = act.activation(gpu, gpu.upload(x), n, a);
      const got = await readF32(y, n);
      const want = act.reference(x, a);
      for (let i = 0; i < n; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(2e-6 * (1 + Math.abs(x[i])));
      gpu.free(y);
    }
  });

  it('linear, no activation, 1280 -> 96 (the U-Net time projection: many strides of the workgroup)', async () => {
    const gpu = await testGpu();
    const x = rand(1280), w = rand(96 * 1280, 0.05), b = rand(96);
    const y = lin.linear(gpu, gpu.upload(x), gpu.upload(w), gpu.upload(b), 1280, 96, 1, 'none');
    expectClose(await readF32(y, 96), lin.reference(x, w, b, 1280, 96, 'none'), 1e-5);
    gpu.free(y);
  });

  it('linear with fused GELU (time MLP), batch 3, 37 -> 70', async () => {
    const gpu = await testGpu();
    const x = rand(3 * 37), w = rand(70 * 37, 0.2), b = rand(70);
    const y = lin.linear(gpu, gpu.upload(x), gpu.upload(w), gpu.upload(b), 37, 70, 3, 'gelu');
    expectClose(await readF32(y, 3 * 70), lin.reference(x, w, b, 37, 70, 'gelu'), 1e-5);
    gpu.free(y);
  });

  it('nearest upsample x2 and channel add', async () => {
    const gpu = await testGpu();
    const x = rand(3 * 5 * 7); // [3, 5, 7]
    const u = up.upsampleNearest(gpu, gpu.upload(x), 3, 5, 7, 2); // [3, 10, 14]
    expect(await readF32(u, 3 * 10 * 14)).toEqual(up.reference(x, 3, 5, 7, 2));
    const v = rand(3);
    const a = cadd.channelAdd(gpu, gpu.upload(x), gpu.upload(v), 3, 35); // [3, 35]
    expectClose(await readF32(a, 105), cadd.reference(x, v, 3), 1e-6);
    gpu.free(u);
    gpu.free(a);
  });

  it('full GPU forward equals the golden numpy eps within 1e-4', async () => {
    const gpu = await testGpu();
    const dir = `${shared}/models/ddpm-mnist-cnn/`;
    const model = loadDdpm(readFileSync(dir + 'ddpm_mnist_starter.safetensors'));
    const g = parseSafetensors(readFileSync(dir + 'golden_denoiser_io.safetensors'));
    const x = getTensor(g, 'x', [2, 1, 28, 28]);
    const t = getTensor(g, 't', [2]);
    const eps = getTensor(g, 'eps', [2, 1, 28, 28]);
    const dg = DdpmGpu.create(gpu, model);
    for (let n = 0; n < 2; n++) {
      const out = await dg.forward(x.slice(n * 784, (n + 1) * 784), t[n]); // [1, 28, 28]
      let maxErr = 0;
      for (let i = 0; i < 784; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - eps[n * 784 + i]));
      expect(maxErr).toBeLessThan(1e-4);
    }
  });
});
