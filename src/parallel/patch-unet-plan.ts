// DistriFusion plan for fm-unet (docs/unet-spec.md): row patches aligned to 2^(levels-1) rows so
// every resolution level splits on whole rows, and the ONE flat per-step comm buffer's layout
// (src/parallel/patch-plan.ts's CommRegistry) with a segment per exchanging layer:
//   halo  - 1 boundary row above/below of every 3x3 conv input (after the resolution change for
//           the upsample conv), [nb, C, W_l] with nb = 1 or 2 boundary rows (first, last);
//   stats - every GroupNorm's local per-group [sum, sumsq] (float32 on the wire), [groups, 2];
//   kv    - every attention's local keys and values [2c, rows_l * W_l] (channel-major).
// conv_in needs no segment: its input (the latent) is replicated on every peer.
import type { UnetModel } from '../model/unet/config';
import { CommRegistry, splitRows, type RowRange } from './patch-plan';

export interface UnetPatchPlan {
  size: number; // H = W at level 0
  nPeers: number;
  levels: number;
  ranges: RowRange[][]; // [level][rank] rows at that level (level l has size / 2^l rows)
  registry: CommRegistry;
  seg: Map<string, number>; // layer key -> segment index
}

/** Rows per peer at level 0 are multiples of 2^(levels-1) (4 for fm-unet): at most size / 4 peers. */
export function unetRowRanges(size: number, levels: number, nPeers: number): RowRange[][] {
  const unit = 2 ** (levels - 1);
  if (size % unit !== 0) throw new Error(`unet patch plan: size ${size} is not a multiple of ${unit}`);
  if (!Number.isInteger(nPeers) || nPeers < 1 || nPeers > size / unit) {
    throw new Error(`unet patch plan: ${nPeers} peers cannot split ${size} rows into ${unit}-row aligned patches (max ${size / unit})`);
  }
  const units = splitRows(size / unit, nPeers);
  const out: RowRange[][] = [];
  for (let l = 0; l < levels; l++) {
    const f = unit / 2 ** l; // level-l rows per unit
    out.push(units.map(([a, b]) => [a * f, b * f]));
  }
  return out;
}

/** Boundary rows of a patch with `rows` rows: first and last (one when rows == 1). */
export function boundaryCount(rows: number): number {
  return rows === 1 ? 1 : 2;
}

/** Layer keys, in forward order, with what each exchanges (mirrors src/model/unet/reference.ts). */
export interface UnetPatchLayer {
  key: string; // e.g. 'down.1.res.conv1' (halo), 'down.1.res.norm1' (stats), 'mid.attn' (kv)
  kind: 'halo' | 'stats' | 'kv';
  channels: number; // C of the halo input / GroupNorm input / attention c
  level: number;
}

export function unetPatchLayers(model: UnetModel): UnetPatchLayer[] {
  const out: UnetPatchLayer[] = [];
  const res = (name: string, cin: number, cout: number, level: number) => {
    out.push({ key: `${name}.norm1`, kind: 'stats', channels: cin, level });
    out.push({ key: `${name}.conv1`, kind: 'halo', channels: cin, level });
    out.push({ key: `${name}.norm2`, kind: 'stats', channels: cout, level });
    out.push({ key: `${name}.conv2`, kind: 'halo', channels: cout, level });
  };
  const attn = (name: string, c: number, level: number) => {
    out.push({ key: `${name}.norm`, kind: 'stats', channels: c, level });
    out.push({ key: name, kind: 'kv', channels: c, level });
  };
  const L = model.down.length;
  model.down.forEach((d, l) => {
    res(d.res.name, d.res.cin, d.res.cout, l);
    if (d.attn) attn(d.attn.name, d.attn.c, l);
    if (d.down) out.push({ key: `down.${l}.down`, kind: 'halo', channels: d.res.cout, level: l });
  });
  res(model.mid.res1.name, model.mid.res1.cin, model.mid.res1.cout, L - 1);
  attn(model.mid.attn.name, model.mid.attn.c, L - 1);
  res(model.mid.res2.name, model.mid.res2.cin, model.mid.res2.cout, L - 1);
  for (let l = L - 1; l >= 0; l--) {
    const u = model.up[l];
    res(u.res.name, u.res.cin, u.res.cout, l);
    if (u.attn) attn(u.attn.name, u.attn.c, l);
    if (u.up) out.push({ key: `up.${l}.up`, kind: 'halo', channels: u.res.cout, level: l - 1 }); // conv after the x2
  }
  out.push({ key: 'out.norm', kind: 'stats', channels: model.outNorm.c, level: 0 });
  out.push({ key: 'out.conv', kind: 'halo', channels: model.outNorm.c, level: 0 });
  return out;
}

