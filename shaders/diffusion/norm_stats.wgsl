// Partial GroupNorm/LayerNorm statistics over the LOCAL rows of a patch: per group, the sum and
// the sum of squares (not mean/var), so peers can add their partials into exact global
// statistics or correct stale ones (DistriFusion). LayerNorm over (C,H,W) is groups = 1.
//
// Bindings: 0 Params (uniform), 1 x [channels, rows, width], 2 partial [groups, chunks, 2].
// Dispatch: x = chunks, y = groups; workgroup (chunk, g) reduces elements
//   [chunk*chunkLen, (chunk+1)*chunkLen) of group g's cpg*rows*width contiguous elements.
// The host adds the `chunks` partials in float64.

struct Params {
  groupElems: u32, // (channels / groups) * rows * width; group g starts at g * groupElems
  chunks: u32,
  chunkLen: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

const WG: u32 = 256u;
var<workgroup> ssum: array<f32, 256>;
var<workgroup> ssq: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x;
  let g = wid.y;
  let start = chunk * p.chunkLen;
  let end = min(start + p.chunkLen, p.groupElems);
  var s = 0.0;
  var q = 0.0;
  for (var i = start + lid; i < end; i += WG) {
    let v = x[g * p.groupElems + i];
    s += v;
    q += v * v;
  }
  ssum[lid] = s;
  ssq[lid] = q;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      ssum[lid] += ssum[lid + stride];
      ssq[lid] += ssq[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    partial[(g * p.chunks + chunk) * 2u] = ssum[0];
    partial[(g * p.chunks + chunk) * 2u + 1u] = ssq[0];
  }
}
