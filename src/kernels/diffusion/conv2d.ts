// conv2d over a halo-padded tile + its plain-TS reference. Three kernels with the same semantics:
// shaders/diffusion/conv2d_gemm_r16x8.wgsl (register-tiled implicit GEMM with optional split-K, what
// 'gemm' picks), shaders/diffusion/conv2d_gemm.wgsl (the first implicit GEMM, small register tiles) and
// shaders/diffusion/conv2d.wgsl (one invocation per output element); the last two kept for A/B benches.
import code from '../../../shaders/diffusion/conv2d.wgsl?raw';
import gemmCode from '../../../shaders/diffusion/conv2d_gemm.wgsl?raw';
import regCode from '../../../shaders/diffusion/conv2d_gemm_r16x8.wgsl?raw';
import reduceCode from '../../../shaders/diffusion/conv2d_splitk_reduce.wgsl?raw';
import type { Gpu, Kernel } from '../../gpu/gpu';
import { add as addK, foldGroups, MAX_WORKGROUPS_PER_DIM } from './add';
import { channelAdd } from './channel-add';
import { conv2dOutSize, conv2dReference, type Conv2dShape } from './conv2d-ref';

export { conv2dOutSize, type Conv2dShape } from './conv2d-ref';
export const reference = conv2dReference;
const KERNEL = { code, file: 'shaders/diffusion/conv2d.wgsl' };
const GEMM_FILE = 'shaders/diffusion/conv2d_gemm.wgsl';
const REG_FILE = 'shaders/diffusion/conv2d_gemm_r16x8.wgsl';
const REDUCE = { code: reduceCode, file: 'shaders/diffusion/conv2d_splitk_reduce.wgsl' };

/**
 * 'direct': conv2d.wgsl. 'gemm64' / 'gemm64x128' / 'gemm128': conv2d_gemm.wgsl with 64x64 /
 * 64x128 / 128x128 (channels x pixels) output tiles. 'r128' / 'r64x128': conv2d_gemm_r16x8.wgsl
 * (REG_TILES), split-K as Conv2dOptions.splitK says or pickSplitK picks. 'gemm' picks kernel, tile and
 * split from the shape (pickConv2d); 'auto' (the default) = 'gemm' unless setAutoConv2dKernel changed it.
 */
export type GemmTileName = 'gemm64' | 'gemm64x128' | 'gemm128';
export type RegTileName = 'r128' | 'r64x128';
export type Conv2dKernel = 'auto' | 'direct' | 'gemm' | GemmTileName | RegTileName;

export interface Conv2dOptions {
  splitK?: number; // r* kernels: K slices (1 = none; rounded so every slice is a whole number of BK)
  tile?: RegTile; // r* kernels: these constants instead of REG_TILES[kernel] (benches sweep knobs with it)
  bMode?: 0 | 2; // r* kernels: force the B loader (benches; default: 2 where legal, see the shader)
  /**
   * out += a consumer term, fused into the split-K reduction when the conv splits K (else its own add /
   * channel_add dispatch): 'channel' adds buf [cout] to every pixel of channel c (a ResBlock's time
   * projection), 'element' adds buf [cout, P] (a residual). Same f32 result either way.
   */
  add?: { buf: GPUBuffer; per: 'channel' | 'element' };
}

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
 * conv2d_gemm.wgsl's tile choice (what 'gemm' used before the r16x8 kernel; kept for A/B benches):
 * 64x128 when it still gives >= 512 workgroups (~4 per SM of a 132-SM GPU) and, rounding cout and P
 * up to its tile, does at most ~15% more work than 64x64; else 64x64.
 * Measured on an H200 (bench/unet-kernels.ts, bench/results/unet-kernels-*): 64x128 won only at
 * 320 ch @ 128x128 (640 tiles: 1.224 vs 1.242 ms) and lost at 640 @ 64x64 (320 tiles: 1.48 vs
 * 1.27 ms) and 1280 @ 32x32 (2.08 vs 1.52 ms); 128x128 lost everywhere (9-25%).
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

