// f32 -> IEEE half, two per u32 word (DistriFusion's async exchange on the wire, commDtype 'f16'):
//   dst[dstBase + i] = pack2x16float(src[srcBase + 2i], src[srcBase + 2i + 1])   (low half first),
// the same little-endian carrier as src/parallel/patch-unet-wire.ts's host packF16, so a peer that packs
// on the GPU and one that unpacks on the host (or the reverse) agree. pack2x16float is core WGSL (no
// shader-f16). Values beyond the half range are clamped to +-65504 first: WGSL leaves the conversion of an
// out-of-range value indeterminate (the host codec gives +-inf there; activations never reach it).
// An odd count pads the last word's high half with 0.
// Bindings: 0 Params, 1 src f32 (read), 2 dst u32 (read_write; never the same buffer as src).
// Dispatch: workgroups (x, y) of 64 over words = ceil(count / 2); word = gid.x + gid.y * rowLen.

struct Params {
  count: u32, // halves to write (floats read)
  srcBase: u32, // floats
  dstBase: u32, // u32 words
  rowLen: u32, // words per grid row = 64 * workgroups in x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

const HALF_MAX: f32 = 65504.0;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = gid.x + gid.y * p.rowLen;
  let i = 2u * w;
  if (i >= p.count) {
    return;
  }
  let a = clamp(src[p.srcBase + i], -HALF_MAX, HALF_MAX);
  var b = 0.0;
  if (i + 1u < p.count) {
    b = clamp(src[p.srcBase + i + 1u], -HALF_MAX, HALF_MAX);
  }
  dst[p.dstBase + w] = pack2x16float(vec2<f32>(a, b));
}
