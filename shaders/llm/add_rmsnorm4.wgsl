// add_rmsnorm.wgsl for rows whose width is a multiple of 4*WG (Llama 2048 / 4096 / 8192): x[r, :] += d[r, :], then
// y[r, i] = x[r, i] * w[i] / sqrt(mean_i(x[r, :]^2) + eps), with vec4 loads and the width as an override, so each
// thread's loop has a constant trip count the compiler unrolls and all its loads are in flight at once. Why: the
// scalar kernel's 128 threads walk a 4096-wide row in 32 dependent load steps: 15.6 us a call on an H200 (two a
// layer, decode's longest small kernel: bench/results/fused-quant-*).
// The sum of squares is taken in another order than add_rmsnorm.wgsl's, so y may differ from it in the last bit.
// Bindings: 0 uniform Params {rows, dim, eps}
//           1 x: array<vec4<f32>> [rows, DIM/4] residual stream (read-write)   2 d: array<vec4<f32>> [rows, DIM/4]
//           3 w: array<vec4<f32>> [DIM/4]   4 y: array<vec4<f32>> [rows, DIM/4] normed (may not alias x or d)
//           5 yq: array<u32> [n/4 + n/32], n = rows*DIM (main_q8 only): y quantized as shaders/gemm/quantize_q8.wgsl
//             writes it (quants four per word, then one f32 scale per 32 values), for q8_0 decode's int8-x GEMV
// Dispatch: one workgroup of WG threads per row, row = wg.x + wg.y * num_workgroups.x. Host: DIM % (4*WG) == 0.
// Thread li owns vec4s li + k*WG (k < DIM/4/WG); a 32-block is 8 vec4s, i.e. 8 consecutive threads at one k.

override WG: u32 = 256u;
override DIM: u32 = 4096u; // the row width (p.dim; an override so the loops below have constant bounds)
const KMAX: u32 = 8u; // DIM/4/WG <= KMAX (DIM <= 8192 at WG 256): the per-thread registers below

struct Params { rows: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> d: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> yq: array<u32>;

var<workgroup> red: array<f32, WG>;

// Adds and normalizes the row into y; returns its y vec4s (v[k] = y vec4 li + k*WG of the row).
fn addNorm(r: u32, li: u32) -> array<vec4<f32>, KMAX> {
  let base = r * (DIM / 4u);
  var v: array<vec4<f32>, KMAX>;
  var ss = 0.0;
  for (var k = 0u; k < DIM / 4u / WG; k++) {
    let i = base + li + k * WG;
    v[k] = x[i] + d[i];
    x[i] = v[k];
    ss += dot(v[k], v[k]);
  }
  red[li] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(DIM) + p.eps);
  for (var k = 0u; k < DIM / 4u / WG; k++) {
    v[k] = v[k] * inv * w[li + k * WG];
    y[base + li + k * WG] = v[k];
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; } // workgroup-uniform
  _ = addNorm(r, li);
}

var<workgroup> amaxS: array<f32, WG>;

// main, then y quantized into yq with quantize_q8.wgsl's operations (the same bits as that kernel on this y).
@compute @workgroup_size(WG)
fn main_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; } // workgroup-uniform
  let v = addNorm(r, li);
  let n = p.rows * DIM;
  for (var k = 0u; k < DIM / 4u / WG; k++) {
    let a = abs(v[k]);
    workgroupBarrier(); // the previous k's amaxS reads are done
    amaxS[li] = max(max(a.x, a.y), max(a.z, a.w));
    workgroupBarrier();
    let g = li & ~7u; // the first of the 8 threads holding this 32-block
    var amax = 0.0;
    for (var i = 0u; i < 8u; i++) { amax = max(amax, amaxS[g + i]); }
    let dq = amax / 127.0;
    let id = select(0.0, 1.0 / dq, dq > 0.0);
    let s = v[k] * id;
    let q = clamp(sign(s) * floor(abs(s) + 0.5), vec4<f32>(-127.0), vec4<f32>(127.0));
    let u = bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu); // pack4xI8 by hand (no language feature needed)
    let j = r * (DIM / 4u) + li + k * WG; // this vec4's index in y = its quant word in yq
    yq[j] = u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u);
    if ((li & 7u) == 0u) { yq[n / 4u + j / 8u] = bitcast<u32>(dq); }
  }
}
