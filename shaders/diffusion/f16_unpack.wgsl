// IEEE half -> f32, the inverse of f16_pack.wgsl: a received DistriFusion piece (halves two per u32 word,
// low half first) is written with queue.writeBuffer as is and expanded here straight into the stale
// buffer the kernels read, so the host never touches the values:
//   dst[dstBase + i] = unpack2x16float(src[srcBase + i / 2])[i % 2],  i < count.
// Core WGSL (no shader-f16).
// Bindings: 0 Params, 1 src u32 (read), 2 dst f32 (read_write; never the same buffer as src).
// Dispatch: workgroups (x, y) of 64 over words = ceil(count / 2); word = gid.x + gid.y * rowLen.

struct Params {
  count: u32, // halves (floats written)
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
  let i = 2u * w;
  if (i >= p.count) {
    return;
  }
  let v = unpack2x16float(src[p.srcBase + w]);
  dst[p.dstBase + i] = v.x;
  if (i + 1u < p.count) {
    dst[p.dstBase + i + 1u] = v.y;
  }
}
