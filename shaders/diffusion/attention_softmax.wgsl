// Row softmax of the materialised attention scores (src/kernels/diffusion/attention-gemm.ts), in
// place, after summing the scores GEMM's split-K partials:
//   x[i, j] = sum_{z < splits} s[z * zStride + i * ld + j]                     (j < cols)
//   s[i * ld + j] = exp(x[i, j] - max_j' x[i, j']) / sum_j' exp(x[i, j'] - max)  (split 0's rows)
// The scale 1/sqrt(c) is already in the scores (attention_gemm.wgsl's alpha).
//
// Bindings: 0 Params, 1 s (read_write) [splits, rows, ld] (ld >= cols; columns past cols untouched).
// Dispatch: one workgroup of WG threads per row; rows folded as x = xGroups = min(rows, 65535),
//           y = ceil(rows / x); row = wid.y * xGroups + wid.x (rows past the last exit at once).
//
// Why this shape: the row is a few thousand floats (lk keys), so one workgroup streams it coalesced.
// Pass 1 keeps, per thread, a running max m and sum l of exp(x - m) (l rescaled when m grows: one
// read of the row for both), then a tree reduction of the (m, l) pairs in workgroup memory (subgroup
// operations are not on every adapter). Pass 2 re-reads the row (just read: cache hits), writes the
// probabilities. Max subtraction keeps exp in range for peaked scores. NEG stands in for -inf so that
// combining two empty partials gives l = 0 * exp(0) = 0, never exp(-inf + inf) = NaN.

override WG: u32 = 256u; // threads per row (a power of two)

struct Params {
  rows: u32,
  cols: u32,
  ld: u32, // floats between rows
  splits: u32,
  zStride: u32, // floats between split partials
  xGroups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;

var<workgroup> rm: array<f32, WG>; // per-thread running max, then the reduction tree
var<workgroup> rl: array<f32, WG>; // per-thread sum of exp(x - m)

const NEG: f32 = -3.0e38;

// The score x[row, j]: the sum over split-K partials.
fn score(e: u32) -> f32 {
  var x = 0.0;
  for (var z = 0u; z < p.splits; z++) { x += s[z * p.zStride + e]; }
  return x;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * p.xGroups + wid.x;
  if (row >= p.rows) {
    return; // whole workgroup: uniform
  }
  let base = row * p.ld;
  var m = NEG;
  var l = 0.0;
  for (var j = lid; j < p.cols; j += WG) {
    let x = score(base + j);
    if (x > m) {
      l = l * exp(m - x) + 1.0;
      m = x;
    } else {
      l += exp(x - m);
    }
  }
  rm[lid] = m;
  rl[lid] = l;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h /= 2u) {
    if (lid < h) {
      let m1 = rm[lid];
      let m2 = rm[lid + h];
      let mm = max(m1, m2);
      rl[lid] = rl[lid] * exp(m1 - mm) + rl[lid + h] * exp(m2 - mm);
      rm[lid] = mm;
    }
    workgroupBarrier();
  }
  let mx = rm[0];
  let inv = 1.0 / rl[0]; // >= 1: the max element contributes exp(0)
  for (var j = lid; j < p.cols; j += WG) {
    s[base + j] = exp(score(base + j) - mx) * inv;
  }
}
