// SwiGLU over the fused gate|up projection: h[t, i] = silu(gu[t, i]) * gu[t, hid + i], with
// silu(g) = g / (1 + exp(-g)) as in silu_mul.wgsl (same bits). One GEMV over the concatenated
// [w_gate; w_up] weights produces gu, so the MLP input side is two dispatches instead of three.
// Bindings: 0 uniform Params {rows, hid}
//           1 gu: array<f32> [rows, 2*hid] row t = [gate_t | up_t]   2 h: array<f32> [rows, hid]
//           3 hq: array<u32> [n/4 + n/32], n = rows*hid (main_q8 only): h quantized for the q8_0 decode GEMV of
//             w_down, as shaders/gemm/quantize_q8.wgsl writes it (saves that kernel's dispatch)
// Dispatch: main: ceil(rows*hid / 256) workgroups of 256 (2-D grid when large); main_q8 (hid % 32 == 0): one
//   thread per 32-block of h, ceil(rows*hid / 32 / 64) workgroups of 64.

struct Params { rows: u32, hid: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gu: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
@group(0) @binding(3) var<storage, read_write> hq: array<u32>;

fn swiglu(i: u32) -> f32 {
  let t = i / p.hid;
  let j = i % p.hid;
  let g = gu[t * 2u * p.hid + j];
  return g / (1.0 + exp(-g)) * gu[t * 2u * p.hid + p.hid + j];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * nwg.x) * 256u + li;
  if (i >= p.rows * p.hid) { return; }
  h[i] = swiglu(i);
}

// Block b of h: its 32 values, then quantize_q8.wgsl's rule (same ops, same bits; WGSL has no includes).
@compute @workgroup_size(64)
fn main_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let b = (wg.x + wg.y * nwg.x) * 64u + li;
  let n = p.rows * p.hid;
  if (b >= n / 32u) { return; }
  var v: array<vec4<f32>, 8>;
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let o = b * 32u + i * 4u;
    v[i] = vec4<f32>(swiglu(o), swiglu(o + 1u), swiglu(o + 2u), swiglu(o + 3u));
    h[o] = v[i].x;
    h[o + 1u] = v[i].y;
    h[o + 2u] = v[i].z;
    h[o + 3u] = v[i].w;
    let a = abs(v[i]);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  let d = amax / 127.0;
  let id = select(0.0, 1.0 / d, d > 0.0);
  for (var i = 0u; i < 8u; i++) {
    let q = clamp(sign(v[i] * id) * floor(abs(v[i] * id) + 0.5), vec4<f32>(-127.0), vec4<f32>(127.0));
    let u = bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu); // pack4xI8 by hand (no language feature)
    hq[b * 8u + i] = u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u);
  }
  hq[n / 4u + b] = bitcast<u32>(d);
}