/** conv2d_gemm_r16x8.wgsl override constants (KS and B_MODE are set per call from the shape). */
export interface RegTile {
  WG_X: number; // threads along pixels (BN = 8 * WG_X pixels per workgroup)
  WG_Y: number; // threads along output channels (BM = 16 * WG_Y channels)
  BK: number; // K step per workgroup-memory tile (multiple of 8)
  STAGES: number; // workgroup-memory stages: 1 or 2
  WARP_X: number; // threads along pixels inside one 32-wide warp (0 = row-major threads)
}

// Each thread owns 16 channels x 8 pixels; both tiles fit WebGPU's default limits (<= 256 threads,
// <= 16 KiB of workgroup memory: STAGES * BK * (BM + BN) / 4 vec4s). Measured on an H200
// (bench/results/conv-gemm-sweep-{full,dev}-nvidia-h200-2026-11-29.md): 128x128 with 16 k x 1 stage beat
// 8 k x 2 stages (33.5 vs 31.1 TFLOPS at 1280 ch @ 32x32, split 3), 4-wide warps (32.5), 128x256 (30.9)
// and, in the first sweeps, 64x256 and 128x64; 64x128 wins where cout = 320 would waste 1/6 of a 128 tile
// (320 ch @ 128x32: 28.3 against 24.8 for the best r128).
export const REG_TILES: Record<RegTileName, RegTile> = {
  r128: { WG_X: 16, WG_Y: 8, BK: 16, STAGES: 1, WARP_X: 8 }, // 128 ch x 128 px, 128 threads, 16 KiB
  r64x128: { WG_X: 16, WG_Y: 4, BK: 8, STAGES: 2, WARP_X: 8 }, // 64 x 128, 64 threads, 12 KiB
};

export function regTileSize(t: RegTile): { bm: number; bn: number; threads: number; sharedBytes: number } {
  const bm = 16 * t.WG_Y, bn = 8 * t.WG_X;
  return { bm, bn, threads: t.WG_X * t.WG_Y, sharedBytes: t.STAGES * t.BK * ((bm + bn) / 4) * 16 };
}

/** Why conv2d_gemm_r16x8.wgsl cannot run `t` (its header's constraints), or null. */
export function regTileError(t: RegTile): string | null {
  const { bm, bn, threads, sharedBytes } = regTileSize(t);
  if (t.BK <= 0 || t.BK % 8 !== 0) return 'BK must be a positive multiple of 8';
  if (t.STAGES !== 1 && t.STAGES !== 2) return 'STAGES must be 1 or 2';
  const aLoads = (bm * t.BK) / 4 / threads, bLoads = (bn * t.BK) / 4 / threads;
  if (![1, 2, 3, 4].includes(aLoads) || ![1, 2, 3, 4].includes(bLoads)) return 'A and B need 1..4 quads per thread per tile';
  if (threads % (bn / 4) !== 0) return 'threads must be a multiple of BN / 4';
  if (t.WARP_X > 0 && (![4, 8, 16].includes(t.WARP_X) || t.WG_X % t.WARP_X !== 0 || t.WG_Y % (32 / t.WARP_X) !== 0)) {
    return 'warp tiling needs WARP_X in {4, 8, 16}, WG_X % WARP_X == 0, WG_Y % (32 / WARP_X) == 0';
  }
  if (threads > 256) return 'over 256 invocations per workgroup';
  if (sharedBytes > 16384) return 'over 16 KiB of workgroup memory';
  return null;
}

export function checkRegTile(t: RegTile): void {
  const e = regTileError(t);
  if (e) throw new Error(`conv2d: unsupported r16x8 tile ${JSON.stringify(t)}: ${e}`);
}

/** K per split (a multiple of BK) and the number of non-empty splits for a requested split count. */
export function splitKSize(t: RegTile, kTot: number, splitK: number): { kSplit: number; splits: number } {
  if (splitK <= 1) return { kSplit: kTot, splits: 1 };
  const kSplit = Math.ceil(Math.ceil(kTot / splitK) / t.BK) * t.BK;
  return { kSplit, splits: Math.ceil(kTot / kSplit) };
}

