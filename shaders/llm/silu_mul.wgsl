// SwiGLU activation in place: g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i].
// Bindings: 0 uniform Params {n}   1 g: array<f32> [n] (read-write)   2 u: array<f32> [n]
// Dispatch: ceil(n / 256) workgroups of 256 (2-D grid when large).

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * nwg.x) * 256u + li;
  if (i >= p.n) { return; }
  let v = g[i];
  g[i] = v / (1.0 + exp(-v)) * u[i];
}
