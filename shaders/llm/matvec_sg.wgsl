enable subgroups;

// Matrix-vector product for decode (one token), subgroup variant of matvec.wgsl (used only when the
// adapter offers 'subgroups'): y[N] = W[N,K] * x[K]. Each subgroup sums with subgroupAdd, leaving
// WG / subgroup_size partials in shared memory for thread 0 instead of a log2(WG)-barrier tree.
//
// Bindings: 0 uniform Params {N, K, scaleOff}
//           1 x: array<f32> [K]
//           2 w: array<u32> weights, WTYPE 0 = f32, 1 = f16 (packed pairs), 2 = q8_0 repacked
//               (int8 quants 4 per word, then f32 block scales at word scaleOff); same as matmul.wgsl
//           3 y: array<f32> [N] (written)
// Dispatch: one workgroup of 128 threads per output row; rows = wg.x + wg.y * num_workgroups.x (a 2-D
// grid once N > 65535). Threads stride along K, 4 elements at a time when K % 4 == 0, then reduce.

override WTYPE: u32 = 0u;
const WG: u32 = 128u;

struct Params { N: u32, K: u32, scaleOff: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

// Element (n, k) of W (keep in sync with matmul.wgsl).
fn loadW(n: u32, k: u32) -> f32 {
  let i = n * p.K + k;
  if (WTYPE == 0u) {
    return bitcast<f32>(w[i]);
  }
  if (WTYPE == 1u) {
    let h = unpack2x16float(w[i >> 1u]);
    return select(h.x, h.y, (i & 1u) == 1u);
  }
  let q = extractBits(bitcast<i32>(w[i >> 2u]), (i & 3u) * 8u, 8u);
  return f32(q) * bitcast<f32>(w[p.scaleOff + (i >> 5u)]);
}

// Elements (n, k..k+3), for k % 4 == 0 and K % 4 == 0: one word for q8_0, two for f16, four for f32.
fn loadW4(n: u32, k: u32) -> vec4<f32> {
  let i = n * p.K + k;
  if (WTYPE == 0u) {
    return vec4<f32>(bitcast<f32>(w[i]), bitcast<f32>(w[i + 1u]), bitcast<f32>(w[i + 2u]), bitcast<f32>(w[i + 3u]));
  }
  if (WTYPE == 1u) {
    return vec4<f32>(unpack2x16float(w[i >> 1u]), unpack2x16float(w[(i >> 1u) + 1u]));
  }
  let q = bitcast<i32>(w[i >> 2u]);
  let v = vec4<f32>(f32(extractBits(q, 0u, 8u)), f32(extractBits(q, 8u, 8u)), f32(extractBits(q, 16u, 8u)),
                    f32(extractBits(q, 24u, 8u)));
  return v * bitcast<f32>(w[p.scaleOff + (i >> 5u)]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_size) sgSize: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  let n = wg.x + wg.y * nwg.x;
  if (n >= p.N) { return; } // workgroup-uniform: the barriers below stay in uniform control flow
  var acc = 0.0;
  if (p.K % 4u == 0u) {
    for (var k = li * 4u; k < p.K; k += WG * 4u) {
      acc += dot(vec4<f32>(x[k], x[k + 1u], x[k + 2u], x[k + 3u]), loadW4(n, k));
    }
  } else {
    for (var k = li; k < p.K; k += WG) { acc += x[k] * loadW(n, k); }
  }
  // Subgroups of a 1-D workgroup hold consecutive invocation indices, so li / sgSize names the subgroup.
  let s = subgroupAdd(acc);
  if (lane == 0u) { red[li / sgSize] = s; }
  workgroupBarrier();
  if (li == 0u) {
    var t = 0.0;
    for (var j = 0u; j < WG / sgSize; j++) { t += red[j]; }
    y[n] = t;
  }
}
