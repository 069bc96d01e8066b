// The displaced-patch-parallel plan (DistriFusion, arXiv 2402.19481): which rows each peer owns,
// which boundary rows / statistics each layer exchanges, and the layout of the ONE flat comm
// buffer a peer sends per step (like distrifuser's PatchParallelismCommManager: every layer
// registers a segment, the buffer is all-gathered once when the step's forward has filled it).
//
// Layout is mode-independent and known to every peer for every rank, so a receiver can find any
// rank's segment in that rank's gathered buffer without extra metadata.

export type PatchMode = 'full_sync' | 'corrected_async_gn' | 'stale_gn' | 'sync_gn' | 'no_sync';
export const PATCH_MODES: PatchMode[] = ['full_sync', 'corrected_async_gn', 'stale_gn', 'sync_gn', 'no_sync'];

// 'attn_x': an attention's normalised input rows [c, rows*W]; receivers project them to K/V themselves
export type SegmentKind = 'halo' | 'stats' | 'kv' | 'attn_x';

export interface Segment {
  name: string; // e.g. 'block2.halo', 'block2.stats', 'attn1.kv'
  kind: SegmentKind;
  sizes: number[]; // floats per rank (halo and kv sizes differ with uneven splits)
  offsets: number[]; // float offset of this segment inside each rank's flat buffer
}

/** Registry of per-layer segments; `freeze()` fixes every rank's flat-buffer layout. */
export class CommRegistry {
  readonly segments: Segment[] = [];
  private totals: number[];
  private frozen = false;
  constructor(readonly nPeers: number) {
    this.totals = new Array(nPeers).fill(0);
  }
  /** Append a segment (sizes[rank] floats for each rank); returns its index. */
  register(name: string, kind: SegmentKind, sizes: number[]): number {
    if (this.frozen) throw new Error(`patch plan: register('${name}') after freeze`);
    if (sizes.length !== this.nPeers) throw new Error(`patch plan: segment '${name}' needs ${this.nPeers} sizes`);
    const offsets = sizes.map((s, r) => {
      const o = this.totals[r];
      this.totals[r] += s;
      return o;
    });
    this.segments.push({ name, kind, sizes, offsets });
    return this.segments.length - 1;
  }
  freeze(): this {
    this.frozen = true;
    return this;
  }
  total(rank: number): number {
    return this.totals[rank];
  }
  /** View of `rank`'s part of segment `seg` inside that rank's flat buffer. */
  view(buf: Float32Array, seg: number, rank: number): Float32Array {
    const s = this.segments[seg];
    return buf.subarray(s.offsets[rank], s.offsets[rank] + s.sizes[rank]);
  }
}

export type RowRange = [number, number]; // [r0, r1)

/** Split `height` rows across n peers as evenly as possible; the first height % n peers get one more. */
export function splitRows(height: number, n: number): RowRange[] {
  if (!Number.isInteger(n) || n < 1 || n > height) throw new Error(`patch plan: cannot split ${height} rows over ${n} peers`);
  const base = Math.floor(height / n);
  const extra = height % n;
  const out: RowRange[] = [];
  let r = 0;
  for (let p = 0; p < n; p++) {
    const len = base + (p < extra ? 1 : 0);
    out.push([r, r + len]);
    r += len;
  }
  return out;
}

/**
 * Rows of [r0, r1) that neighbours may need as a halo of radius R: the top R and bottom R rows
 * (all rows when the patch is shorter than 2R). A halo row g of another peer lies within R of
 * that peer's patch, hence within R of our edge, so it is always in this set.
 */
export function boundaryRows([r0, r1]: RowRange, radius: number): number[] {
  const rows: number[] = [];
  for (let g = r0; g < r1; g++) if (g < r0 + radius || g >= r1 - radius) rows.push(g);
  return rows;
}

