// GroupNorm statistics of a [C, rows, W] tensor entirely on the GPU (no read-back between layers):
// one workgroup per group, two passes (mean, then the centred sum of squares) so the variance has
// no E[x^2] - mean^2 cancellation. The group's channels are contiguous: group g covers elements
// [g * groupElems, (g + 1) * groupElems).
//
// Override FINALIZE: 1 -> out[g] = [mean, 1 / sqrt(var + eps)] (what norm_apply.wgsl reads);
//                    0 -> out[g] = [mean, var] of these rows only (biased), for patch-parallel peers
//                         that combine local moments with other peers' (fresh or stale) moments.
// Bindings: 0 Params, 1 x [groups * groupElems], 2 out [groups, 2].
// Dispatch: x = groups; workgroup size 256.

override FINALIZE: u32 = 1u;

struct Params {
  groupElems: u32,
  groups: u32,
  eps: f32,
  _pad: u32,
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
  let g = wid.x;
  let base = g * p.groupElems;
  var s = 0.0;
  for (var i = lid; i < p.groupElems; i += WG) {
    s += x[base + i];
  }
  red[lid] = s;
  workgroupBarrier();
  reduce(lid);
  let mean = red[0] / f32(p.groupElems);
  workgroupBarrier(); // everyone has read red[0] before it is overwritten
  var q = 0.0;
  for (var i = lid; i < p.groupElems; i += WG) {
    let d = x[base + i] - mean;
    q += d * d;
  }
  red[lid] = q;
  workgroupBarrier();
  reduce(lid);
  if (lid == 0u) {
    let v = red[0] / f32(p.groupElems);
    outp[2u * g] = mean;
    outp[2u * g + 1u] = select(v, 1.0 / sqrt(v + p.eps), FINALIZE == 1u);
  }
}
