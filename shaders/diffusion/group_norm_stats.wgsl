// GroupNorm statistics of a [C, rows, W] tensor entirely on the GPU (no read-back between layers):
// one workgroup per (chunk, group), two passes over its elements (mean, then the centred sum of
// squares) so the variance has no E[x^2] - mean^2 cancellation. The group's channels are contiguous:
// group g covers elements [g * groupElems, (g + 1) * groupElems); chunk c of it is
// [c * chunkElems, min((c + 1) * chunkElems, groupElems)).
//  - chunks = 1 (small groups): out[g] = the group's statistics, as FINALIZE says.
//  - chunks > 1: out[g, c] = [count, mean, M2, 0] of each chunk, merged per group by
//    group_norm_merge.wgsl. Why chunks: one workgroup per group is 32 workgroups for the U-Net's
//    GroupNorm(32), which left most of an H200 idle (4.5 of a 1024-px forward's 42.5 ms,
//    bench/results/unet-forward-profile-ab-old-*).
// Override FINALIZE (chunks = 1): 1 -> out[g] = [mean, 1 / sqrt(var + eps)] (what norm_apply.wgsl reads);
//                    0 -> out[g] = [mean, var] of these rows only (biased), for patch-parallel peers
//                         that combine local moments with other peers' (fresh or stale) moments.
// Bindings: 0 Params, 1 x [groups * groupElems], 2 out [groups, 2] (chunks = 1) or [groups, chunks, 4].
// Dispatch: x = chunks, y = groups; workgroup size 256.

override FINALIZE: u32 = 1u;

struct Params {
  groupElems: u32,
  chunkElems: u32,
  chunks: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

// tree sum of red[0..WG) into red[0]; called from uniform control flow
fn reduce(lid: u32) {
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let g = wid.y;
  let lo = c * p.chunkElems;
  let hi = min(lo + p.chunkElems, p.groupElems);
  let base = g * p.groupElems;
  let cnt = f32(hi - lo);
  var s = 0.0;
  for (var i = lo + lid; i < hi; i += WG) {
    s += x[base + i];
  }
  red[lid] = s;
  workgroupBarrier();
  reduce(lid);
  let mean = red[0] / cnt;
  workgroupBarrier(); // everyone has read red[0] before it is overwritten
  var q = 0.0;
  for (var i = lo + lid; i < hi; i += WG) {
    let d = x[base + i] - mean;
    q += d * d;
  }
  red[lid] = q;
  workgroupBarrier();
  reduce(lid);
  if (lid != 0u) {
    return;
  }
  if (p.chunks == 1u) {
    let v = red[0] / cnt;
    outp[2u * g] = mean;
    outp[2u * g + 1u] = select(v, 1.0 / sqrt(v + p.eps), FINALIZE == 1u);
  } else {
    let o = 4u * (g * p.chunks + c);
    outp[o] = cnt;
    outp[o + 1u] = mean;
    outp[o + 2u] = red[0];
    outp[o + 3u] = 0.0;
  }
}
