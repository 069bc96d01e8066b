// GroupNorm statistics of a row patch combined with the other peers' (DistriFusion), on the GPU so
// an async step never reads back: from this patch's two-pass [mean, var] per group
// (group_norm_stats.wgsl with FINALIZE = 0) it writes
//   sums[sumsOff + 2g .. +1] = this patch's [sum, sumsq] (the comm segment's wire format), and
//   outp[2g .. +1]           = [mean, rstd] for norm_apply.wgsl, per MODE:
// Override MODE: 0 local      - this patch's statistics only (no_sync, or just producing the sums);
//                1 exact      - every rank's sums of THIS step from `ranks` (after a synchronous gather);
//                2 stale_gn   - the other ranks' previous-step sums from `ranks` + this patch's fresh sums;
//                3 corrected  - stale global + (fresh local - stale local) in means, falling back to
//                               the local statistics where the extrapolated variance is negative.
// Modes 1..3 compute E[x^2] - mean^2 from sums (what travels), as src/parallel/patch-stats.ts does.
// Rank p's sums are ranks[bases[p] + 2g .. +1]; counts[p] = elements per group on rank p.
// Bindings: 0 Params, 1 localMv [groups, 2], 2 ranks (any read buffer when MODE = 0),
//           3 sums (read_write, >= sumsOff + 2 groups), 4 outp [groups, 2] (read_write).
// Limits: nPeers <= 16. Dispatch: x = ceil(groups / 64).

override MODE: u32 = 0u;

struct Params {
  groups: u32,
  nPeers: u32,
  rank: u32,
  sumsOff: u32,
  eps: f32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
  counts: array<vec4<f32>, 4>, // counts[p / 4][p % 4]
  bases: array<vec4<u32>, 4>, // bases[p / 4][p % 4]
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> localMv: array<f32>;
@group(0) @binding(2) var<storage, read> ranks: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<storage, read_write> outp: array<f32>;

fn countOf(r: u32) -> f32 {
  return p.counts[r / 4u][r % 4u];
}

fn baseOf(r: u32) -> u32 {
  return p.bases[r / 4u][r % 4u];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  if (g >= p.groups) {
    return;
  }
  let nMe = countOf(p.rank);
  let fm = localMv[2u * g]; // fresh local mean
  let fv = localMv[2u * g + 1u]; // fresh local (two-pass) variance
  let f2 = fv + fm * fm; // fresh local E[x^2]
  sums[p.sumsOff + 2u * g] = fm * nMe;
  sums[p.sumsOff + 2u * g + 1u] = f2 * nMe;
  var m = fm;
  var v = fv;
  if (MODE != 0u) {
    var s = 0.0;
    var q = 0.0;
    var nAll = 0.0;
    for (var r = 0u; r < p.nPeers; r++) {
      nAll += countOf(r);
      if (MODE == 2u && r == p.rank) {
        s += fm * nMe; // stale_gn: our own contribution is fresh
        q += f2 * nMe;
      } else {
        s += ranks[baseOf(r) + 2u * g];
        q += ranks[baseOf(r) + 2u * g + 1u];
      }
    }
    m = s / nAll;
    var e2 = q / nAll;
    if (MODE == 3u) {
      let b = baseOf(p.rank);
      m += fm - ranks[b + 2u * g] / nMe;
      e2 += f2 - ranks[b + 2u * g + 1u] / nMe;
    }
    v = e2 - m * m;
    if (MODE == 3u && v < 0.0) {
      m = fm;
      v = fv;
    }
  }
  outp[2u * g] = m;
  outp[2u * g + 1u] = 1.0 / sqrt(max(v, 0.0) + p.eps);
}
