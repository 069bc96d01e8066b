// Strided register-tiled f32 GEMM for the materialised-scores attention (src/kernels/diffusion/
// attention-gemm.ts): both matrix products of single-head spatial self-attention, read straight from
// the channel-major activations and the score buffer (no transposes, no copies):
//   scores  S[i, j] = scale * sum_c q[c, i] k[c, j]   M = queries of the chunk, N = lk, K = c;
//           A(m, k) = qBuf[qBase + q0 + k * lq + m], B(n, k) = kvBuf[kBase + k * lk + n] (both "k-major")
//   output  O[ch, i] = sum_j v[ch, j] P[i, j]         M = c, N = queries of the chunk, K = lk;
//           A(m, k) = kvBuf[vBase + m * lk + k], B(n, k) = P[n * ldS + k] (both k-contiguous)
// General form, with split-K over workgroup z (k in [z * kPer, min(K, (z + 1) * kPer))):
//   C[cBase + z * cSplit + m * ldc + n] = alpha * sum_{k in split z} A(m, k) B(n, k)
//   A(m, k) = a[aBase + (A_KM ? k * lda + m : m * lda + k)]   (B likewise: b, bBase, ldb, B_KM)
// Split partials are summed by the caller's next kernel (attention_softmax.wgsl for the scores,
// attention_splitk.wgsl for the output). Split-K exists because the output GEMM is c x queries
// (640 x 4096: 160 tiles of 128 x 128, barely one per SM) with a long K = lk.
//
// Bindings: 0 Params, 1 a (read), 2 b (read; may be the same buffer as a), 3 c (read_write).
//           All viewed as vec4 (16-byte loads on the fast path); sizes must be multiples of 16 bytes
//           (Gpu.alloc/upload round up). Offsets and strides are in floats.
// Dispatch: (ceil(N / BN), ceil(M / BM), splits) workgroups of (WG_X, WG_Y) threads,
//           BM = WG_Y * TM, BN = WG_X * TN. Every split must be non-empty (host-planned).
//
// The tile machinery is shaders/gemm/gemm_reg.wgsl's (its loop form measured 44 TFLOPS at 4096^3 on
// an H100 with 128x128 t16x8 bk8 s1 w4, bench/results/gemm-sweep-nvidia-h100-2026-11-28.md): each
// thread owns TM x TN outputs (TM/4 groups of 4 rows strided by 4*WG_Y, TN/4 vec4 columns strided by
// 4*WG_X); shared memory is [stage][k-chunk][row/4] of Chunk = array<vec4, 9> so Dawn's robustness
// clamps fold out of the unrolled k loop and the 9th (padding) vec4 spreads rows over banks. What is
// new here: either operand may be stored k-major (the tile's global quads run along m / n and go to
// shared memory as they are) or k-contiguous (quads run along k and are transposed on the store),
// base offsets and leading dimensions in Params, alpha, and split-K.
// CHECK = false (fast path) is legal only when M % BM == 0, N % BN == 0, K % BK == 0, kPer % BK == 0
// and A_VEC, B_VEC, C_VEC all hold. CHECK = true bounds-checks every quad (any M, N, K); there the
// X_VEC flags still allow one 16-byte access for quads wholly inside.
// X_VEC: base, leading dimension (and cSplit) of that operand are multiples of 4 floats.
// Host-checked constraints: TM, TN in {4, 8, 12, 16}, TM * TN <= 128; BK % 8 == 0; STAGES 1 or 2;
// (BM * BK / 4) and (BN * BK / 4) multiples of NT, at most 8 per thread; warp tiling (WARP_X > 0):
// NT % 32 == 0, 32 % WARP_X == 0, WG_X % WARP_X == 0, WG_Y % (32 / WARP_X) == 0.

override WG_X: u32 = 16u; // threads along N
override WG_Y: u32 = 8u; // threads along M
override TM: u32 = 16u; // rows of C per thread (multiple of 4)
override TN: u32 = 8u; // columns of C per thread (multiple of 4)
override BK: u32 = 8u; // K step of one shared-memory tile (multiple of KC)
override STAGES: u32 = 1u; // shared-memory stages: 1 (two barriers per tile) or 2 (one)
override WARP_X: u32 = 4u; // threads along N inside one 32-wide subgroup; 0 = row-major threads
override A_KM: bool = true; // A stored [K, M] (k-major); false: [M, K]
override B_KM: bool = true; // B stored [K, N] (k-major); false: [N, K]
override A_VEC: bool = false;
override B_VEC: bool = false;
override C_VEC: bool = false;
override CHECK: bool = true;

