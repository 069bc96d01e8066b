// RMSNorm for CPU-backed adapters: one thread per row, no barriers (see matvec_rows.wgsl for why).
// y[r, i] = x[r, i] * w[i] / sqrt(mean_i(x[r, :]^2) + eps).
// Bindings: 0 uniform Params {rows, dim, eps}
//           1 x: array<f32> [rows, dim]   2 w: array<f32> [dim]   3 y: array<f32> [rows, dim] (may not alias x)
// Dispatch: ceil(rows / WG) workgroups of WG threads; row r = global index.

override WG: u32 = 64u;

struct Params { rows: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = (wg.x + wg.y * nwg.x) * WG + li;
  if (r >= p.rows) { return; }
  let base = r * p.dim;
  var ss = 0.0;
  for (var i = 0u; i < p.dim; i++) { let v = x[base + i]; ss += v * v; }
  let inv = inverseSqrt(ss / f32(p.dim) + p.eps);
  for (var i = 0u; i < p.dim; i++) { y[base + i] = x[base + i] * inv * w[i]; }
}
