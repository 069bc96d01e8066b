// DistriFusion plan for fm-unet (docs/unet-spec.md): row patches aligned to 2^(levels-1) rows so
// every resolution level splits on whole rows, and the ONE flat per-step comm buffer's layout
// (src/parallel/patch-plan.ts's CommRegistry) with a segment per exchanging layer:
//   halo  - 1 boundary row above/below of every 3x3 conv input (after the resolution change for
//           the upsample conv), [nb, C, W_l] with nb = 1 or 2 boundary rows (first, last);
//   stats - every GroupNorm's local per-group [sum, sumsq] (float32 on the wire), [groups, 2];
//   attn_x - every attention's local normalised input rows [c, rows_l * W_l] (channel-major): what its
//           K/V projection reads. Its K and V are a 1x1 conv of it, so sending x instead of [K; V]
//           [2c, rows_l * W_l] halves the bulk of the bytes (attention was ~78% of them at 1024 px), and
//           every receiver projects the (stale or gathered) remote x itself with the layer's own
//           weights (kvConv below, the same conv kernel as the local tokens' projection).
// conv_in needs no segment: its input (the latent) is replicated on every peer.
import type { AttnW, Conv, UnetModel } from '../model/unet/config';
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
  key: string; // e.g. 'down.1.res.conv1' (halo), 'down.1.res.norm1' (stats), 'mid.attn' (attn_x)
  kind: 'halo' | 'stats' | 'attn_x';
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
    out.push({ key: name, kind: 'attn_x', channels: c, level });
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
        return ly.channels * (b - a) * W; // attn_x: [c, rows_l * W_l]
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

/** Full-image rows [ch, H*W] from every rank's [ch, rows_p * W] part (rank order = row order). */
export function assembleRows(parts: (ArrayLike<number> | null)[], ranges: RowRange[], ch: number, H: number, W: number): Float32Array {
  const full = new Float32Array(ch * H * W); // [ch, H*W]
  parts.forEach((part, p) => {
    if (!part) return; // that rank's rows stay 0
    const [a, b] = ranges[p];
    const n = (b - a) * W;
    for (let k = 0; k < ch; k++) {
      // typed arrays (every caller's case) by memcpy: this runs twice per DistriFusion step between the
      // GPU's last kernel and the next step's first, and an element loop over a polymorphic ArrayLike
      // took ~3 ms of a 46 ms step at 1024 px
      if (part instanceof Float32Array) full.set(part.subarray(k * n, (k + 1) * n), k * H * W + a * W);
      else for (let i = 0; i < n; i++) full[k * H * W + a * W + i] = part[k * n + i];
    }
  });
  return full;
}

const qkvSplits = new WeakMap<AttnW, { q: Conv; kv: Conv }>();

/**
 * The Q rows [c, c] and the K/V rows [2c, c] of an attention's qkv 1x1 conv [3c, c] (rows q, k, v) as
 * convs of their own, views of the same weights (cached per layer: the GPU uploads a weight array
 * once per identity). Each output of a conv is its own dot product over cin, so projecting with a row
 * slice gives bit for bit what the full qkv conv gives for those rows, on the CPU and the GPU.
 */
export function qkvSplit(a: AttnW): { q: Conv; kv: Conv } {
  let s = qkvSplits.get(a);
  if (!s) {
    const { c, qkv } = a;
    s = {
      q: { cin: c, cout: c, k: 1, w: qkv.w.subarray(0, c * c), b: qkv.b.subarray(0, c) }, // [c, c], [c]
      kv: { cin: c, cout: 2 * c, k: 1, w: qkv.w.subarray(c * c, 3 * c * c), b: qkv.b.subarray(c, 3 * c) }, // [2c, c], [2c]
    };
    qkvSplits.set(a, s);
  }
  return s;
}