override NT: u32 = WG_X * WG_Y; // threads per workgroup
override BM: u32 = WG_Y * TM; // rows of C per workgroup
override BN: u32 = WG_X * TN; // columns of C per workgroup
override BM4: u32 = BM / 4u;
override BN4: u32 = BN / 4u;
override BK4: u32 = BK / 4u;
override NKC: u32 = BK / 8u; // k-chunks per tile
override A_LOADS: u32 = BM * BK / 4u / NT; // global quads per thread per tile (<= 8)
override B_LOADS: u32 = BN * BK / 4u / NT;
override WX: u32 = max(WARP_X, 1u); // WARP_X as a divisor (overrides fold even in dead branches)

const KC = 8u; // k steps per chunk (inner, constant-indexed dimension)
alias Chunk = array<vec4<f32>, 9>; // KC vec4s + 1 padding vec4

struct Params {
  M: u32,
  N: u32,
  K: u32,
  kPer: u32, // k per split (a multiple of BK)
  aBase: u32,
  lda: u32,
  bBase: u32,
  ldb: u32,
  cBase: u32,
  ldc: u32,
  cSplit: u32, // floats between split z's partial C and split z + 1's
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// As[(s*NKC + kc)*BM4 + m/4][k][m%4] = A(m0 + m, k0 + kc*8 + k); Bs likewise with n.
var<workgroup> As: array<Chunk, STAGES * NKC * BM4>;
var<workgroup> Bs: array<Chunk, STAGES * NKC * BN4>;

// Four consecutive floats of A's storage: stored row o (< oLim), elements i..i+3 (< iLim); zero outside.
fn quadA(o: u32, i: u32, oLim: u32, iLim: u32) -> vec4<f32> {
  let e = p.aBase + o * p.lda + i;
  if (!CHECK) { return a[e >> 2u]; }
  var v = vec4<f32>(0.0);
  if (o < oLim) {
    if (A_VEC && i + 4u <= iLim) { return a[e >> 2u]; }
    for (var j = 0u; j < 4u; j++) {
      if (i + j < iLim) { v[j] = a[(e + j) >> 2u][(e + j) & 3u]; }
    }
  }
  return v;
}

fn quadB(o: u32, i: u32, oLim: u32, iLim: u32) -> vec4<f32> {
  let e = p.bBase + o * p.ldb + i;
  if (!CHECK) { return b[e >> 2u]; }
  var v = vec4<f32>(0.0);
  if (o < oLim) {
    if (B_VEC && i + 4u <= iLim) { return b[e >> 2u]; }
    for (var j = 0u; j < 4u; j++) {
      if (i + j < iLim) { v[j] = b[(e + j) >> 2u][(e + j) & 3u]; }
    }
  }
  return v;
}

// Quad q of the A tile. k-major: k row q / BM4, m-quad q % BM4 (consecutive threads read one
// contiguous k row). k-contiguous: row q / BK4, k-quad q % BK4.
fn loadA(li: u32, m0: u32, k0: u32, kEnd: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  if (A_KM) { return quadA(k0 + q / BM4, m0 + (q % BM4) * 4u, kEnd, p.M); }
  return quadA(m0 + q / BK4, k0 + (q % BK4) * 4u, p.M, kEnd);
}

fn loadB(li: u32, n0: u32, k0: u32, kEnd: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  if (B_KM) { return quadB(k0 + q / BN4, n0 + (q % BN4) * 4u, kEnd, p.N); }
  return quadB(n0 + q / BK4, k0 + (q % BK4) * 4u, p.N, kEnd);
}

// Registers -> stage s. k-major quads are already 4 consecutive m at one k; k-contiguous quads are
// transposed (4 consecutive k of row r become component r%4 of 4 vec4s).
fn storeA(li: u32, s: u32, i: u32, v: vec4<f32>) {
  let q = li + i * NT;
  if (A_KM) {
    let k = q / BM4;
    As[(s * NKC + k / KC) * BM4 + q % BM4][k % KC] = v;
    return;
  }
  let r = q / BK4;
  let k = (q % BK4) * 4u;
  let o = (s * NKC + k / KC) * BM4 + r / 4u;
  let kk = k % KC;
  As[o][kk][r % 4u] = v.x;
  As[o][kk + 1u][r % 4u] = v.y;
  As[o][kk + 2u][r % 4u] = v.z;
  As[o][kk + 3u][r % 4u] = v.w;
}

fn storeB(li: u32, s: u32, i: u32, v: vec4<f32>) {
  let q = li + i * NT;
  if (B_KM) {
    let k = q / BN4;
    Bs[(s * NKC + k / KC) * BN4 + q % BN4][k % KC] = v;
    return;
  }
  let r = q / BK4;
  let k = (q % BK4) * 4u;
  let o = (s * NKC + k / KC) * BN4 + r / 4u;
  let kk = k % KC;
  Bs[o][kk][r % 4u] = v.x;
  Bs[o][kk + 1u][r % 4u] = v.y;
  Bs[o][kk + 2u][r % 4u] = v.z;
  Bs[o][kk + 3u][r % 4u] = v.w;
}

// C(row, col..col+3) of split z; scalar stores at ragged or unaligned edges.
fn storeC(row: u32, col: u32, z: u32, v: vec4<f32>) {
  let e = p.cBase + z * p.cSplit + row * p.ldc + col;
  if (!CHECK) {
    c[e >> 2u] = v;
    return;
  }
  if (row >= p.M) { return; }
  if (C_VEC && col + 4u <= p.N) {
    c[e >> 2u] = v;
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    if (col + j < p.N) { c[(e + j) >> 2u][(e + j) & 3u] = v[j]; }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let kBeg = wg.z * p.kPer;
  let kEnd = min(p.K, kBeg + p.kPer);

  // Thread coordinates inside the workgroup (a permutation of li).
  var tx = li % WG_X;
  var ty = li / WG_X;
  if (WARP_X > 0u) {
    let warp = li / 32u;
    let lane = li % 32u;
    let warpsX = WG_X / WX;
    tx = (warp % warpsX) * WX + lane % WX;
    ty = (warp / warpsX) * (32u / WX) + lane / WX;
  }

  var acc: array<vec4<f32>, 32>; // acc[i*(TN/4) + j]: C row m0 + ((i/4)*WG_Y + ty)*4 + i%4, cols n0 + (j*WG_X + tx)*4..+3
  var ra: array<vec4<f32>, 8>; // prefetched A quads of the next tile
  var rb: array<vec4<f32>, 8>; // prefetched B quads of the next tile

  let nTiles = select(0u, (kEnd - kBeg + BK - 1u) / BK, kEnd > kBeg);
  if (nTiles > 0u) {
    for (var i = 0u; i < A_LOADS; i++) { storeA(li, 0u, i, loadA(li, m0, kBeg, kEnd, i)); }
    for (var i = 0u; i < B_LOADS; i++) { storeB(li, 0u, i, loadB(li, n0, kBeg, kEnd, i)); }
  }
  workgroupBarrier();

  for (var t = 0u; t < nTiles; t++) {
    let s = t % STAGES;
    let more = t + 1u < nTiles;
    if (more) {
      let k1 = kBeg + (t + 1u) * BK;
      for (var i = 0u; i < A_LOADS; i++) { ra[i] = loadA(li, m0, k1, kEnd, i); }
      for (var i = 0u; i < B_LOADS; i++) { rb[i] = loadB(li, n0, k1, kEnd, i); }
    }
    for (var kc = 0u; kc < NKC; kc++) {
      let oA = (s * NKC + kc) * BM4 + ty; // chunk row of this thread's first A quad
      let oB = (s * NKC + kc) * BN4 + tx;
      for (var k = 0u; k < KC; k++) {
        var av: array<vec4<f32>, 4>; // A[rows of group i4, k]
        var bv: array<vec4<f32>, 4>; // B[k, columns of group j]
        for (var i4 = 0u; i4 < TM / 4u; i4++) { av[i4] = As[oA + i4 * WG_Y][k]; }
        for (var j = 0u; j < TN / 4u; j++) { bv[j] = Bs[oB + j * WG_X][k]; }
        for (var i = 0u; i < TM; i++) {
          let ai = vec4<f32>(av[i / 4u][i % 4u]);
          for (var j = 0u; j < TN / 4u; j++) {
            acc[i * (TN / 4u) + j] = fma(ai, bv[j], acc[i * (TN / 4u) + j]);
          }
        }
      }
    }
    if (STAGES == 1u) { workgroupBarrier(); } // one stage: everyone must finish reading before it is overwritten
    if (more) {
      let s1 = (t + 1u) % STAGES;
      for (var i = 0u; i < A_LOADS; i++) { storeA(li, s1, i, ra[i]); }
      for (var i = 0u; i < B_LOADS; i++) { storeB(li, s1, i, rb[i]); }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let row = m0 + ((i / 4u) * WG_Y + ty) * 4u + i % 4u;
    for (var j = 0u; j < TN / 4u; j++) {
      storeC(row, n0 + (j * WG_X + tx) * 4u, wg.z, p.alpha * acc[i * (TN / 4u) + j]);
    }
  }
}