// The split-K / tile model, fitted to the H200 sweep (bench/results/conv-gemm-sweep-full-nvidia-h200-2026-11-29:
// r128 and r64x128 at every split count on 21 U-Net conv shapes). Predicted speed, as a fraction of r128's
// with every SM full:
//  - occupancy: workgroups W run in waves of `slots` resident ones (132 SMs x 2 r128 / x 4 r64x128);
//    W / (waves * slots), e.g. r128 at 1280 ch @ 32x32 = 80 tiles: split 3 = 240 workgroups 33.5 TFLOPS,
//    split 4 = 320 (two waves) 23.0, split 6 = 480 32.8. A wave of at most one workgroup per SM runs each
//    ~1.35x faster (80 workgroups: 15.0 TFLOPS, not 80/264 of 36.8): W / (0.742 * slots) there.
//  - each workgroup's fixed cost ~ 100 k steps: kSplit / (kSplit + 100) (1x1 1280 -> 3840 @ 32x32: split
//    1, 2, 4 = 38.3, 33.6, 30.7 TFLOPS per full-wave fraction);
//  - the work wasted rounding cout and P up to the tile; and the tile's own speed (r64x128: 0.87).
// Only counts the sweep measured (splits in SPLITS, at most MAX_WGS workgroups) are considered. On a GPU
// with another SM count the split is merely less well chosen (correctness does not depend on it).
const SPLITS = [1, 2, 3, 4, 6, 8, 12, 16];
const MAX_WGS = 1400; // workgroups (tiles x splits) the sweep went up to
const MIN_KSPLIT = 256; // K per slice below which splitting is not tried
const TILE_MODEL: Record<RegTileName, { slots: number; speed: number }> = {
  r128: { slots: 264, speed: 1 },
  r64x128: { slots: 528, speed: 0.87 },
};

/** Predicted fraction of r128's full-GPU speed for tile `name` at split count `splitK` (the model above). */
export function regEfficiency(name: RegTileName, cout: number, pixels: number, kTot: number, splitK: number): number {
  const t = REG_TILES[name];
  const { slots, speed } = TILE_MODEL[name];
  const { bm, bn } = regTileSize(t);
  const tiles = Math.ceil(cout / bm) * Math.ceil(pixels / bn);
  const { kSplit, splits } = splitKSize(t, kTot, splitK);
  const wgs = tiles * splits;
  const occupancy = wgs <= slots / 2 ? wgs / (0.742 * slots) : wgs / (Math.ceil(wgs / slots) * slots);
  const pad = (cout * pixels) / (tiles * bm * bn);
  return speed * occupancy * pad * (kSplit / (kSplit + 100));
}

/** The split count for tile `name` with the best predicted efficiency (regEfficiency). */
export function pickSplitK(name: RegTileName, cout: number, pixels: number, kTot: number): number {
  const { bm, bn } = regTileSize(REG_TILES[name]);
  const tiles = Math.ceil(cout / bm) * Math.ceil(pixels / bn);
  let best = 1, bestEff = -1;
  for (const sk of SPLITS) {
    if (sk > 1 && (kTot / sk < MIN_KSPLIT || tiles * sk > MAX_WGS)) break;
    const eff = regEfficiency(name, cout, pixels, kTot, sk);
    if (eff > bestEff + 1e-9) [best, bestEff] = [sk, eff];
  }
  return best;
}

/**
 * What 'gemm' runs for a shape: the r16x8 tile and split with the best predicted efficiency (on the
 * H200 sweep the pick was the fastest r128 / r64x128 variant measured on every U-Net shape), except:
 * K < 64, where the old conv2d_gemm.wgsl measured faster (conv_in, 4 -> 320: 10.9 vs 8.7 TFLOPS; the
 * r16x8 loop's prologue and epilogue dominate); and shapes the U-Net does not have, which stay on the old
 * kernel because the r16x8 unit tests (each pipeline ~10 s of lavapipe compile) do not cover them: kernel
 * sizes other than 1 and 3, and 1x1 convs without B_MODE 2's vec4 rows (stride 2, padding, P % 4 != 0).
 */
