// Activation quantization for the q8_0 decode GEMV (gemv_sg.wgsl with XQ): x [K] f32 -> int8 quants with one
// f32 scale per 32 values, as ggml's quantize_row_q8_0 (llama.cpp quantizes activations the same way before its
// q8_0 dot products on CPU and in CUDA's MMVQ): d = amax / 127, q = round(x / d) (half away from zero), 0 when
// the block is all zero. Why: dequantizing 16 weights a 16-byte load costs 16 conversions and 64 bytes of x, which
// kept the float q8_0 GEMV at 13-56% of an H200's HBM bandwidth; int8 x lets it use packed int8 dot products
// (4 products a dot4I8Packed) and read 20 bytes of x per 16 of weights.
//
// Bindings: 0 uniform Params {K, _pad x3}   (K % 32 == 0)
//           1 x: array<vec4<f32>> [K]
//           2 out: array<u32> [K/4 + K/32]: quants, four per word (element k in byte k % 4), then the K/32
//             block scales as f32 bits (the layout gemv_sg.wgsl reads through its x binding)
// Dispatch: ceil(K / 32 / WG) workgroups of WG threads; thread b quantizes block b (8 vec4s of x).

override WG: u32 = 64u;

struct Params { K: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= p.K / 32u) { return; }
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let v = abs(x[b * 8u + i]);
    amax = max(amax, max(max(v.x, v.y), max(v.z, v.w)));
  }
  let d = amax / 127.0;
  let id = select(0.0, 1.0 / d, d > 0.0);
  for (var i = 0u; i < 8u; i++) {
    let v = x[b * 8u + i] * id;
    // Half away from zero (ggml's roundf), clamped: a reciprocal one ulp high must not wrap to -128.
    let q = clamp(sign(v) * floor(abs(v) + 0.5), vec4<f32>(-127.0), vec4<f32>(127.0));
    out[b * 8u + i] = pack4xI8(vec4<i32>(q));
  }
  out[p.K / 4u + b] = bitcast<u32>(d);
}
