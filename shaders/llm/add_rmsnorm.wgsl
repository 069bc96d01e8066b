// Residual add fused with the next RMSNorm: x[r, :] += d[r, :], then y[r, i] = x[r, i] * w[i] / sqrt(mean_i(x[r, :]^2) + eps).
// One dispatch instead of add.wgsl + rmsnorm.wgsl, with the same arithmetic (so the same bits).
// Bindings: 0 uniform Params {rows, dim, eps}
//           1 x: array<f32> [rows, dim] residual stream (read-write)   2 d: array<f32> [rows, dim] the block's output
//           3 w: array<f32> [dim]   4 y: array<f32> [rows, dim] normed (may not alias x or d)
// Entry points:
//   main: one workgroup of 128 threads per row, row = wg.x + wg.y * num_workgroups.x (GPUs).
//   rows: one thread per row, no barriers, ceil(rows / 64) workgroups of 64 (CPU-backed adapters, see matvec_rows.wgsl).

const WG: u32 = 128u;

struct Params { rows: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; } // workgroup-uniform
  let base = r * p.dim;
  var ss = 0.0;
  for (var i = li; i < p.dim; i += WG) {
    let v = x[base + i] + d[base + i];
    x[base + i] = v; // each element is written and re-read below by the same thread
    ss += v * v;
  }
  red[li] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(p.dim) + p.eps);
  for (var i = li; i < p.dim; i += WG) { y[base + i] = x[base + i] * inv * w[i]; }
}

@compute @workgroup_size(64)
fn rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = (wg.x + wg.y * nwg.x) * 64u + li;
  if (r >= p.rows) { return; }
  let base = r * p.dim;
  var ss = 0.0;
  for (var i = 0u; i < p.dim; i++) {
    let v = x[base + i] + d[base + i];
    x[base + i] = v;
    ss += v * v;
  }
  let inv = inverseSqrt(ss / f32(p.dim) + p.eps);
  for (var i = 0u; i < p.dim; i++) { y[base + i] = x[base + i] * inv * w[i]; }
}
