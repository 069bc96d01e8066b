// Matrix-vector product for decode: y[N] = W[N,K] . x[K], W row-major (out, in) as GGUF stores it.
// This variant reduces with subgroupAdd and needs the `subgroups` feature; gemv.wgsl is the plain
// kernel reducing through workgroup memory (one row per thread). Subgroups must not straddle row
// groups: the host picks it only when the adapter's largest subgroup size divides TPR.
//
// Bindings: 0 uniform Params {N, K, scaleOff, _pad}
//           1 w: array<vec4<u32>>  WTYPE 0: [N, K] f32 bits; WTYPE 1: [N, K] f16, two halves per u32
//                                  (element k in the low half when k is even), unpacked with
//                                  unpack2x16float so shader-f16 is not needed; WTYPE 2: q8_0 as
//                                  src/kernels/common.ts repack() lays it out: [N, K] int8 quants, four
//                                  per u32 (element k in byte k % 4), then one f32 scale per 32 elements
//                                  (row-major blocks) from u32 word p.scaleOff
//           2 x: array<vec4<f32>>  [K]; with XQ (q8_0 only): x quantized by quantize_q8.wgsl, K/4 words of
//                                  int8 quants then K/32 f32 block scales, read through the same binding
//           3 y: array<f32>        [N] (written)
// Dispatch: ceil(N / RPW) workgroups of WG threads, laid out as (min(count, 65535), ceil(count / 65535)).
// Each workgroup owns RPW rows in groups of RT rows; the TPR = WG * RT / RPW threads of a group stride
// along K in 16-byte weight loads (4 f32, 8 f16 or 16 q8_0 values), two steps per loop turn, then the TPR
// partial sums of each row are reduced.
// Why RT rows per thread: a 16-byte load of weights needs 16 (f32), 32 (f16) or 64 (q8_0) bytes of x. At
// one row per thread, q8_0 reads 4x as many x bytes (from L1/L2) as weight bytes; RT rows share each x load
// (q8_0 at RT = 4: 1.04-1.66x the one-row layout in all 12 same-process comparisons on an H200,
// bench/results/gpu-kernels-gemv-q8-*). f32 and f16 do best at RT = 1 (x costs them 1x / 2x).
// CHECK = false is the fast path: legal when K % 4 == 0 (f32), K % 8 == 0 (f16) or K % 16 == 0 (q8_0,
// whose K is a multiple of its 32-element blocks anyway); CHECK = true reads element by element (any K).
// Rows >= N recompute row N - 1 and are not stored.
// q8_0 quants convert with extractBits + i32 -> f32: building 2^23 + (q + 128) from bits and subtracting
// measured the same (within 5% either way on the four H200 shapes), so the plain form stays.
// XQ (q8_0 only): x arrives as int8 quants + block scales, and a group is 4 dot4I8Packed (16 exact integer
// products) scaled once by (weight scale * x scale): 69-74% of an H200's HBM bandwidth on the large shapes where
// the float form measured 13-56% (bench/results/gpu-kernels-gemv-q8-*). The price is ggml's activation rounding.

enable subgroups;

override WG: u32 = 256u; // threads per workgroup (a power of two)
override RPW: u32 = 4u; // rows per workgroup (a power of two)
override RT: u32 = 1u; // rows per thread (a power of two dividing RPW, <= RMAX)
override WTYPE: u32 = 0u;
override CHECK: bool = true;
override XQ: bool = false; // q8_0 against int8 x (see above)
override TPR: u32 = WG * RT / RPW; // threads per group of RT rows
const RMAX: u32 = 4u;