export interface PatchLayer {
  block: number;
  radius: number; // conv halo rows
  cin: number; // channels of the layer input (halo rows carry cin * W floats each)
  cout: number;
  norm: boolean;
  groups: number; // norm groups (LayerNorm over (C,H,W) = 1 group)
  haloSeg: number; // -1 for the first layer: its input (the latent) is replicated on every peer
  statsSeg: number; // -1 without norm
  boundary: number[][]; // per rank: the global rows it sends for this layer's halo
}

export interface PatchPlan {
  height: number;
  width: number;
  nPeers: number;
  ranges: RowRange[];
  layers: PatchLayer[];
  registry: CommRegistry;
}

export interface PlanLayerSpec {
  cin: number;
  cout: number;
  k: number;
  norm: boolean;
  groups?: number;
}

/** Build the plan for a stack of stride-1 'same' convs (+ optional norms) over rows split across peers. */
export function buildPatchPlan(height: number, width: number, nPeers: number, specs: PlanLayerSpec[]): PatchPlan {
  const ranges = splitRows(height, nPeers);
  const registry = new CommRegistry(nPeers);
  const layers = specs.map((s, block): PatchLayer => {
    const radius = (s.k - 1) / 2;
    const boundary = ranges.map((rg) => boundaryRows(rg, radius));
    const groups = s.groups ?? 1;
    const haloSeg = block === 0 ? -1 : registry.register(`block${block}.halo`, 'halo', boundary.map((b) => b.length * s.cin * width));
    const statsSeg = s.norm ? registry.register(`block${block}.stats`, 'stats', ranges.map(() => 2 * groups)) : -1;
    return { block, radius, cin: s.cin, cout: s.cout, norm: s.norm, groups, haloSeg, statsSeg, boundary };
  });
  registry.freeze();
  return { height, width, nPeers, ranges, layers, registry };
}

/** Copy `rank`'s boundary rows of a [C, rows, W] activation into its halo segment: [nb, C, W]... stored row-major per row. */
export function packBoundary(plan: PatchPlan, layer: PatchLayer, rank: number, act: Float32Array, dst: Float32Array): void {
  const [r0, r1] = plan.ranges[rank];
  const W = plan.width;
  const rows = r1 - r0;
  layer.boundary[rank].forEach((g, j) => {
    for (let c = 0; c < layer.cin; c++) {
      dst.set(act.subarray((c * rows + g - r0) * W, (c * rows + g - r0 + 1) * W), (j * layer.cin + c) * W);
    }
  });
}

/**
 * Build the halo-padded input tile [cin, rows + 2R, W] of `rank` for `layer`: interior from the
 * local activation, halo rows from each owner's boundary segment in `gathered` (null = zeros:
 * image edge, or the no_sync baseline). Rows outside the image stay zero ('same' padding).
 */
export function buildTile(
  plan: PatchPlan,
  layer: PatchLayer,
  rank: number,
  act: Float32Array, // [cin, rows, W]
  gathered: Float32Array[] | null, // per rank flat buffers (or per rank halo segments when segLocal)
  segLocal = false,
): Float32Array {
  const [r0, r1] = plan.ranges[rank];
  const R = layer.radius;
  const W = plan.width;
  const rows = r1 - r0;
  const tRows = rows + 2 * R;
  const tile = new Float32Array(layer.cin * tRows * W); // [cin, rows+2R, W]
  for (let c = 0; c < layer.cin; c++) tile.set(act.subarray(c * rows * W, (c + 1) * rows * W), (c * tRows + R) * W);
  if (!gathered) return tile;
  for (let g = r0 - R; g < r1 + R; g++) {
    if ((g >= r0 && g < r1) || g < 0 || g >= plan.height) continue;
    const owner = plan.ranges.findIndex(([a, b]) => g >= a && g < b);
    const j = layer.boundary[owner].indexOf(g);
    const seg = segLocal ? gathered[owner] : plan.registry.view(gathered[owner], layer.haloSeg, owner);
    for (let c = 0; c < layer.cin; c++) {
      tile.set(seg.subarray((j * layer.cin + c) * W, (j * layer.cin + c + 1) * W), (c * tRows + g - r0 + R) * W);
    }
  }
  return tile;
}
