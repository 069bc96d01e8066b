// conv2d_gemm.wgsl and conv2d_gemm_r16x8.wgsl (implicit-GEMM convs, every tile config, split-K with its
// reduce pass, both B loaders) vs the plain-TS conv2dReference, on shapes whose cin, cout and pixel
// counts are not multiples of the tiles, plus halo tiles, strides 1/2, column padding 0/1, and shapes
// larger than one tile in every GEMM dimension. The r16x8 pipelines (one per tile, kernel size and B
// loader) take ~10 s each to compile on lavapipe (cold cache), so r16x8 runs only where pickConv2d can
// send a shape: 3x3 (both tiles) and 1x1 with vec4 rows (r128).
import { describe, expect, it } from 'vitest';
import * as conv from '../../src/kernels/diffusion/conv2d';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { testGpu } from '../helpers/gpu';
import { maxRelErr } from './helpers';

let stream = 0;
const rand = (n: number, scale = 1) => gaussianNoise(4242, stream++, n).map((v) => v * scale);

async function run(s: conv.Conv2dShape, kernel: conv.Conv2dKernel, opts: conv.Conv2dOptions = {}): Promise<{ got: Float32Array; want: Float32Array }> {
  const gpu = await testGpu();
  const x = rand(s.cin * s.inRows * s.width); // [cin, inRows, W]
  const w = rand(s.cout * s.cin * s.k * s.k, 1 / Math.sqrt(s.cin * s.k * s.k)); // [cout, cin, k, k]
  const b = rand(s.cout, 0.5); // [cout]
  const { outRows, outW } = conv.conv2dOutSize(s);
  const bufs = [gpu.upload(x), gpu.upload(w), gpu.upload(b)];
  const out = conv.conv2d(gpu, bufs[0], bufs[1], bufs[2], s, kernel, opts); // [cout, outRows, outW]
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
    // r16x8 where 'gemm' can send the shape: 3x3, and 1x1 with vec4 rows (B_MODE 2).
    const reg: conv.RegTileName[] = s.k === 3 ? ['r128', 'r64x128'] : s.k === 1 && s.stride === 1 && s.width % 4 === 0 ? ['r128'] : [];
    for (const kernel of ['gemm64', 'gemm64x128', 'gemm128', ...reg] as conv.Conv2dKernel[]) {
      it(`${kernel}: ${name}`, async () => {
        const { got, want } = await run(s, kernel);
        expect(maxRelErr(got, want)).toBeLessThan(1e-5);
      });
    }
  }

  // Split-K: K slices summed by the reduce pass (split 0 adds the bias). K = 360 (vec4 weight rows) and
  // K = 45 / 150 (scalar weight loads, last slice ragged); 8 slices of K = 45 round to 3 slices of 16.
  const splitShapes: [string, conv.Conv2dShape][] = [
    ['k3 s1 pad1, 40->70, 22 rows x 20 (K 360)', { cin: 40, cout: 70, inRows: 22, width: 20, k: 3, stride: 1, padW: 1 }],
    ['k3 s2 pad1, 5->7 (K 45)', { cin: 5, cout: 7, inRows: 11, width: 12, k: 3, stride: 2, padW: 1 }],
    ['k1, 150->260, 1 x 300 (K 150)', { cin: 150, cout: 260, inRows: 1, width: 300, k: 1, stride: 1, padW: 0 }],
  ];
  for (const [name, s] of splitShapes) {
    const splits = s.k === 3
      ? [['r128', 2], ['r128', 8], ['r64x128', 3], ['r64x128', 5]] as const
      : [['r128', 3], ['r128', 8]] as const;
    for (const [kernel, splitK] of splits) {
      it(`${kernel} split-K ${splitK}: ${name}`, async () => {
        const { got, want } = await run(s, kernel, { splitK });
        expect(maxRelErr(got, want)).toBeLessThan(1e-5);
      });
    }
  }
  // conv2d's `add` (a ResBlock's time projection per channel, a residual per element): fused into the
  // split-K reduction when there is one (P % 4 == 0 for 'channel'), else its own kernel after the conv;
  // either way bit for bit the conv followed by add.wgsl / channel_add.wgsl.
  const addCases: [string, conv.Conv2dShape, conv.RegTileName, number][] = [
    ['k3 40->70, 20x20, r128 split 2 (fused)', { cin: 40, cout: 70, inRows: 22, width: 20, k: 3, stride: 1, padW: 1 }, 'r128', 2],
    ['k3 40->70, 20x20, r64x128 split 3 (fused)', { cin: 40, cout: 70, inRows: 22, width: 20, k: 3, stride: 1, padW: 1 }, 'r64x128', 3],
    ['k3 40->70, 20x20, r128 no split (separate kernel)', { cin: 40, cout: 70, inRows: 22, width: 20, k: 3, stride: 1, padW: 1 }, 'r128', 1],
    ['k3 s2 5->7, P = 30 (channel term not fusable: vec4s span channels)', { cin: 5, cout: 7, inRows: 11, width: 12, k: 3, stride: 2, padW: 1 }, 'r128', 3],
  ];
  for (const [name, s, kernel, splitK] of addCases) {
    for (const per of ['channel', 'element'] as const) {
      it(`conv2d + ${per} term: ${name}`, async () => {
        const gpu = await testGpu();
        const { outRows, outW } = conv.conv2dOutSize(s);
        const P = outRows * outW;
        const x = rand(s.cin * s.inRows * s.width), w = rand(s.cout * s.cin * 9, 0.1), b = rand(s.cout, 0.5);
        const e = rand(per === 'channel' ? s.cout : s.cout * P); // [cout] or [cout, P]
        const [xb, wb, bb, eb] = [gpu.upload(x), gpu.upload(w), gpu.upload(b), gpu.upload(e)];
        gpu.resetStats();
        const fused = conv.conv2d(gpu, xb, wb, bb, s, kernel, { splitK, add: { buf: eb, per } }); // [cout, P]
        // fused: conv + reduce; not: conv (+ reduce) + the term's kernel
        const fusable = splitK > 1 && (per === 'element' || P % 4 === 0);
        expect(gpu.resetStats().dispatches).toBe(fusable ? 2 : splitK > 1 ? 3 : 2);
        const plain = conv.conv2d(gpu, xb, wb, bb, s, kernel, { splitK }); // [cout, P]
        const got = new Float32Array(await gpu.read(fused, s.cout * P * 4));
        const conv0 = new Float32Array(await gpu.read(plain, s.cout * P * 4));
        const want = conv0.map((v, i) => Math.fround(v + (per === 'channel' ? e[Math.floor(i / P)] : e[i])));
        expect(got).toEqual(want); // the same f32 add as the separate kernels
        const ref = conv.reference(x, w, b, s).map((v, i) => v + (per === 'channel' ? e[Math.floor(i / P)] : e[i]));
        expect(maxRelErr(got, ref)).toBeLessThan(1e-5);
        for (const buf of [xb, wb, bb, eb, fused, plain]) gpu.free(buf);
      });
    }
  }

  it('splitKSize: whole BK slices, no empty slice', () => {
    expect(conv.splitKSize(conv.REG_TILES.r128, 45, 8)).toEqual({ kSplit: 16, splits: 3 }); // BK 16
    expect(conv.splitKSize(conv.REG_TILES.r64x128, 45, 8)).toEqual({ kSplit: 8, splits: 6 }); // BK 8
    expect(conv.splitKSize(conv.REG_TILES.r128, 11520, 3)).toEqual({ kSplit: 3840, splits: 3 });
    expect(conv.splitKSize(conv.REG_TILES.r64x128, 100, 3)).toEqual({ kSplit: 40, splits: 3 });
    expect(conv.splitKSize(conv.REG_TILES.r128, 100, 1)).toEqual({ kSplit: 100, splits: 1 });
  });

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

  it('folds more than 65535 pixel tiles into z (r16x8 kernel)', async () => {
    // 128 * 65535 + 72 pixels: 65537 tiles of 128 -> grid x 65535, z 2 (B_MODE 2: P % 4 == 0)
    const s = { cin: 1, cout: 2, inRows: 1, width: 128 * 65535 + 72, k: 1, stride: 1, padW: 0 };
    const { got, want } = await run(s, 'r128');
    expect(maxRelErr(got, want)).toBeLessThan(1e-5);
  }, 120_000);

  it('B_MODE 2 (vec4 input rows) only for 1x1, stride 1, unpadded, P % 4 == 0', async () => {
    const gpu = await testGpu();
    const buf = gpu.alloc(4096);
    const s = { cin: 2, cout: 3, inRows: 1, width: 99, k: 1, stride: 1, padW: 0 }; // P = 99
    expect(() => conv.conv2d(gpu, buf, buf, buf, s, 'r128', { bMode: 2 })).toThrow(/B_MODE 2/);
    gpu.free(buf);
  });

  it("'gemm' falls back to conv2d_gemm.wgsl for a weight buffer that is not whole vec4s; r16x8 refuses it", async () => {
    const gpu = await testGpu();
    const s = { cin: 9, cout: 7, inRows: 10, width: 8, k: 3, stride: 1, padW: 1 }; // K = 81: pickConv2d says r16x8
    expect(conv.pickConv2d(s).kernel).toMatch(/^r/);
    const x = rand(9 * 10 * 8); // [cin, inRows, W]
    const w = rand(7 * 81, 1 / 9); // [cout, cin, 3, 3]: 2268 bytes
    const b = rand(7); // [cout]
    const wBuf = gpu.device.createBuffer({ size: w.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    gpu.device.queue.writeBuffer(wBuf, 0, w);
    const [xBuf, bBuf] = [gpu.upload(x), gpu.upload(b)];
    const out = conv.conv2d(gpu, xBuf, wBuf, bBuf, s, 'gemm'); // [cout, 8, 8]
    const got = new Float32Array(await gpu.read(out, 7 * 64 * 4));
    expect(maxRelErr(got, conv.reference(x, w, b, s))).toBeLessThan(1e-5);
    expect(() => conv.conv2d(gpu, xBuf, wBuf, bBuf, s, 'r128')).toThrow(/whole vec4s/);
    gpu.free(out);
    for (const buf of [wBuf, xBuf, bBuf]) buf.destroy();
  });

  it('pickConv2d: r16x8 tile and split from the wave model; the old kernel for K < 64 and gathered 1x1 (H200 sweep)', () => {
    const k3 = (cin: number, cout: number, S: number, rows = S) => ({ cin, cout, inRows: rows + 2, width: S, k: 3, stride: 1, padW: 1 });
    const k1 = (cin: number, cout: number, P: number) => ({ cin, cout, inRows: 1, width: P, k: 1, stride: 1, padW: 0 });
    expect(conv.pickConv2d(k3(1280, 1280, 32))).toEqual({ kernel: 'r128', splitK: 3 }); // 80 tiles x 3 = 240 workgroups: one wave
    expect(conv.pickConv2d(k3(1280, 1280, 32, 8))).toEqual({ kernel: 'r128', splitK: 12 }); // N = 4 patch: 20 tiles x 12
    expect(conv.pickConv2d(k3(320, 320, 128, 32))).toEqual({ kernel: 'r64x128', splitK: 3 }); // cout 320: 64-row tiles
    expect(conv.pickConv2d(k1(1280, 3840, 1024))).toEqual({ kernel: 'r128', splitK: 1 }); // 240 tiles: no split
    expect(conv.pickConv2d(k3(4, 320, 128)).kernel).toBe('gemm64x128'); // K = 36
    expect(conv.pickConv2d(k1(64, 64, 99)).kernel).toBe('gemm64'); // 1x1 with P % 4 != 0: no vec4 rows
    expect(conv.pickConv2d({ ...k3(64, 64, 32), k: 5, padW: 2 }).kernel).toBe('gemm64'); // only k = 1, 3 measured and tested
  });

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
  for (const [name, t] of Object.entries(conv.REG_TILES)) {
    it(`r16x8 tile ${name} passes the shader's constraints and WebGPU's default limits`, () => {
      expect(conv.regTileError(t)).toBeNull();
      const { threads, sharedBytes } = conv.regTileSize(t);
      expect(threads).toBeLessThanOrEqual(256);
      expect(sharedBytes).toBeLessThanOrEqual(16384);
    });
  }
  it('regTileError rejects a tile over 16 KiB of workgroup memory', () => {
    expect(conv.regTileError({ WG_X: 16, WG_Y: 8, BK: 16, STAGES: 2, WARP_X: 8 })).toMatch(/16 KiB/); // 32 KiB
  });
  it('checkGemmTile rejects a tile over 16 KiB of workgroup memory', () => {
    expect(() => conv.checkGemmTile({ WG_X: 16, WG_Y: 16, TM: 8, TN: 8, BK: 16 })).toThrow(/unsupported/);
  });
});
