// GroupNorm statistics, step 1 of 2 for large groups (group_norm_merge.wgsl is step 2): the moments of
// one chunk of one group, two-pass within the chunk (mean, then the centred sum of squares) so no
// E[x^2] - mean^2 cancellation. Why split: group_norm_stats.wgsl runs one workgroup per group, i.e.
// 32 workgroups for the U-Net's GroupNorm(32), which leave most of a large GPU idle (4.6 of a 1024-px
// forward's 42.5 ms on an H200, bench/results/unet-forward-profile-*); chunks give groups x chunks.
// Group g covers elements [g * groupElems, (g + 1) * groupElems) (its channels are contiguous); chunk
// c of it is [c * chunkElems, min((c + 1) * chunkElems, groupElems)).
// Bindings: 0 Params, 1 x [groups * groupElems], 2 part [groups, chunks, 4] = [count, mean, M2, 0].
// Dispatch: x = chunks, y = groups; workgroup size 256.

struct Params {
  groupElems: u32,
  chunkElems: u32,
  chunks: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

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
  if (lid == 0u) {
    let o = 4u * (g * p.chunks + c);
    part[o] = cnt;
    part[o + 1u] = mean;
    part[o + 2u] = red[0];
    part[o + 3u] = 0.0;
  }
}
