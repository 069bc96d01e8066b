// RMSNorm over rows: y[r, i] = x[r, i] * w[i] / sqrt(mean_i(x[r, :]^2) + eps).
// Bindings: 0 uniform Params {rows, dim, eps}
//           1 x: array<f32> [rows, dim]   2 w: array<f32> [dim]   3 y: array<f32> [rows, dim] (may not alias x)
// Dispatch: one workgroup of 128 threads per row, rows = wg.x + wg.y * num_workgroups.x.

const WG: u32 = 128u;

struct Params { rows: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; } // workgroup-uniform
  let base = r * p.dim;
  var ss = 0.0;
  for (var i = li; i < p.dim; i += WG) { let v = x[base + i]; ss += v * v; }
  red[li] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(p.dim) + p.eps);
  for (var i = li; i < p.dim; i += WG) { y[base + i] = x[base + i] * inv * w[i]; }
}
