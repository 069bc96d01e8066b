// SwiGLU over the fused gate|up projection: h[t, i] = silu(gu[t, i]) * gu[t, hid + i], with
// silu(g) = g / (1 + exp(-g)) as in silu_mul.wgsl (same bits). One GEMV over the concatenated
// [w_gate; w_up] weights produces gu, so the MLP input side is two dispatches instead of three.
// Bindings: 0 uniform Params {rows, hid}
//           1 gu: array<f32> [rows, 2*hid] row t = [gate_t | up_t]   2 h: array<f32> [rows, hid]
//           3 hq: array<u32> [n/4 + n/32], n = rows*hid (main_q8 only): h quantized for the q8_0 decode GEMV of
//             w_down, as shaders/gemm/quantize_q8.wgsl writes it (saves that kernel's dispatch)
// Dispatch: main: ceil(rows*hid / 256) workgroups of 256 (2-D grid when large); main_q8 (hid % 32 == 0): one
//   thread per 4 elements of h, ceil(rows*hid / 4 / 64) workgroups of 64.

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

var<workgroup> amaxS: array<f32, 64>;

// Thread t: h's vec4 t (4 consecutive elements), written to h, then quantized with quantize_q8.wgsl's operations
// (the same bits as that kernel on this h; WGSL has no includes): the 8 threads of a 32-block share their maxima
// through workgroup memory. n % 32 == 0, so the 8 threads of a block are all inside or all outside h.
@compute @workgroup_size(64)
fn main_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let t = (wg.x + wg.y * nwg.x) * 64u + li;
  let n = p.rows * p.hid;
  let live = t < n / 4u;
  var v = vec4<f32>(0.0);
  if (live) {
    let o = t * 4u;
    v = vec4<f32>(swiglu(o), swiglu(o + 1u), swiglu(o + 2u), swiglu(o + 3u));
    h[o] = v.x;
    h[o + 1u] = v.y;
    h[o + 2u] = v.z;
    h[o + 3u] = v.w;
  }
  let a = abs(v);
  amaxS[li] = max(max(a.x, a.y), max(a.z, a.w));
  workgroupBarrier();
  if (!live) { return; }
  let g = li & ~7u; // the first of the 8 threads holding this 32-block
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) { amax = max(amax, amaxS[g + i]); }
  let d = amax / 127.0;
  let id = select(0.0, 1.0 / d, d > 0.0);
  let s = v * id;
  let q = clamp(sign(s) * floor(abs(s) + 0.5), vec4<f32>(-127.0), vec4<f32>(127.0));
  let u = bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu); // pack4xI8 by hand (no language feature needed)
  hq[t] = u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u);
  if ((li & 7u) == 0u) { hq[n / 4u + t / 8u] = bitcast<u32>(d); }
}