export function pickConv2d(s: Conv2dShape): { kernel: RegTileName | GemmTileName; splitK: number } {
  const { outRows, outW } = conv2dOutSize(s);
  const pixels = outRows * outW;
  const kTot = s.cin * s.k * s.k;
  if (kTot < 64 || (s.k !== 1 && s.k !== 3) || (s.k === 1 && !vec4Rows(s, pixels))) {
    return { kernel: pickGemmTile(s.cout, pixels), splitK: 1 };
  }
  let best = { kernel: 'r128' as RegTileName, splitK: 1 }, bestEff = -1;
  for (const name of Object.keys(REG_TILES) as RegTileName[]) {
    const splitK = pickSplitK(name, s.cout, pixels, kTot);
    const eff = regEfficiency(name, s.cout, pixels, kTot, splitK);
    if (eff > bestEff + 1e-9) [best, bestEff] = [{ kernel: name, splitK }, eff];
  }
  return best;
}

/** B_MODE 2's condition: a 1x1, stride-1, unpadded conv whose B rows (= input rows) are whole vec4s. */
function vec4Rows(s: Conv2dShape, pixels: number): boolean {
  return s.k === 1 && s.stride === 1 && s.padW === 0 && pixels % 4 === 0;
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

const isRegTile = (k: string): k is RegTileName => k in REG_TILES;

/** Encode out = conv(input) on the GPU; returns a pooled buffer [cout, outRows, outW] the caller frees. */
export function conv2d(
  gpu: Gpu,
  input: GPUBuffer, // [cin, inRows, width]
  weight: GPUBuffer, // [cout, cin, k, k]
  bias: GPUBuffer, // [cout]
  s: Conv2dShape,
  kernel: Conv2dKernel = 'auto',
  opts: Conv2dOptions = {},
): GPUBuffer {
  if (s.stride !== 1 && s.stride !== 2) throw new Error(`conv2d: stride ${s.stride} not supported (1 or 2)`);
  const { outRows, outW } = conv2dOutSize(s);
  const pixels = outRows * outW;
  const kTot = s.cin * s.k * s.k;
  let kind = kernel === 'auto' ? autoKernel : kernel;
  let splitK = opts.splitK;
  // r16x8 binds weight and input as vec4 arrays: their buffers must be whole vec4s (Gpu.alloc / upload
  // round up to 16 bytes; a buffer from elsewhere may not)
  const vec4Bufs = weight.size % 16 === 0 && input.size % 16 === 0;
  if (kind === 'gemm') {
    const pick = pickConv2d(s);
    kind = isRegTile(pick.kernel) && !vec4Bufs ? pickGemmTile(s.cout, pixels) : pick.kernel;
    splitK ??= pick.splitK;
  }
  if (isRegTile(kind) && !vec4Bufs) throw new Error('conv2d: r16x8 needs weight and input buffers sized to whole vec4s');
  const out = gpu.alloc(s.cout * pixels * 4, 'conv2d.out'); // [cout, outRows, outW]
  const extra = opts.add;
  if (extra) {
    const want = extra.per === 'channel' ? s.cout * 4 : s.cout * pixels * 4;
    if (extra.buf.size < want) throw new Error(`conv2d: the ${extra.per} term's buffer has ${extra.buf.size} bytes, needs ${want}`);
    if (extra.buf === out) throw new Error('conv2d: the added term cannot be the output');
  }
  const params = new Uint32Array([s.cin, s.cout, s.inRows, s.width, s.k, s.stride, s.padW, outRows, outW]);
  let added = false; // the term went into the split-K reduction
  if (kind === 'direct') {
    gpu.run(KERNEL, params, [input, weight, bias, out], [Math.ceil(pixels / 64), s.cout]);
  } else if (isRegTile(kind)) {
    splitK ??= pickSplitK(kind, s.cout, pixels, kTot);
    added = regConv(gpu, [input, weight, bias, out], s, opts.tile ?? REG_TILES[kind], splitK, { outRows, outW, pixels, kTot }, opts.bMode, extra);
  } else {
    const t = GEMM_TILES[kind];
    checkGemmTile(t);
    const kern: Kernel = { code: gemmCode, file: GEMM_FILE, constants: { ...t, KS: s.k } };
    // pixel tiles fold into z past 65535 per dimension (the shader maps tile = z * x + wg.x)
    const [x, z] = foldGroups(Math.ceil(pixels / (t.WG_X * t.TN)));
    gpu.run(kern, params, [input, weight, bias, out], [x, Math.ceil(s.cout / (t.WG_Y * t.TM)), z]);
  }
  if (!extra || added) return out;
  // not fused (no split-K here): the term's own kernel after the conv (out + term, as fused)
  const sum = extra.per === 'channel' ? channelAdd(gpu, out, extra.buf, s.cout, pixels) : addK(gpu, out, extra.buf, s.cout * pixels); // [cout, P]
  gpu.free(out);
  return sum;
}

/** conv2d_gemm_r16x8.wgsl into out, through a split-K scratch + conv2d_splitk_reduce.wgsl when splitting;
 *  true when `extra` was added in that reduction (the caller adds it otherwise). */
function regConv(
  gpu: Gpu,
  [input, weight, bias, out]: GPUBuffer[], // [cin, inRows, width], [cout, K], [cout], [cout, P]
  s: Conv2dShape,
  t: RegTile,
  splitK: number,
  d: { outRows: number; outW: number; pixels: number; kTot: number },
  bMode?: 0 | 2,
  extra?: Conv2dOptions['add'],
): boolean {
  checkRegTile(t);
  // The B loader (the shader's B_MODE): 2 = B is the input itself (1x1, stride 1, no padding, vec4
  // rows), 0 = the im2col gather (any shape).
  const can2 = vec4Rows(s, d.pixels);
  if (bMode === 2 && !can2) throw new Error(`conv2d: B_MODE 2 cannot run ${JSON.stringify(s)}`);
  const B_MODE = bMode ?? (can2 ? 2 : 0);
  const { bm, bn } = regTileSize(t);
  const nTM = Math.ceil(s.cout / bm);
  const slice = Math.ceil((s.cout * d.pixels) / 4) * 4; // floats per split in the scratch (vec4-aligned)
  // The scratch must stay bindable, and y = nTM * splits within 65535.
  const maxSplits = Math.max(1, Math.min(
    Math.floor(gpu.report.limits.maxStorageBufferBindingSize / (slice * 4)), Math.floor(MAX_WORKGROUPS_PER_DIM / nTM)));
  const want = Math.min(splitK, maxSplits);
  const { kSplit, splits } = splitKSize(t, d.kTot, want);
  const aVec = d.kTot % 4 === 0 ? 1 : 0; // weight rows are whole vec4s
  const params = new Uint32Array([s.cin, s.cout, s.inRows, s.width, s.k, s.stride, s.padW, d.outRows, d.outW, kSplit, slice, aVec]);
  const kern: Kernel = { code: regCode, file: REG_FILE, constants: { ...t, KS: s.k, B_MODE } };
  // pixel tiles fold into z past 65535 per dimension (the shader maps tile = z * x + wg.x)
  const [x, z] = foldGroups(Math.ceil(d.pixels / bn));
  const grid: [number, number, number] = [x, nTM * splits, z];
  // binding 5: the input again, as vec4s (B_MODE 2)
  if (splits === 1) {
    gpu.run(kern, params, [input, weight, bias, out, input], grid);
    return false;
  }
  // A per-channel term needs whole vec4s per channel in the reduction (P % 4 == 0); else the caller adds it.
  const fuse = extra !== undefined && (extra.per === 'element' || d.pixels % 4 === 0);
  const part = gpu.alloc(splits * slice * 4, 'conv2d.splitk'); // [splits, slice]
  gpu.run(kern, params, [input, weight, bias, part, input], grid);
  const n4 = slice / 4;
  const groups = foldGroups(Math.ceil(n4 / 256));
  if (fuse) {
    const reduce = { ...REDUCE, entryPoint: 'main_add', constants: { ADD_MODE: extra.per === 'channel' ? 1 : 0 } };
    gpu.run(reduce, new Uint32Array([n4, splits, n4, d.pixels / 4]), [part, out, extra.buf], groups);
  } else {
    gpu.run(REDUCE, new Uint32Array([n4, splits, n4, 0]), [part, out], groups);
  }
  gpu.free(part); // reuse inside the same encoder is safe: commands run in encoding order
  return fuse;
}
