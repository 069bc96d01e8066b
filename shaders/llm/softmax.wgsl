// Row softmax in place: x[r, :] = exp(x[r, :] - max) / sum(exp(x[r, :] - max)).
// Bindings: 0 uniform Params {rows, cols}   1 x: array<f32> [rows, cols] (read-write)
// Dispatch: one workgroup of 128 threads per row, rows = wg.x + wg.y * num_workgroups.x.

const WG: u32 = 128u;

struct Params { rows: u32, cols: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; } // workgroup-uniform
  let base = r * p.cols;
  var m = -3.4e38;
  for (var i = li; i < p.cols; i += WG) { m = max(m, x[base + i]); }
  red[li] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] = max(red[li], red[li + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier(); // everyone has read the max before red is reused for the sum
  var sum = 0.0;
  for (var i = li; i < p.cols; i += WG) { let e = exp(x[base + i] - mx); x[base + i] = e; sum += e; }
  red[li] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var i = li; i < p.cols; i += WG) { x[base + i] *= inv; }
}
