// conv2d over a halo-padded tile + its plain-TS reference. Two kernels with the same semantics:
// shaders/diffusion/conv2d_gemm.wgsl (tiled implicit GEMM, the default) and
// shaders/diffusion/conv2d.wgsl (one invocation per output element; kept for A/B benches).
import code from '../../../shaders/diffusion/conv2d.wgsl?raw';
import gemmCode from '../../../shaders/diffusion/conv2d_gemm.wgsl?raw';
import type { Gpu, Kernel } from '../../gpu/gpu';
import { MAX_WORKGROUPS_PER_DIM } from './add';
import { conv2dOutSize, conv2dReference, type Conv2dShape } from './conv2d-ref';

export { conv2dOutSize, type Conv2dShape } from './conv2d-ref';
export const reference = conv2dReference;
const KERNEL = { code, file: 'shaders/diffusion/conv2d.wgsl' };
const GEMM_FILE = 'shaders/diffusion/conv2d_gemm.wgsl';

/**
 * 'direct': conv2d.wgsl. 'gemm64' / 'gemm64x128' / 'gemm128': conv2d_gemm.wgsl with 64x64 /
 * 64x128 / 128x128 (channels x pixels) output tiles. 'gemm' picks the tile from the shape
 * (pickGemmTile); 'auto' (the default) = 'gemm' unless setAutoConv2dKernel changed it.
 */
export type GemmTileName = 'gemm64' | 'gemm64x128' | 'gemm128';
export type Conv2dKernel = 'auto' | 'direct' | 'gemm' | GemmTileName;

/** conv2d_gemm.wgsl override constants (KS is set per call from the shape). */
export interface GemmTile {
  WG_X: number; // threads along pixels
  WG_Y: number; // threads along output channels
  TM: number; // output channels per thread
  TN: number; // pixels per thread
  BK: number; // K step per shared-memory tile
}

// 256 threads each; each uses at most 16 KiB of workgroup memory (2 stages x (BM + BN) x BK floats).
// Per 4 k steps a thread reads TM + TN vec4s of workgroup memory for 4*TM*TN FMAs, so the bigger
// tiles are less bound by shared-memory bandwidth but give fewer workgroups.
export const GEMM_TILES: Record<GemmTileName, GemmTile> = {
  gemm64: { WG_X: 16, WG_Y: 16, TM: 4, TN: 4, BK: 16 }, // 64 channels x 64 pixels
  gemm64x128: { WG_X: 16, WG_Y: 16, TM: 4, TN: 8, BK: 8 }, // 64 x 128: SD widths (320, 960) are 64-multiples
  gemm128: { WG_X: 16, WG_Y: 16, TM: 8, TN: 8, BK: 8 }, // 128 x 128
};

/** The constraints in conv2d_gemm.wgsl's header; throws on a tile the shader cannot run. */
export function checkGemmTile(t: GemmTile): void {
  const nt = t.WG_X * t.WG_Y, bm = t.WG_Y * t.TM, bn = t.WG_X * t.TN;
  const ok =
    t.TM >= 1 && t.TM <= 8 && (t.TN === 4 || t.TN === 8) && t.BK % 4 === 0 && t.BK > 0 &&
    nt % t.BK === 0 && nt % bn === 0 && (bm * t.BK) % nt === 0 && (bn * t.BK) % nt === 0 &&
    (bm * t.BK) / nt <= 8 && (bn * t.BK) / nt <= 8 && 2 * (bm + bn) * t.BK * 4 <= 16384;
  if (!ok) throw new Error(`conv2d: unsupported GEMM tile ${JSON.stringify(t)}`);
}

/**
 * The tile 'gemm' uses: 64x128 when it still gives >= 512 workgroups (~4 per SM of a 132-SM GPU)
 * and, rounding cout and P up to its tile, does at most ~15% more work than 64x64; else 64x64.
 * Measured on an H200 (bench/unet-kernels.ts, bench/results/unet-kernels-*): 64x128 won only at
 * 320 ch @ 128x128 (640 tiles: 1.224 vs 1.242 ms) and lost at 640 @ 64x64 (320 tiles: 1.48 vs
 * 1.27 ms) and 1280 @ 32x32 (2.08 vs 1.52 ms); 128x128 lost everywhere (9-25%), so 'gemm' never
 * picks it (it stays selectable through conv2d's `kernel` argument).
 */
export function pickGemmTile(cout: number, pixels: number): GemmTileName {
  const work = (t: GemmTile) => {
    const bm = t.WG_Y * t.TM, bn = t.WG_X * t.TN;
    const tiles = Math.ceil(cout / bm) * Math.ceil(pixels / bn);
    return { tiles, padded: tiles * bm * bn };
  };
  const base = work(GEMM_TILES.gemm64).padded;
  const w = work(GEMM_TILES.gemm64x128);
  return w.tiles >= 512 && w.padded <= 1.15 * base ? 'gemm64x128' : 'gemm64';
}

// What 'auto' means, process-wide: lets a bench A/B whole U-Net forwards (whose conv2d calls pass no
// `kernel`) without threading an option through the model code.
let autoKernel: Exclude<Conv2dKernel, 'auto'> = 'gemm';

/** Sets what conv2d's default 'auto' kernel resolves to (benches only); returns the previous value. */
export function setAutoConv2dKernel(k: Exclude<Conv2dKernel, 'auto'>): Exclude<Conv2dKernel, 'auto'> {
  const prev = autoKernel;
  autoKernel = k;
  return prev;
}

/** Encode out = conv(input) on the GPU; returns a pooled buffer [cout, outRows, outW] the caller frees. */
export function conv2d(
  gpu: Gpu,
  input: GPUBuffer, // [cin, inRows, width]
  weight: GPUBuffer, // [cout, cin, k, k]
  bias: GPUBuffer, // [cout]
  s: Conv2dShape,
  kernel: Conv2dKernel = 'auto',
): GPUBuffer {
  if (s.stride !== 1 && s.stride !== 2) throw new Error(`conv2d: stride ${s.stride} not supported (1 or 2)`);
  const { outRows, outW } = conv2dOutSize(s);
  const pixels = outRows * outW;
  const out = gpu.alloc(s.cout * pixels * 4, 'conv2d.out'); // [cout, outRows, outW]
  const params = new Uint32Array([s.cin, s.cout, s.inRows, s.width, s.k, s.stride, s.padW, outRows, outW]);
  const kind = kernel === 'auto' ? autoKernel : kernel;
  if (kind === 'direct') {
    gpu.run(KERNEL, params, [input, weight, bias, out], [Math.ceil(pixels / 64), s.cout]);
    return out;
  }
  const name = kind === 'gemm' ? pickGemmTile(s.cout, pixels) : kind;
  const t = GEMM_TILES[name];
  checkGemmTile(t);
  const kern: Kernel = { code: gemmCode, file: GEMM_FILE, constants: { ...t, KS: s.k } };
  // pixel tiles fold into z past 65535 per dimension (the shader maps tile = z * x + wg.x)
  const nTiles = Math.ceil(pixels / (t.WG_X * t.TN));
  const x = Math.min(nTiles, MAX_WORKGROUPS_PER_DIM);
  gpu.run(kern, params, [input, weight, bias, out], [x, Math.ceil(s.cout / (t.WG_Y * t.TM)), Math.ceil(nTiles / Math.max(x, 1))]);
  return out;
}
