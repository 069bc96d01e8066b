// f32 -> int8 with one f32 scale per block of 64 values (DistriFusion's async exchange on the wire,
// commDtype 'i8': about a quarter of f32's bytes, half of f16's). A run of `count` floats becomes
//   words [dstBase, dstBase + nb)            absmax of block b (values 64b .. 64b+63) as f32 bits, nb = ceil(count / 64)
//   words [dstBase + nb, + ceil(count / 4))  pack4x8snorm(x / absmax) of values 4w .. 4w+3 (value 4w in the low byte),
// the layout src/kernels/diffusion/i8-pack.ts's reference() writes on the host, so a peer that packs here and
// one that unpacks on the host (or the reverse) agree. pack4x8snorm is core WGSL: q = floor(0.5 + 127 *
// clamp(x / absmax, -1, 1)), so |x - q * absmax / 127| <= absmax / 254. A block of zeros gets absmax 0 and
// q = 0. Values past the end of the run pad the last word with 0. Activations only (finite values).
// Bindings: 0 Params, 1 src f32 (read), 2 dst u32 (read_write; never the same buffer as src).
// Dispatch: workgroups (x, y) of 64 threads over value words nw = ceil(count / 4); one thread per word,
// word = gid.x + gid.y * rowLen. A block's 16 words are 16 consecutive lanes of one workgroup (64 | rowLen),
// which share their maxima through workgroup memory.

struct Params {
  count: u32, // floats read
  srcBase: u32, // floats
  dstBase: u32, // u32 words
  rowLen: u32, // words per grid row = 64 * workgroups in x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

var<workgroup> wmax: array<f32, 64>; // [64] max |x| of each lane's 4 values

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let w = gid.x + gid.y * p.rowLen;
  let i = 4u * w;
  var v = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    if (i + k < p.count) {
      v[k] = src[p.srcBase + i + k];
    }
  }
  let a = abs(v);
  wmax[li] = max(max(a.x, a.y), max(a.z, a.w));
  workgroupBarrier();
  let first = li & ~15u; // the block's first lane
  var m = 0.0;
  for (var k = 0u; k < 16u; k++) {
    m = max(m, wmax[first + k]);
  }
  if (i >= p.count) {
    return;
  }
  let nb = (p.count + 63u) / 64u;
  if ((li & 15u) == 0u) {
    dst[p.dstBase + w / 16u] = bitcast<u32>(m);
  }
  var q = 0u;
  if (m > 0.0) {
    q = pack4x8snorm(v / m);
  }
  dst[p.dstBase + nb + w] = q;
}
