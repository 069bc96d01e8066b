// Strided block copy between two f32 buffers: `count` runs of `len` floats,
//   dst[dstBase + j * dstStride + i] = src[srcBase + j * srcStride + i],  j < count, i < len.
// Patch parallelism uses it to move whole rows between layouts without a host round trip: a conv
// tile's boundary rows [C, rows + 2, W] -> a flat comm segment [nb, C, W] (and back into the halo
// rows), a peer's K/V part [2c, n_p] -> its rows of the full K/V buffer [2c, H * W].
// Bases and strides are in floats (buffers are bound whole, so offsets live in Params).
// Bindings: 0 Params, 1 src (read), 2 dst (read_write; never the same buffer as src).
// Dispatch: x = ceil(len / 64), y = count.

struct Params {
  count: u32,
  len: u32,
  srcBase: u32,
  srcStride: u32,
  dstBase: u32,
  dstStride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let j = gid.y;
  if (i >= p.len || j >= p.count) {
    return;
  }
  dst[p.dstBase + j * p.dstStride + i] = src[p.srcBase + j * p.srcStride + i];
}
