// Memory-bandwidth probe for bench/gpu-kernels.ts: dst[i] = src[i] * s, 16 bytes read + 16 written per
// element. Its GB/s is the practical ceiling the GEMV numbers are compared with.
//
// Bindings: 0 uniform Params {n (vec4 count), s (f32 bits), _pad, _pad}
//           1 src: array<vec4<f32>> [n]
//           2 dst: array<vec4<f32>> [n] (written)
// Dispatch: (min(ceil(n / (WG * 4)), 65535), ...) with a grid-stride loop, 4 loads in flight per thread.

override WG: u32 = 256u;

struct Params { n: u32, s: f32, _pad0: u32, _pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  var i = gid.x;
  for (; i + 3u * stride < p.n; i += 4u * stride) {
    let v0 = src[i];
    let v1 = src[i + stride];
    let v2 = src[i + 2u * stride];
    let v3 = src[i + 3u * stride];
    dst[i] = v0 * p.s;
    dst[i + stride] = v1 * p.s;
    dst[i + 2u * stride] = v2 * p.s;
    dst[i + 3u * stride] = v3 * p.s;
  }
  for (; i < p.n; i += stride) { dst[i] = src[i] * p.s; }
}
