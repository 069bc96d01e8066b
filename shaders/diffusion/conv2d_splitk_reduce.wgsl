// Split-K epilogue of conv2d_gemm_r16x8.wgsl: out = sum over the splits of their partial sums (split 0's
// already hold the bias), one vec4 per invocation.
//   out[i] = sum_{s < splits} part[s*slice4 + i], i < n4
// Bindings: 0 Params (uniform), 1 part [splits, slice4] vec4 (the conv's scratch), 2 out [n4] vec4 (the
//           conv's output [cout, P], buffer sized to a multiple of 16 bytes: the last vec4 may run past
//           cout*P into that padding).
// Dispatch: ceil(n4 / 256) workgroups of 256 folded as x = min(g, 65535), y = ceil(g / x);
//   i = (wg.y * nwg.x + wg.x) * 256 + local index.
// Why separate: WebGPU has no float atomics, and a last-arriving-workgroup reduction inside the conv would
// need a global counter per tile; this pass reads cout*P*splits floats once (~10 us at H200 bandwidth for
// 1280 ch @ 32x32 x 4 splits) against a ~1 ms conv.

struct Params {
  n4: u32, // vec4s of output: ceil(cout*P / 4)
  splits: u32,
  slice4: u32, // vec4s between two splits' partial sums
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> outp: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + li;
  if (i >= p.n4) { return; }
  var acc = part[i];
  for (var s = 1u; s < p.splits; s++) { acc += part[s * p.slice4 + i]; }
  outp[i] = acc;
}
