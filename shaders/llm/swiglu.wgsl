// SwiGLU over the fused gate|up projection: h[t, i] = silu(gu[t, i]) * gu[t, hid + i], with
// silu(g) = g / (1 + exp(-g)) as in silu_mul.wgsl (same bits). One GEMV over the concatenated
// [w_gate; w_up] weights produces gu, so the MLP input side is two dispatches instead of three.
// Bindings: 0 uniform Params {rows, hid}
//           1 gu: array<f32> [rows, 2*hid] row t = [gate_t | up_t]   2 h: array<f32> [rows, hid]
// Dispatch: ceil(rows*hid / 256) workgroups of 256 (2-D grid when large).

struct Params { rows: u32, hid: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gu: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * nwg.x) * 256u + li;
  if (i >= p.rows * p.hid) { return; }
  let t = i / p.hid;
  let j = i % p.hid;
  let g = gu[t * 2u * p.hid + j];
  h[i] = g / (1.0 + exp(-g)) * gu[t * 2u * p.hid + p.hid + j];
}
