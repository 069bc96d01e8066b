// Residual add fused with the next RMSNorm: x[r, :] += d[r, :], then y[r, i] = x[r, i] * w[i] / sqrt(mean_i(x[r, :]^2) + eps).
// One dispatch instead of add.wgsl + rmsnorm.wgsl, with the same arithmetic (so the same bits).
// Bindings: 0 uniform Params {rows, dim, eps}
//           1 x: array<f32> [rows, dim] residual stream (read-write)   2 d: array<f32> [rows, dim] the block's output
//           3 w: array<f32> [dim]   4 y: array<f32> [rows, dim] normed (may not alias x or d)
//           5 yq: array<u32> [n/4 + n/32], n = rows*dim (main_q8 only): y quantized for the q8_0 decode GEMV, as
//             shaders/gemm/quantize_q8.wgsl writes it (quants four per word, then one f32 scale per 32 values)
// Entry points:
//   main: one workgroup of 128 threads per row, row = wg.x + wg.y * num_workgroups.x (GPUs).
//   main_q8: main, then the row's 32-blocks of y quantized into yq (dim % 32 == 0), so decode's q8_0 projections
//     skip quantize_q8's dispatch (one per projection: a token's dispatch count is what bounds decode).
//   rows: one thread per row, no barriers, ceil(rows / 64) workgroups of 64 (CPU-backed adapters, see matvec_rows.wgsl).

const WG: u32 = 128u;

struct Params { rows: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> yq: array<u32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; } // workgroup-uniform
  addNorm(r * p.dim, li);
}

@compute @workgroup_size(WG)
fn main_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; } // workgroup-uniform
  let base = r * p.dim;
  addNorm(base, li);
  storageBarrier(); // the row's y, written by every thread, is read back by block below
  for (var b = base / 32u + li; b < (base + p.dim) / 32u; b += WG) { quantizeBlock(b, p.rows * p.dim); }
}

// quantize_q8.wgsl's rule for block b of y (32 values) into yq, n = y's length: d = amax / 127, q = round(y / d)
// half away from zero, clamped to +-127 (the same ops, so the same bits as that kernel; WGSL has no includes).
fn quantizeBlock(b: u32, n: u32) {
  var amax = 0.0;
  for (var i = 0u; i < 32u; i++) { amax = max(amax, abs(y[b * 32u + i])); }
  let d = amax / 127.0;
  let id = select(0.0, 1.0 / d, d > 0.0);
  for (var i = 0u; i < 8u; i++) {
    let o = b * 32u + i * 4u;
    let v = vec4<f32>(y[o], y[o + 1u], y[o + 2u], y[o + 3u]) * id;
    let q = clamp(sign(v) * floor(abs(v) + 0.5), vec4<f32>(-127.0), vec4<f32>(127.0));
    // pack4xI8 by hand: that builtin needs a WGSL language feature this file must not depend on for `main`.
    let u = bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu);
    yq[b * 8u + i] = u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u);
  }
  yq[n / 4u + b] = bitcast<u32>(d);
}

// x[base..base+dim) += d, y = rmsnorm(x) * w over that row (one workgroup).
fn addNorm(base: u32, li: u32) {
  var ss = 0.0;
  for (var i = li; i < p.dim; i += WG) {
    let v = x[base + i] + d[base + i];
    x[base + i] = v; // each element is written and re-read below by the same thread
    ss += v * v;
  }
  red[li] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(p.dim) + p.eps);
  for (var i = li; i < p.dim; i += WG) { y[base + i] = x[base + i] * inv * w[i]; }
}

@compute @workgroup_size(64)
fn rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = (wg.x + wg.y * nwg.x) * 64u + li;
  if (r >= p.rows) { return; }
  let base = r * p.dim;
  var ss = 0.0;
  for (var i = 0u; i < p.dim; i++) {
    let v = x[base + i] + d[base + i];
    x[base + i] = v;
    ss += v * v;
  }
  let inv = inverseSqrt(ss / f32(p.dim) + p.eps);
  for (var i = 0u; i < p.dim; i++) { y[base + i] = x[base + i] * inv * w[i]; }
}
