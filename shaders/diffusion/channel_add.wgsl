// y[c, q] = x[c, q] + v[c]: per-channel bias or time embedding over a [C, plane] tensor.
// Bindings: 0 Params, 1 x [C, plane], 2 v [C], 3 y [C, plane]. Dispatch: x = ceil(plane / 64), y = C.

struct Params {
  channels: u32,
  plane: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let c = gid.y;
  if (q >= p.plane || c >= p.channels) {
    return;
  }
  y[c * p.plane + q] = x[c * p.plane + q] + v[c];
}
