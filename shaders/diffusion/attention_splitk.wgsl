// Sum of the output GEMM's split-K partials into the attention output's columns of one query chunk
// (src/kernels/diffusion/attention-gemm.ts):
//   out[oBase + r * ldo + i] = sum_{z < splits} part[z * zStride + r * ldp + i]   (r < rows, i < cols)
// With rows = c, cols = the chunk's queries, oBase = q0, ldo = lq: the chunk lands in out [c, lq].
//
// Bindings: 0 Params, 1 part (read) [splits, rows, ldp], 2 out (read_write).
// Dispatch: g = ceil(rows * cols / 256) workgroups of 256 as x = xGroups = min(g, 65535),
//           y = ceil(g / x); element = (wid.y * xGroups + wid.x) * 256 + lid.

struct Params {
  rows: u32,
  cols: u32,
  ldp: u32,
  splits: u32,
  zStride: u32,
  oBase: u32,
  ldo: u32,
  xGroups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * p.xGroups + wid.x) * 256u + lid;
  if (e >= p.rows * p.cols) {
    return;
  }
  let r = e / p.cols;
  let i = e - r * p.cols;
  var acc = 0.0;
  for (var z = 0u; z < p.splits; z++) { acc += part[z * p.zStride + r * p.ldp + i]; }
  outp[p.oBase + r * p.ldo + i] = acc;
}
