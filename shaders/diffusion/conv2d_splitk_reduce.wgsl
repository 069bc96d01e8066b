// Split-K epilogue of conv2d_gemm_r16x8.wgsl: out = sum over the splits of their partial sums (split 0's
// already hold the bias), one vec4 per invocation; entry point main_add also adds the conv's consumer
// term (a ResBlock's time projection per channel, or a residual tensor), which the U-Net otherwise ran as
// its own add / channel_add dispatch after the conv (one dispatch fewer each on the host, whose encode
// cost bounds a small DistriFusion patch's step: bench/results/unet-forward-profile-*).
//   main:     out[i] = sum_{s < splits} part[s*slice4 + i], i < n4
//   main_add: out[i] = that + extra[i]           (ADD_MODE 0: extra [4 n4] floats, out's layout)
//             out[i] = that + extra[i / p4]      (ADD_MODE 1: extra [cout] per channel; p4 = P / 4 vec4s
//                                                 per channel, P a multiple of 4 so no vec4 spans two)
// The sum is formed first and the extra added last: the same f32 adds, in the same order, as the conv
// followed by add.wgsl / channel_add.wgsl (a + b == b + a exactly), so fused and unfused agree bit for bit.
// Bindings: 0 Params (uniform), 1 part [splits, slice4] vec4 (the conv's scratch), 2 out [n4] vec4 (the
//           conv's output [cout, P], buffer sized to a multiple of 16 bytes: the last vec4 may run past
//           cout*P into that padding), 3 extra (main_add only; element mode: at least 4 n4 floats).
// Dispatch: ceil(n4 / 256) workgroups of 256 folded as x = min(g, 65535), y = ceil(g / x);
//   i = (wg.y * nwg.x + wg.x) * 256 + local index.
// Why separate: WebGPU has no float atomics, and a last-arriving-workgroup reduction inside the conv would
// need a global counter per tile; this pass reads cout*P*splits floats once (~10 us at H200 bandwidth for
// 1280 ch @ 32x32 x 4 splits) against a ~1 ms conv.

override ADD_MODE: u32 = 0u;

struct Params {
  n4: u32, // vec4s of output: ceil(cout*P / 4)
  splits: u32,
  slice4: u32, // vec4s between two splits' partial sums
  p4: u32, // main_add, ADD_MODE 1: vec4s per output channel (P / 4)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> outp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> extra: array<f32>; // main_add: [n4 * 4] (ADD_MODE 0) or [cout] (ADD_MODE 1)

fn splitSum(i: u32) -> vec4<f32> {
  var acc = part[i];
  for (var s = 1u; s < p.splits; s++) { acc += part[s * p.slice4 + i]; }
  return acc;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + li;
  if (i >= p.n4) { return; }
  outp[i] = splitSum(i);
}

@compute @workgroup_size(256)
fn main_add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + li;
  if (i >= p.n4) { return; }
  var e: vec4<f32>;
  if (ADD_MODE == 1u) {
    e = vec4<f32>(extra[i / p.p4]);
  } else {
    let j = 4u * i;
    e = vec4<f32>(extra[j], extra[j + 1u], extra[j + 2u], extra[j + 3u]);
  }
  outp[i] = splitSum(i) + e;
}
