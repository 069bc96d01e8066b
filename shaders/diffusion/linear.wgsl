// y[n, o] = act(b[o] + sum_i w[o, i] * x[n, i]): the time-embedding MLP and the per-ResBlock time
// projections (a GEMV per call: batch is 1 in the U-Net).
// One workgroup of WG threads per output (o, n): the threads read w's row o side by side (coalesced;
// one thread per output read rows nIn floats apart and took ~0.13 ms for 1280 x 1280 on an H200,
// bench/results/unet-forward-profile-*), then sum their partials in a tree.
// Override ACT: 0 none, 1 GELU (exact erf), 2 SiLU.
// Bindings: 0 Params, 1 x [batch, nIn], 2 w [nOut, nIn], 3 b [nOut], 4 y [batch, nOut].
// Dispatch: x = nOut, y = batch; workgroup size WG (64).

override ACT: u32 = 0u;

struct Params {
  nIn: u32,
  nOut: u32,
  batch: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// erfc(z) for z >= 0, Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7)
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  return t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
}

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = wid.x;
  let n = wid.y;
  var part = 0.0;
  for (var i = lid; i < p.nIn; i += WG) {
    part += w[o * p.nIn + i] * x[n * p.nIn + i];
  }
  red[lid] = part;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var acc = b[o] + red[0];
    if (ACT == 1u) {
      let r = 0.5 * erfc_pos(abs(acc) * 0.70710678118654752);
      acc = acc * select(r, 1.0 - r, acc >= 0.0);
    } else if (ACT == 2u) {
      acc = acc / (1.0 + exp(-acc));
    }
    y[n * p.nOut + o] = acc;
  }
}
