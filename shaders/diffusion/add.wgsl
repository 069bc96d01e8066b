// Elementwise y = a + b (U-Net residual connections).
// Bindings: 0 Params { n, rowLen }, 1 a [n], 2 b [n], 3 y [n].
// Dispatch: g = ceil(n / 64) workgroups as x = min(g, 65535), y = ceil(g / x) (2D past the
// 65535-per-dimension limit: the widened U-Net's [960, 128, 128] residuals are 15.7M floats);
// rowLen = 64 * x is the element stride of one dispatch row.

struct Params {
  n: u32,
  rowLen: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.rowLen + gid.x;
  if (i >= p.n) {
    return;
  }
  y[i] = a[i] + b[i];
}
