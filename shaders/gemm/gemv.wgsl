// Matrix-vector product for decode: y[N] = W[N,K] . x[K], W row-major (out, in) as GGUF stores it.
// This variant reduces through workgroup memory, for adapters without the `subgroups` feature;
// gemv_sg.wgsl is the same kernel with a subgroupAdd reduction.
//
// Bindings: 0 uniform Params {N, K, _pad, _pad}
//           1 w: array<vec4<u32>>  WTYPE 0: [N, K] f32 bits; WTYPE 1: [N, K] f16, two halves per u32
//                                  (element k in the low half when k is even), unpacked with
//                                  unpack2x16float so shader-f16 is not needed
//           2 x: array<vec4<f32>>  [K]
//           3 y: array<f32>        [N] (written)
// Dispatch: ceil(N / RPW) workgroups of WG threads, laid out as (min(count, 65535), ceil(count / 65535)).
// Each workgroup owns RPW rows; TPR = WG / RPW threads share a row, striding along K with 16-byte loads,
// four independent loads in flight per thread, then the TPR partial sums are reduced.
// CHECK = false is the fast path: legal when K % 4 == 0 (f32) or K % 8 == 0 (f16); CHECK = true reads
// element by element (any K). Rows >= N are computed as zero and not stored.

override WG: u32 = 256u; // threads per workgroup (a power of two)
override RPW: u32 = 4u; // rows per workgroup (a power of two dividing WG)
override WTYPE: u32 = 0u;
override CHECK: bool = true;
override TPR: u32 = WG / RPW; // threads per row

struct Params { N: u32, K: u32, _pad0: u32, _pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>; // one partial sum per thread

// 8 consecutive weights from one 16-byte word group: f16 halves in order (lo, hi) of .x, .y, .z, .w.
fn dot8h(q: vec4<u32>, x0: vec4<f32>, x1: vec4<f32>) -> f32 {
  let lo = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
  let hi = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
  return dot(lo, x0) + dot(hi, x1);
}

// Element e (flat row-major index into W) as f32: the bounds-checked path.
fn elemW(e: u32) -> f32 {
  if (WTYPE == 0u) { return bitcast<f32>(w[e >> 2u][e & 3u]); }
  let word = e >> 1u;
  let h = unpack2x16float(w[word >> 2u][word & 3u]);
  return select(h.x, h.y, (e & 1u) == 1u);
}

fn rowDot(n: u32, l: u32) -> f32 {
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  if (CHECK) {
    for (var k = l; k < p.K; k += TPR) { s0 += elemW(n * p.K + k) * x[k >> 2u][k & 3u]; }
    return s0;
  }
  if (WTYPE == 0u) {
    let k4 = p.K / 4u; // vec4s per row
    let base = n * k4;
    var j = l;
    for (; j + 3u * TPR < k4; j += 4u * TPR) {
      s0 += dot(bitcast<vec4<f32>>(w[base + j]), x[j]);
      s1 += dot(bitcast<vec4<f32>>(w[base + j + TPR]), x[j + TPR]);
      s2 += dot(bitcast<vec4<f32>>(w[base + j + 2u * TPR]), x[j + 2u * TPR]);
      s3 += dot(bitcast<vec4<f32>>(w[base + j + 3u * TPR]), x[j + 3u * TPR]);
    }
    for (; j < k4; j += TPR) { s0 += dot(bitcast<vec4<f32>>(w[base + j]), x[j]); }
  } else {
    let k8 = p.K / 8u; // 16-byte groups of 8 halves per row
    let base = n * k8;
    var j = l;
    for (; j + 3u * TPR < k8; j += 4u * TPR) {
      s0 += dot8h(w[base + j], x[2u * j], x[2u * j + 1u]);
      s1 += dot8h(w[base + j + TPR], x[2u * (j + TPR)], x[2u * (j + TPR) + 1u]);
      s2 += dot8h(w[base + j + 2u * TPR], x[2u * (j + 2u * TPR)], x[2u * (j + 2u * TPR) + 1u]);
      s3 += dot8h(w[base + j + 3u * TPR], x[2u * (j + 3u * TPR)], x[2u * (j + 3u * TPR) + 1u]);
    }
    for (; j < k8; j += TPR) { s0 += dot8h(w[base + j], x[2u * j], x[2u * j + 1u]); }
  }
  return (s0 + s1) + (s2 + s3);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let r = li / TPR; // row within the workgroup
  let l = li % TPR; // lane within the row
  let n = (wg.y * nwg.x + wg.x) * RPW + r;
  var s = 0.0;
  if (n < p.N) { s = rowDot(n, l); }
  red[li] = s;
  workgroupBarrier();
  for (var h = TPR / 2u; h > 0u; h >>= 1u) {
    if (l < h) { red[li] += red[li + h]; }
    workgroupBarrier();
  }
  if (l == 0u && n < p.N) { y[n] = red[li]; }
}
