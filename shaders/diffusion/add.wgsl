// Elementwise y = a + b (U-Net residual connections).
// Bindings: 0 Params { n }, 1 a [n], 2 b [n], 3 y [n]. Dispatch: x = ceil(n / 64).

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.n) {
    return;
  }
  y[i] = a[i] + b[i];
}
