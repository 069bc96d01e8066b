// Matrix-vector product for decode: y[N] = W[N,K] . x[K], W row-major (out, in) as GGUF stores it.
// This variant reduces through workgroup memory, for adapters without the `subgroups` feature;
// gemv_sg.wgsl is the same kernel with a subgroupAdd reduction.
//
// Bindings: 0 uniform Params {N, K, scaleOff, _pad}
//           1 w: array<vec4<u32>>  WTYPE 0: [N, K] f32 bits; WTYPE 1: [N, K] f16, two halves per u32
//                                  (element k in the low half when k is even), unpacked with
//                                  unpack2x16float so shader-f16 is not needed; WTYPE 2: q8_0 as
//                                  src/kernels/common.ts repack() lays it out: [N, K] int8 quants, four
//                                  per u32 (element k in byte k % 4), then one f32 scale per 32 elements
//                                  (row-major blocks) from u32 word p.scaleOff
//           2 x: array<vec4<f32>>  [K]
//           3 y: array<f32>        [N] (written)
// Dispatch: ceil(N / RPW) workgroups of WG threads, laid out as (min(count, 65535), ceil(count / 65535)).
// Each workgroup owns RPW rows; TPR = WG / RPW threads share a row, striding along K with 16-byte loads,
// four independent loads in flight per thread, then the TPR partial sums are reduced.
// CHECK = false is the fast path: legal when K % 4 == 0 (f32), K % 8 == 0 (f16) or K % 16 == 0 (q8_0,
// whose K is a multiple of its 32-element blocks anyway); CHECK = true reads element by element (any K).
// Rows >= N are computed as zero and not stored.

override WG: u32 = 256u; // threads per workgroup (a power of two)
override RPW: u32 = 4u; // rows per workgroup (a power of two dividing WG)
override WTYPE: u32 = 0u;
override CHECK: bool = true;
override TPR: u32 = WG / RPW; // threads per row

struct Params { N: u32, K: u32, scaleOff: u32, _pad: u32 }

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

// Four int8 quants of one u32 word (byte i = element i), as f32.
fn i8x4(v: u32) -> vec4<f32> {
  let s = bitcast<i32>(v);
  return vec4<f32>(f32(extractBits(s, 0u, 8u)), f32(extractBits(s, 8u, 8u)), f32(extractBits(s, 16u, 8u)),
                   f32(extractBits(s, 24u, 8u)));
}

// Word i of the q8_0 scale table (f32 bits).
fn scaleW(i: u32) -> f32 {
  let s = p.scaleOff + i;
  return bitcast<f32>(w[s >> 2u][s & 3u]);
}

// q8_0: 16 weights of 16-byte group g (half of block g / 2: K % 32 == 0 keeps a group inside one block) dotted
// with x vec4s xi..xi+3, scaled once.
fn dot16q(g: u32, xi: u32) -> f32 {
  let q = w[g];
  return scaleW(g >> 1u) * ((dot(i8x4(q.x), x[xi]) + dot(i8x4(q.y), x[xi + 1u])) +
                            (dot(i8x4(q.z), x[xi + 2u]) + dot(i8x4(q.w), x[xi + 3u])));
}

// Element e (flat row-major index into W) as f32: the bounds-checked path.
fn elemW(e: u32) -> f32 {
  if (WTYPE == 0u) { return bitcast<f32>(w[e >> 2u][e & 3u]); }
  if (WTYPE == 2u) {
    let word = e >> 2u;
    return f32(extractBits(bitcast<i32>(w[word >> 2u][word & 3u]), (e & 3u) * 8u, 8u)) * scaleW(e >> 5u);
  }
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
  } else if (WTYPE == 2u) {
    let k16 = p.K / 16u; // 16-byte groups of 16 quants per row
    let base = n * k16;
    var j = l;
    for (; j + 3u * TPR < k16; j += 4u * TPR) {
      s0 += dot16q(base + j, 4u * j);
      s1 += dot16q(base + j + TPR, 4u * (j + TPR));
      s2 += dot16q(base + j + 2u * TPR, 4u * (j + 2u * TPR));
      s3 += dot16q(base + j + 3u * TPR, 4u * (j + 3u * TPR));
    }
    for (; j < k16; j += TPR) { s0 += dot16q(base + j, 4u * j); }
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