/** Segment key of `key` in CFG branch b (0 = the conditional pass, 1 = the null-class pass). */
export const branchKey = (b: number, key: string): string => `b${b}:${key}`;

/**
 * Register every layer's segment for every rank, once per CFG branch (1, or 2 when the guidance
 * weight is not 1: both passes keep their own stale state but still share ONE flat buffer per step),
 * and freeze the layout.
 */
export function buildUnetPatchPlan(model: UnetModel, nPeers: number, branches = 1): UnetPatchPlan {
  const { size, groups } = model.config;
  const levels = model.down.length;
  const ranges = unetRowRanges(size, levels, nPeers);
  const registry = new CommRegistry(nPeers);
  const seg = new Map<string, number>();
  for (let br = 0; br < branches; br++) {
    for (const ly of unetPatchLayers(model)) {
      const W = size >> ly.level;
      const sizes = ranges[ly.level].map(([a, b]) => {
        if (ly.kind === 'halo') return boundaryCount(b - a) * ly.channels * W;
        if (ly.kind === 'stats') return 2 * groups;
        return 2 * ly.channels * (b - a) * W;
      });
      const key = branchKey(br, ly.key);
      if (seg.has(key)) throw new Error(`unet patch plan: duplicate layer key '${key}'`);
      seg.set(key, registry.register(key, ly.kind, sizes));
    }
  }
  registry.freeze();
  return { size, nPeers, levels, ranges, registry, seg };
}

/** This patch's boundary rows of x [C, rows, W] as [nb, C, W] (first row, then last row). */
export function packHalo(x: Float32Array, C: number, rows: number, W: number, dst: Float32Array): void {
  const picks = rows === 1 ? [0] : [0, rows - 1];
  picks.forEach((r, j) => {
    for (let c = 0; c < C; c++) dst.set(x.subarray((c * rows + r) * W, (c * rows + r + 1) * W), (j * C + c) * W);
  });
}

/**
 * The conv tile [C, rows + 2, W]: local rows in the middle, the row above from the previous rank's
 * halo segment (its last boundary row), the row below from the next rank's (its first); zero at the
 * image edges or where a segment is null (no_sync).
 */
export function haloTile(
  x: Float32Array, // [C, rows, W]
  C: number,
  rows: number,
  W: number,
  above: Float32Array | null, // previous rank's [nb, C, W] or null
  below: Float32Array | null, // next rank's [nb, C, W] or null
): Float32Array {
  const R = rows + 2;
  const tile = new Float32Array(C * R * W); // [C, rows+2, W]
  for (let c = 0; c < C; c++) {
    tile.set(x.subarray(c * rows * W, (c + 1) * rows * W), (c * R + 1) * W);
    if (above) {
      const j = above.length / (C * W) - 1; // its last boundary row
      tile.set(above.subarray((j * C + c) * W, (j * C + c + 1) * W), c * R * W);
    }
    if (below) tile.set(below.subarray(c * W, (c + 1) * W), (c * R + R - 1) * W);
  }
  return tile;
}

/** Full-image K/V [2c, H*W] from every rank's [2c, rows_p * W] part (rank order = row order). */
export function assembleKv(parts: ArrayLike<number>[], ranges: RowRange[], c: number, H: number, W: number): Float32Array {
  const kv = new Float32Array(2 * c * H * W); // [2c, H*W]
  parts.forEach((part, p) => {
    const [a, b] = ranges[p];
    const n = (b - a) * W;
    for (let ch = 0; ch < 2 * c; ch++) {
      for (let i = 0; i < n; i++) kv[ch * H * W + a * W + i] = part[ch * n + i];
    }
  });
  return kv;
}