struct Params { N: u32, K: u32, scaleOff: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>; // RT partial sums per subgroup (RT <= 4 <= the smallest subgroup size)

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

// The weight group g (16 bytes) dotted with its x vec4s x0..x3 (x1.. unused for f32, x2, x3 for f16).
fn groupDot(g: u32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> f32 {
  let q = w[g];
  if (WTYPE == 0u) { return dot(bitcast<vec4<f32>>(q), x0); }
  if (WTYPE == 1u) { return dot8h(q, x0, x1); }
  // q8_0: a group is half of block g / 2 (K % 32 == 0 keeps it inside one block): one scale.
  return scaleW(g >> 1u) * ((dot(i8x4(q.x), x0) + dot(i8x4(q.y), x1)) + (dot(i8x4(q.z), x2) + dot(i8x4(q.w), x3)));
}

// One K step j of the RT rows n0.. (rows past N read row N - 1): the x vec4s once, then a group per row.
fn step(s: ptr<function, array<f32, RMAX>>, n0: u32, j: u32, kG: u32) {
  let XV = 1u << WTYPE; // x vec4s per weight group: 1, 2, 4
  let xb = j * XV;
  let x0 = x[xb];
  var x1 = vec4<f32>(0.0);
  var x2 = vec4<f32>(0.0);
  var x3 = vec4<f32>(0.0);
  if (WTYPE >= 1u) { x1 = x[xb + 1u]; }
  if (WTYPE == 2u) {
    x2 = x[xb + 2u];
    x3 = x[xb + 3u];
  }
  for (var i = 0u; i < RT; i++) {
    let n = min(n0 + i, p.N - 1u);
    (*s)[i] += groupDot(n * kG + j, x0, x1, x2, x3);
  }
}

// XQ step j of the RT rows n0..: 16 int8 products per row by four dot4I8Packed, exact in i32.
fn stepXq(s: ptr<function, array<f32, RMAX>>, n0: u32, j: u32, kG: u32) {
  let xq = bitcast<vec4<u32>>(x[j]); // the 16 x quants of group j
  let xi = p.K / 4u + (j >> 1u); // word of block j / 2's x scale
  let dx = x[xi >> 2u][xi & 3u];
  for (var i = 0u; i < RT; i++) {
    let g = min(n0 + i, p.N - 1u) * kG + j;
    let q = w[g];
    let si = (dot4I8Packed(q.x, xq.x) + dot4I8Packed(q.y, xq.y)) + (dot4I8Packed(q.z, xq.z) + dot4I8Packed(q.w, xq.w));
    (*s)[i] += scaleW(g >> 1u) * dx * f32(si);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_size) sgSize: u32,
        @builtin(subgroup_invocation_id) sgLane: u32) {
  let grp = li / TPR; // row group within the workgroup
  let l = li % TPR; // lane within the group
  let n0 = (wg.y * nwg.x + wg.x) * RPW + grp * RT; // first row of the group
  var s: array<f32, RMAX>;
  for (var i = 0u; i < RMAX; i++) { s[i] = 0.0; }
  if (CHECK) {
    for (var i = 0u; i < RT; i++) {
      let n = min(n0 + i, p.N - 1u);
      for (var k = l; k < p.K; k += TPR) { s[i] += elemW(n * p.K + k) * x[k >> 2u][k & 3u]; }
    }
  } else if (WTYPE == 2u && XQ) {
    let kG = p.K / 16u;
    var j = l;
    for (; j + TPR < kG; j += 2u * TPR) {
      stepXq(&s, n0, j, kG);
      stepXq(&s, n0, j + TPR, kG);
    }
    if (j < kG) { stepXq(&s, n0, j, kG); }
  } else {
    let kG = p.K / (4u << WTYPE); // 16-byte weight groups per row
    var j = l;
    for (; j + TPR < kG; j += 2u * TPR) {
      step(&s, n0, j, kG);
      step(&s, n0, j + TPR, kG);
    }
    if (j < kG) { step(&s, n0, j, kG); }
  }
  let sub = li / sgSize; // subgroups of a 1-D workgroup hold consecutive invocation indices
  for (var i = 0u; i < RT; i++) {
    let t = subgroupAdd(s[i]); // every lane of the subgroup belongs to this row group (sgSize divides TPR)
    if (sgLane == 0u) { red[sub * RT + i] = t; }
  }
  workgroupBarrier();
  if (l == 0u) {
    let per = TPR / sgSize; // subgroups per row group
    for (var i = 0u; i < RT; i++) {
      if (n0 + i < p.N) {
        var acc = 0.0;
        for (var u = 0u; u < per; u++) { acc += red[(grp * per + u) * RT + i]; }
        y[n0 + i] = acc;
      }
    }
  }
}
