// conv2d_gemm.wgsl (implicit-GEMM conv, every tile config) vs the plain-TS conv2dReference, on
// shapes whose cin, cout and pixel counts are not multiples of the tiles, plus halo tiles, strides
// 1/2, column padding 0/1, and shapes larger than one tile in every GEMM dimension.
import { describe, expect, it } from 'vitest';
import * as conv from '../../src/kernels/diffusion/conv2d';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { testGpu } from '../helpers/gpu';
import { maxRelErr } from './helpers';

let stream = 0;
const rand = (n: number, scale = 1) => gaussianNoise(4242, stream++, n).map((v) => v * scale);

async function run(s: conv.Conv2dShape, kernel: conv.Conv2dKernel): Promise<{ got: Float32Array; want: Float32Array }> {
  const gpu = await testGpu();
  const x = rand(s.cin * s.inRows * s.width); // [cin, inRows, W]
  const w = rand(s.cout * s.cin * s.k * s.k, 1 / Math.sqrt(s.cin * s.k * s.k)); // [cout, cin, k, k]
  const b = rand(s.cout, 0.5); // [cout]
  const { outRows, outW } = conv.conv2dOutSize(s);
  const bufs = [gpu.upload(x), gpu.upload(w), gpu.upload(b)];
  const out = conv.conv2d(gpu, bufs[0], bufs[1], bufs[2], s, kernel); // [cout, outRows, outW]
  const got = new Float32Array(await gpu.read(out, s.cout * outRows * outW * 4));
  gpu.free(out);
  bufs.forEach((buf) => gpu.free(buf));
  return { got, want: conv.reference(x, w, b, s) };
}

describe('conv2d implicit GEMM', () => {
  const shapes: [string, conv.Conv2dShape][] = [
    ['k1 s1 pad0, 5->7, 9x11 (nothing a multiple of a tile)', { cin: 5, cout: 7, inRows: 9, width: 11, k: 1, stride: 1, padW: 0 }],
    ['k3 s1 pad1, 5->7, halo tile 11 rows -> 9x11', { cin: 5, cout: 7, inRows: 11, width: 11, k: 3, stride: 1, padW: 1 }],
    ['k3 s1 pad0, 3->6, halo 9 rows -> 7x8', { cin: 3, cout: 6, inRows: 9, width: 10, k: 3, stride: 1, padW: 0 }],
    ['k3 s2 pad1, 5->7 (downsample)', { cin: 5, cout: 7, inRows: 11, width: 12, k: 3, stride: 2, padW: 1 }],
    ['k1 s2 pad0, 6->9', { cin: 6, cout: 9, inRows: 9, width: 13, k: 1, stride: 2, padW: 0 }],
    ['k3 s1 pad1, inRows 14 > outRows + 2 (halo rows past the kernel radius)', { cin: 4, cout: 5, inRows: 14, width: 9, k: 3, stride: 1, padW: 1 }],
    ['k3 s1 pad1, 40->70, 22 rows x 20 (bigger than a tile in cout, K and P)', { cin: 40, cout: 70, inRows: 22, width: 20, k: 3, stride: 1, padW: 1 }],
    ['k1 s1, 150->260 attention-style projection, 1 x 300 (K, cout, P > 128)', { cin: 150, cout: 260, inRows: 1, width: 300, k: 1, stride: 1, padW: 0 }],
    ['k5 s2 pad2 (any square k)', { cin: 4, cout: 6, inRows: 12, width: 11, k: 5, stride: 2, padW: 2 }],
  ];
  for (const [name, s] of shapes) {
    for (const kernel of ['gemm64', 'gemm64x128', 'gemm128'] as const) {
      it(`${kernel}: ${name}`, async () => {
        const { got, want } = await run(s, kernel);
        expect(maxRelErr(got, want)).toBeLessThan(1e-5);
      });
    }
  }

  it('default kernel is the GEMM one and agrees with the direct kernel', async () => {
    const s = { cin: 40, cout: 70, inRows: 22, width: 20, k: 3, stride: 1, padW: 1 };
    const a = await run(s, 'auto');
    expect(maxRelErr(a.got, a.want)).toBeLessThan(1e-5);
    stream -= 3; // same inputs again for the direct kernel
    const d = await run(s, 'direct');
    expect(d.want).toEqual(a.want);
    expect(maxRelErr(a.got, d.got)).toBeLessThan(1e-5);
  });

  it('setAutoConv2dKernel switches what the default resolves to (bench A/B of whole forwards)', async () => {
    const s = { cin: 40, cout: 70, inRows: 22, width: 20, k: 3, stride: 1, padW: 1 };
    const prev = conv.setAutoConv2dKernel('direct');
    try {
      const a = await run(s, 'auto');
      stream -= 3; // same inputs for the explicit direct kernel: bit-identical only if 'auto' ran it
      const d = await run(s, 'direct');
      expect(a.got).toEqual(d.got);
    } finally {
      conv.setAutoConv2dKernel(prev);
    }
  });

  it('folds more than 65535 pixel tiles into z', async () => {
    // 64 * 65535 + 70 pixels: 65537 tiles of 64 -> grid x 65535, z 2 (the second z row is mostly empty)
    const s = { cin: 2, cout: 3, inRows: 1, width: 64 * 65535 + 70, k: 1, stride: 1, padW: 0 };
    const { got, want } = await run(s, 'gemm64');
    expect(maxRelErr(got, want)).toBeLessThan(1e-5);
  }, 120_000);

  it('pickGemmTile: 64x128 only where it gives >= 512 workgroups without padding waste (H200 measurements)', () => {
    expect(conv.pickGemmTile(320, 128 * 128)).toBe('gemm64x128'); // 5 x 128 = 640 tiles
    expect(conv.pickGemmTile(640, 64 * 64)).toBe('gemm64'); // 10 x 32 = 320 tiles: 64x128 measured 17% slower
    expect(conv.pickGemmTile(1920, 64 * 64)).toBe('gemm64x128'); // 30 x 32 = 960 tiles
    expect(conv.pickGemmTile(1280, 32 * 32)).toBe('gemm64'); // 64x128: 160 tiles
    expect(conv.pickGemmTile(7, 99)).toBe('gemm64');
  });
  for (const t of Object.values(conv.GEMM_TILES)) {
    it(`tile ${JSON.stringify(t)} passes the shader's constraints`, () => expect(() => conv.checkGemmTile(t)).not.toThrow());
  }
  it('checkGemmTile rejects a tile over 16 KiB of workgroup memory', () => {
    expect(() => conv.checkGemmTile({ WG_X: 16, WG_Y: 16, TM: 8, TN: 8, BK: 16 })).toThrow(/unsupported/);
  });
});
