// int8 blocks -> f32, the inverse of i8_pack.wgsl: a received DistriFusion piece is written with
// queue.writeBuffer as is and expanded here straight into the stale buffer the kernels read:
//   dst[dstBase + i] = unpack4x8snorm(src[srcBase + nb + i / 4])[i % 4] * absmax(i / 64),  i < count,
// absmax(b) = bitcast<f32>(src[srcBase + b]), nb = ceil(count / 64). Core WGSL.
// Bindings: 0 Params, 1 src u32 (read), 2 dst f32 (read_write; never the same buffer as src).
// Dispatch: workgroups (x, y) of 64 over value words nw = ceil(count / 4); word = gid.x + gid.y * rowLen.

struct Params {
  count: u32, // floats written
  srcBase: u32, // u32 words
  dstBase: u32, // floats
  rowLen: u32, // words per grid row = 64 * workgroups in x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = gid.x + gid.y * p.rowLen;
  let i = 4u * w;
  if (i >= p.count) {
    return;
  }
  let nb = (p.count + 63u) / 64u;
  let m = bitcast<f32>(src[p.srcBase + w / 16u]);
  let v = unpack4x8snorm(src[p.srcBase + nb + w]) * m;
  for (var k = 0u; k < 4u; k++) {
    if (i + k < p.count) {
      dst[p.dstBase + i + k] = v[k];
    }
  }
}
