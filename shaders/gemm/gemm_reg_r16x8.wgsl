// Register-prefetch variant of gemm_reg_u16x8.wgsl (TM = 16, TN = 8 fixed, hand-unrolled FMA block) that
// also reads f16 and q8_0 weights: C[M,N] = A[M,K] * op(B), op(B) = B[K,N] (B_T = false) or B[N,K]^T (B_T = true).
//
// Bindings: 0 uniform Params {M, N, K, scaleOff}
//           1 a: array<vec4<f32>>  [M, K] f32
//           2 b: array<vec4<u32>>  [K, N] or [N, K]: f32 bits (B_F16 = B_Q8 = false), or (B_F16, B_T only)
//                                  f16 pairs packed low-half-first in u32 words (the GGUF f16 row-major bytes;
//                                  unpack2x16float, so no shader-f16 is needed), or (B_Q8 = true, B_T only)
//                                  q8_0 repacked: N*K int8 quants 4 per word, then at word scaleOff one f32
//                                  scale per 32-element block along K (K % 32 == 0)
//           3 c: array<vec4<f32>>  [M, N] f32 (written)
// Buffers must be sized to a multiple of 16 bytes.
// Dispatch: (ceil(N / BN), ceil(M / BM)) workgroups of (WG_X, WG_Y) threads, BM = 16*WG_Y, BN = 8*WG_X.
//
// Differences from gemm_reg_u16x8.wgsl (read its header and gemm_reg.wgsl's for the shared-memory layout,
// warp tiling and L2 grouping, which are the same here):
// - The next tile's global loads are prefetched into named registers ra0..ra7 / rb0..rb7 instead of
//   function-local arrays indexed by a loop counter: with Dawn's robustness on, a dynamic index into a
//   function array is clamped, and a driver that cannot prove the clamp folds keeps the array in local
//   memory (off-chip). Every register access here is by name, so robustness adds nothing to it.
//   Host constraint: A_LOADS and B_LOADS (global vec4 loads per thread per tile) are 1..8 (5..8: the
//   64-thread 128x64 / 64x128 tiles with BK = 16; registers ra4..ra7 / rb4..rb7 exist only there).
// - B is read as vec4<u32>: 4 f32 (bitcast) or, with B_F16, 8 halves along K; one global load per 16 bytes
//   either way (one robustness clamp per 16 bytes). B_F16 requires B_T and BK % 8 == 0 (host-checked).
//   With B_Q8 a piece is also 8 values along K: 8 quants (2 words) plus their block's scale in the third word,
//   so the prefetch registers keep one type and the f16 store path serves both; a scale read per 8 quants is
//   an L1 hit for all but the first piece of a 32-block. Same host constraints as B_F16.
// - CHECK is three-valued: 0 = aligned fast path (M % BM == 0, N % BN == 0, K % BK == 0); 1 = only M is
//   ragged (N % BN == 0, K % BK == 0): A rows past M are clamped to row M-1 (valid reads, results
//   discarded) and C rows past M are not stored, so prefill of any prompt length keeps the vec4 path;
//   2 = every element bounds-checked (any M, N, K).
// Rows of C do not depend on M or on the other rows (each output is one sequential K walk of FMAs), so the
// result of row m is the same whatever M is, for a fixed config.

override WG_X: u32 = 16u; // threads along N
override WG_Y: u32 = 8u; // threads along M
const TM = 16u; // rows of C per thread (fixed in this file)
const TN = 8u; // columns of C per thread (fixed in this file)
override BK: u32 = 8u; // K step of one shared-memory tile (multiple of KC)
override STAGES: u32 = 1u; // shared-memory stages: 1 or 2
override WARP_X: u32 = 4u; // threads along N inside one 32-wide subgroup; 0 = plain row-major threads
override GROUP_M: u32 = 0u; // tile rows per L2 swizzle group; 0 or 1 = plain raster order
override B_T: bool = false;
override B_F16: bool = false; // B holds packed f16 (only with B_T)
override B_Q8: bool = false; // B holds repacked q8_0 (only with B_T)
override CHECK: u32 = 2u; // 0 aligned, 1 ragged M only, 2 any shape

override NT: u32 = WG_X * WG_Y; // threads per workgroup
override BM: u32 = WG_Y * TM; // rows of C per workgroup
override BN: u32 = WG_X * TN; // columns of C per workgroup
override BM4: u32 = BM / 4u;
override BN4: u32 = BN / 4u;
override NKC: u32 = BK / 8u; // k-chunks per tile
override A_LOADS: u32 = BM * BK / 4u / NT; // global vec4 loads per thread per tile (1..8)
override BQ: u32 = select(4u, 8u, B_F16 || B_Q8); // B elements per load (a packed piece: 8 along K)
override B_LOADS: u32 = BN * BK / BQ / NT; // (1..8)
override WX: u32 = max(WARP_X, 1u); // WARP_X as a divisor (overrides fold even in dead branches)

const KC = 8u; // k steps per chunk (inner, constant-indexed dimension)
alias Chunk = array<vec4<f32>, 9>; // KC vec4s + 1 padding vec4

struct Params { M: u32, N: u32, K: u32, scaleOff: u32 } // scaleOff: q8_0 only

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// As[(s*NKC + kc)*BM4 + m/4][k][m%4] = A[m0 + m, k0 + kc*8 + k]; Bs likewise with n.
var<workgroup> As: array<Chunk, STAGES * NKC * BM4>;
var<workgroup> Bs: array<Chunk, STAGES * NKC * BN4>;

fn elemA(e: u32) -> f32 { return a[e >> 2u][e & 3u]; }
fn wordB(w: u32) -> u32 { return b[w >> 2u][w & 3u]; }
// Element e (row-major index) of B as f32, whatever its storage type.
fn elemB(e: u32) -> f32 {
  if (B_F16) {
    let h = unpack2x16float(wordB(e >> 1u));
    return select(h.x, h.y, (e & 1u) == 1u);
  }
  return bitcast<f32>(wordB(e));
}

// A[row, col..col+3] (col % 4 == 0), zero outside (CHECK 2) or row clamped (CHECK 1).
fn quadA(row: u32, col: u32) -> vec4<f32> {
  if (CHECK == 0u) { return a[(row * p.K + col) >> 2u]; }
  if (CHECK == 1u) { return a[(min(row, p.M - 1u) * p.K + col) >> 2u]; }
  var v = vec4<f32>(0.0);
  if (row < p.M) {
    for (var j = 0u; j < 4u; j++) {
      if (col + j < p.K) { v[j] = elemA(row * p.K + col + j); }
    }
  }
  return v;
}

// The 16 bytes of B holding row `row`, columns col.. of a row-major [rows, cols] B (4 f32 or 8 f16),
// zero-filled outside the matrix when CHECK == 2.
fn quadB(row: u32, col: u32, rows: u32, cols: u32) -> vec4<u32> {
  if (B_Q8) { // (quants of col..col+7, their block's scale, 0); K % 32 == 0, so a piece is all in or all out
    if (CHECK == 2u && (row >= rows || col >= cols)) { return vec4<u32>(0u); }
    let e = row * cols + col; // first element of the piece (e % 8 == 0)
    let v = b[e >> 4u];
    return vec4<u32>(select(v.xy, v.zw, (e & 8u) != 0u), wordB(p.scaleOff + (e >> 5u)), 0u);
  }
  if (CHECK < 2u) { return b[(row * cols + col) / BQ]; }
  var v = vec4<u32>(0u);
  if (row < rows) {
    if (B_F16) {
      for (var j = 0u; j < 4u; j++) {
        let k = col + 2u * j;
        let lo = select(0.0, elemB(row * cols + k), k < cols);
        let hi = select(0.0, elemB(row * cols + k + 1u), k + 1u < cols);
        v[j] = pack2x16float(vec2<f32>(lo, hi));
      }
    } else {
      for (var j = 0u; j < 4u; j++) {
        if (col + j < cols) { v[j] = wordB(row * cols + col + j); }
      }
    }
  }
  return v;
}

// Quad q of the A tile: row q / (BK/4), k-quad q % (BK/4).
fn loadA(li: u32, m0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  return quadA(m0 + q / (BK / 4u), k0 + (q % (BK / 4u)) * 4u);
}

// 16-byte piece q of the B tile: B_T: row q / (BK/BQ), k-run q % (BK/BQ); else k row q / BN4, n-quad q % BN4.
fn loadB(li: u32, n0: u32, k0: u32, i: u32) -> vec4<u32> {
  let q = li + i * NT;
  if (B_T) { return quadB(n0 + q / (BK / BQ), k0 + (q % (BK / BQ)) * BQ, p.N, p.K); }
  return quadB(k0 + q / BN4, n0 + (q % BN4) * 4u, p.K, p.N);
}

// Registers -> stage s, transposed: 4 consecutive k of row r become component r%4 of 4 vec4s.
fn storeA(li: u32, s: u32, i: u32, v: vec4<f32>) {
  let q = li + i * NT;
  let r = q / (BK / 4u);
  let k = (q % (BK / 4u)) * 4u;
  let o = (s * NKC + k / KC) * BM4 + r / 4u;
  let kk = k % KC;
  As[o][kk][r % 4u] = v.x;
  As[o][kk + 1u][r % 4u] = v.y;
  As[o][kk + 2u][r % 4u] = v.z;
  As[o][kk + 3u][r % 4u] = v.w;
}

// Values 4j..4j+3 (j = 0 or 1) of a packed piece: f16 halves, or q8_0 quants times the scale (exact in f32).
fn pieceB(v: vec4<u32>, j: u32) -> vec4<f32> {
  if (B_Q8) {
    let w = bitcast<i32>(v[j]);
    return vec4<f32>(f32(extractBits(w, 0u, 8u)), f32(extractBits(w, 8u, 8u)), f32(extractBits(w, 16u, 8u)),
      f32(extractBits(w, 24u, 8u))) * bitcast<f32>(v.z);
  }
  return vec4<f32>(unpack2x16float(v[2u * j]), unpack2x16float(v[2u * j + 1u]));
}

fn storeB(li: u32, s: u32, i: u32, v: vec4<u32>) {
  let q = li + i * NT;
  if (B_F16 || B_Q8) { // 8 consecutive k of row r (a whole chunk row: k % KC == 0)
    let r = q / (BK / 8u);
    let k = (q % (BK / 8u)) * 8u;
    let o = (s * NKC + k / KC) * BN4 + r / 4u;
    let lo = pieceB(v, 0u);
    let hi = pieceB(v, 1u);
    Bs[o][0u][r % 4u] = lo.x;
    Bs[o][1u][r % 4u] = lo.y;
    Bs[o][2u][r % 4u] = lo.z;
    Bs[o][3u][r % 4u] = lo.w;
    Bs[o][4u][r % 4u] = hi.x;
    Bs[o][5u][r % 4u] = hi.y;
    Bs[o][6u][r % 4u] = hi.z;
    Bs[o][7u][r % 4u] = hi.w;
  } else if (B_T) {
    let f = bitcast<vec4<f32>>(v);
    let r = q / (BK / 4u);
    let k = (q % (BK / 4u)) * 4u;
    let o = (s * NKC + k / KC) * BN4 + r / 4u;
    let kk = k % KC;
    Bs[o][kk][r % 4u] = f.x;
    Bs[o][kk + 1u][r % 4u] = f.y;
    Bs[o][kk + 2u][r % 4u] = f.z;
    Bs[o][kk + 3u][r % 4u] = f.w;
  } else {
    let k = q / BN4;
    Bs[(s * NKC + k / KC) * BN4 + q % BN4][k % KC] = bitcast<vec4<f32>>(v); // 4 consecutive n at one k
  }
}

fn storeC(row: u32, col: u32, v: vec4<f32>) {
  if (CHECK == 0u) {
    c[(row * p.N + col) >> 2u] = v;
    return;
  }
  if (row >= p.M) { return; }
  if (CHECK == 1u) {
    c[(row * p.N + col) >> 2u] = v;
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    let e = row * p.N + col + j;
    if (col + j < p.N) { c[e >> 2u][e & 3u] = v[j]; }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  // Tile coordinates, optionally regrouped for L2 reuse (a permutation of the grid).
  var tileM = wg.y;
  var tileN = wg.x;
  if (GROUP_M > 1u) {
    let pid = wg.y * nwg.x + wg.x;
    let perGroup = GROUP_M * nwg.x;
    let firstM = (pid / perGroup) * GROUP_M;
    let gsz = min(nwg.y - firstM, GROUP_M);
    tileM = firstM + (pid % perGroup) % gsz;
    tileN = (pid % perGroup) / gsz;
  }
  let m0 = tileM * BM;
  let n0 = tileN * BN;

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

  // c{i}_{j}: C row m0 + ((i/4)*WG_Y + ty)*4 + i%4, cols n0 + (j*WG_X + tx)*4..+3
  var c0_0 = vec4<f32>(0.0); var c0_1 = vec4<f32>(0.0);
  var c1_0 = vec4<f32>(0.0); var c1_1 = vec4<f32>(0.0);
  var c2_0 = vec4<f32>(0.0); var c2_1 = vec4<f32>(0.0);
  var c3_0 = vec4<f32>(0.0); var c3_1 = vec4<f32>(0.0);
  var c4_0 = vec4<f32>(0.0); var c4_1 = vec4<f32>(0.0);
  var c5_0 = vec4<f32>(0.0); var c5_1 = vec4<f32>(0.0);
  var c6_0 = vec4<f32>(0.0); var c6_1 = vec4<f32>(0.0);
  var c7_0 = vec4<f32>(0.0); var c7_1 = vec4<f32>(0.0);
  var c8_0 = vec4<f32>(0.0); var c8_1 = vec4<f32>(0.0);
  var c9_0 = vec4<f32>(0.0); var c9_1 = vec4<f32>(0.0);
  var c10_0 = vec4<f32>(0.0); var c10_1 = vec4<f32>(0.0);
  var c11_0 = vec4<f32>(0.0); var c11_1 = vec4<f32>(0.0);
  var c12_0 = vec4<f32>(0.0); var c12_1 = vec4<f32>(0.0);
  var c13_0 = vec4<f32>(0.0); var c13_1 = vec4<f32>(0.0);
  var c14_0 = vec4<f32>(0.0); var c14_1 = vec4<f32>(0.0);
  var c15_0 = vec4<f32>(0.0); var c15_1 = vec4<f32>(0.0);
  // Prefetched A quads and B pieces (raw bits: f32, packed f16 or a q8_0 piece) of the next tile; ra1..ra7 /
  // rb1..rb7 are used when A_LOADS / B_LOADS > 1..7 (4..7 only with 5..8 loads: the ifs fold away).
  var ra0: vec4<f32>; var ra1: vec4<f32>; var ra2: vec4<f32>; var ra3: vec4<f32>;
  var ra4: vec4<f32>; var ra5: vec4<f32>; var ra6: vec4<f32>; var ra7: vec4<f32>;
  var rb0: vec4<u32>; var rb1: vec4<u32>; var rb2: vec4<u32>; var rb3: vec4<u32>;
  var rb4: vec4<u32>; var rb5: vec4<u32>; var rb6: vec4<u32>; var rb7: vec4<u32>;

  // First tile straight to stage 0 (A_LOADS, B_LOADS are overrides: the ifs fold away).
  storeA(li, 0u, 0u, loadA(li, m0, 0u, 0u));
  if (A_LOADS > 1u) { storeA(li, 0u, 1u, loadA(li, m0, 0u, 1u)); }
  if (A_LOADS > 2u) { storeA(li, 0u, 2u, loadA(li, m0, 0u, 2u)); }
  if (A_LOADS > 3u) { storeA(li, 0u, 3u, loadA(li, m0, 0u, 3u)); }
  if (A_LOADS > 4u) { storeA(li, 0u, 4u, loadA(li, m0, 0u, 4u)); }
  if (A_LOADS > 5u) { storeA(li, 0u, 5u, loadA(li, m0, 0u, 5u)); }
  if (A_LOADS > 6u) { storeA(li, 0u, 6u, loadA(li, m0, 0u, 6u)); }
  if (A_LOADS > 7u) { storeA(li, 0u, 7u, loadA(li, m0, 0u, 7u)); }
  storeB(li, 0u, 0u, loadB(li, n0, 0u, 0u));
  if (B_LOADS > 1u) { storeB(li, 0u, 1u, loadB(li, n0, 0u, 1u)); }
  if (B_LOADS > 2u) { storeB(li, 0u, 2u, loadB(li, n0, 0u, 2u)); }
  if (B_LOADS > 3u) { storeB(li, 0u, 3u, loadB(li, n0, 0u, 3u)); }
  if (B_LOADS > 4u) { storeB(li, 0u, 4u, loadB(li, n0, 0u, 4u)); }
  if (B_LOADS > 5u) { storeB(li, 0u, 5u, loadB(li, n0, 0u, 5u)); }
  if (B_LOADS > 6u) { storeB(li, 0u, 6u, loadB(li, n0, 0u, 6u)); }
  if (B_LOADS > 7u) { storeB(li, 0u, 7u, loadB(li, n0, 0u, 7u)); }
  workgroupBarrier();

  let nTiles = (p.K + BK - 1u) / BK;
  for (var t = 0u; t < nTiles; t++) {
    let s = t % STAGES;
    let more = t + 1u < nTiles;
    if (more) { // next tile's global loads in flight during this tile's FMAs
      let k1 = (t + 1u) * BK;
      ra0 = loadA(li, m0, k1, 0u);
      if (A_LOADS > 1u) { ra1 = loadA(li, m0, k1, 1u); }
      if (A_LOADS > 2u) { ra2 = loadA(li, m0, k1, 2u); }
      if (A_LOADS > 3u) { ra3 = loadA(li, m0, k1, 3u); }
      if (A_LOADS > 4u) { ra4 = loadA(li, m0, k1, 4u); }
      if (A_LOADS > 5u) { ra5 = loadA(li, m0, k1, 5u); }
      if (A_LOADS > 6u) { ra6 = loadA(li, m0, k1, 6u); }
      if (A_LOADS > 7u) { ra7 = loadA(li, m0, k1, 7u); }
      rb0 = loadB(li, n0, k1, 0u);
      if (B_LOADS > 1u) { rb1 = loadB(li, n0, k1, 1u); }
      if (B_LOADS > 2u) { rb2 = loadB(li, n0, k1, 2u); }
      if (B_LOADS > 3u) { rb3 = loadB(li, n0, k1, 3u); }
      if (B_LOADS > 4u) { rb4 = loadB(li, n0, k1, 4u); }
      if (B_LOADS > 5u) { rb5 = loadB(li, n0, k1, 5u); }
      if (B_LOADS > 6u) { rb6 = loadB(li, n0, k1, 6u); }
      if (B_LOADS > 7u) { rb7 = loadB(li, n0, k1, 7u); }
    }
    for (var kc = 0u; kc < NKC; kc++) {
      let oA = (s * NKC + kc) * BM4 + ty; // chunk row of this thread's first A quad
      let oB = (s * NKC + kc) * BN4 + tx;
      // k = 0 (literal indices: in-bounds by construction, so no robustness clamp)
      let a0k0 = As[oA + 0u * WG_Y][0u]; // A[rows 0*4..+3 of this thread, k]
      let a1k0 = As[oA + 1u * WG_Y][0u]; // A[rows 1*4..+3 of this thread, k]
      let a2k0 = As[oA + 2u * WG_Y][0u]; // A[rows 2*4..+3 of this thread, k]
      let a3k0 = As[oA + 3u * WG_Y][0u]; // A[rows 3*4..+3 of this thread, k]
      let b0k0 = Bs[oB + 0u * WG_X][0u]; // B[k, column quad 0]
      let b1k0 = Bs[oB + 1u * WG_X][0u]; // B[k, column quad 1]
      c0_0 = fma(vec4<f32>(a0k0.x), b0k0, c0_0); c0_1 = fma(vec4<f32>(a0k0.x), b1k0, c0_1);
      c1_0 = fma(vec4<f32>(a0k0.y), b0k0, c1_0); c1_1 = fma(vec4<f32>(a0k0.y), b1k0, c1_1);
      c2_0 = fma(vec4<f32>(a0k0.z), b0k0, c2_0); c2_1 = fma(vec4<f32>(a0k0.z), b1k0, c2_1);
      c3_0 = fma(vec4<f32>(a0k0.w), b0k0, c3_0); c3_1 = fma(vec4<f32>(a0k0.w), b1k0, c3_1);
      c4_0 = fma(vec4<f32>(a1k0.x), b0k0, c4_0); c4_1 = fma(vec4<f32>(a1k0.x), b1k0, c4_1);
      c5_0 = fma(vec4<f32>(a1k0.y), b0k0, c5_0); c5_1 = fma(vec4<f32>(a1k0.y), b1k0, c5_1);
      c6_0 = fma(vec4<f32>(a1k0.z), b0k0, c6_0); c6_1 = fma(vec4<f32>(a1k0.z), b1k0, c6_1);
      c7_0 = fma(vec4<f32>(a1k0.w), b0k0, c7_0); c7_1 = fma(vec4<f32>(a1k0.w), b1k0, c7_1);
      c8_0 = fma(vec4<f32>(a2k0.x), b0k0, c8_0); c8_1 = fma(vec4<f32>(a2k0.x), b1k0, c8_1);
      c9_0 = fma(vec4<f32>(a2k0.y), b0k0, c9_0); c9_1 = fma(vec4<f32>(a2k0.y), b1k0, c9_1);
      c10_0 = fma(vec4<f32>(a2k0.z), b0k0, c10_0); c10_1 = fma(vec4<f32>(a2k0.z), b1k0, c10_1);
      c11_0 = fma(vec4<f32>(a2k0.w), b0k0, c11_0); c11_1 = fma(vec4<f32>(a2k0.w), b1k0, c11_1);
      c12_0 = fma(vec4<f32>(a3k0.x), b0k0, c12_0); c12_1 = fma(vec4<f32>(a3k0.x), b1k0, c12_1);
      c13_0 = fma(vec4<f32>(a3k0.y), b0k0, c13_0); c13_1 = fma(vec4<f32>(a3k0.y), b1k0, c13_1);
      c14_0 = fma(vec4<f32>(a3k0.z), b0k0, c14_0); c14_1 = fma(vec4<f32>(a3k0.z), b1k0, c14_1);
      c15_0 = fma(vec4<f32>(a3k0.w), b0k0, c15_0); c15_1 = fma(vec4<f32>(a3k0.w), b1k0, c15_1);
      // k = 1
      let a0k1 = As[oA + 0u * WG_Y][1u];
      let a1k1 = As[oA + 1u * WG_Y][1u];
      let a2k1 = As[oA + 2u * WG_Y][1u];
      let a3k1 = As[oA + 3u * WG_Y][1u];
      let b0k1 = Bs[oB + 0u * WG_X][1u];
      let b1k1 = Bs[oB + 1u * WG_X][1u];
      c0_0 = fma(vec4<f32>(a0k1.x), b0k1, c0_0); c0_1 = fma(vec4<f32>(a0k1.x), b1k1, c0_1);
      c1_0 = fma(vec4<f32>(a0k1.y), b0k1, c1_0); c1_1 = fma(vec4<f32>(a0k1.y), b1k1, c1_1);
      c2_0 = fma(vec4<f32>(a0k1.z), b0k1, c2_0); c2_1 = fma(vec4<f32>(a0k1.z), b1k1, c2_1);
      c3_0 = fma(vec4<f32>(a0k1.w), b0k1, c3_0); c3_1 = fma(vec4<f32>(a0k1.w), b1k1, c3_1);
      c4_0 = fma(vec4<f32>(a1k1.x), b0k1, c4_0); c4_1 = fma(vec4<f32>(a1k1.x), b1k1, c4_1);
      c5_0 = fma(vec4<f32>(a1k1.y), b0k1, c5_0); c5_1 = fma(vec4<f32>(a1k1.y), b1k1, c5_1);
      c6_0 = fma(vec4<f32>(a1k1.z), b0k1, c6_0); c6_1 = fma(vec4<f32>(a1k1.z), b1k1, c6_1);
      c7_0 = fma(vec4<f32>(a1k1.w), b0k1, c7_0); c7_1 = fma(vec4<f32>(a1k1.w), b1k1, c7_1);
      c8_0 = fma(vec4<f32>(a2k1.x), b0k1, c8_0); c8_1 = fma(vec4<f32>(a2k1.x), b1k1, c8_1);
      c9_0 = fma(vec4<f32>(a2k1.y), b0k1, c9_0); c9_1 = fma(vec4<f32>(a2k1.y), b1k1, c9_1);
      c10_0 = fma(vec4<f32>(a2k1.z), b0k1, c10_0); c10_1 = fma(vec4<f32>(a2k1.z), b1k1, c10_1);
      c11_0 = fma(vec4<f32>(a2k1.w), b0k1, c11_0); c11_1 = fma(vec4<f32>(a2k1.w), b1k1, c11_1);
      c12_0 = fma(vec4<f32>(a3k1.x), b0k1, c12_0); c12_1 = fma(vec4<f32>(a3k1.x), b1k1, c12_1);
      c13_0 = fma(vec4<f32>(a3k1.y), b0k1, c13_0); c13_1 = fma(vec4<f32>(a3k1.y), b1k1, c13_1);
      c14_0 = fma(vec4<f32>(a3k1.z), b0k1, c14_0); c14_1 = fma(vec4<f32>(a3k1.z), b1k1, c14_1);
      c15_0 = fma(vec4<f32>(a3k1.w), b0k1, c15_0); c15_1 = fma(vec4<f32>(a3k1.w), b1k1, c15_1);
      // k = 2
      let a0k2 = As[oA + 0u * WG_Y][2u];
      let a1k2 = As[oA + 1u * WG_Y][2u];
      let a2k2 = As[oA + 2u * WG_Y][2u];
      let a3k2 = As[oA + 3u * WG_Y][2u];
      let b0k2 = Bs[oB + 0u * WG_X][2u];
      let b1k2 = Bs[oB + 1u * WG_X][2u];
      c0_0 = fma(vec4<f32>(a0k2.x), b0k2, c0_0); c0_1 = fma(vec4<f32>(a0k2.x), b1k2, c0_1);
      c1_0 = fma(vec4<f32>(a0k2.y), b0k2, c1_0); c1_1 = fma(vec4<f32>(a0k2.y), b1k2, c1_1);
      c2_0 = fma(vec4<f32>(a0k2.z), b0k2, c2_0); c2_1 = fma(vec4<f32>(a0k2.z), b1k2, c2_1);
      c3_0 = fma(vec4<f32>(a0k2.w), b0k2, c3_0); c3_1 = fma(vec4<f32>(a0k2.w), b1k2, c3_1);
      c4_0 = fma(vec4<f32>(a1k2.x), b0k2, c4_0); c4_1 = fma(vec4<f32>(a1k2.x), b1k2, c4_1);
      c5_0 = fma(vec4<f32>(a1k2.y), b0k2, c5_0); c5_1 = fma(vec4<f32>(a1k2.y), b1k2, c5_1);
      c6_0 = fma(vec4<f32>(a1k2.z), b0k2, c6_0); c6_1 = fma(vec4<f32>(a1k2.z), b1k2, c6_1);
      c7_0 = fma(vec4<f32>(a1k2.w), b0k2, c7_0); c7_1 = fma(vec4<f32>(a1k2.w), b1k2, c7_1);
      c8_0 = fma(vec4<f32>(a2k2.x), b0k2, c8_0); c8_1 = fma(vec4<f32>(a2k2.x), b1k2, c8_1);
      c9_0 = fma(vec4<f32>(a2k2.y), b0k2, c9_0); c9_1 = fma(vec4<f32>(a2k2.y), b1k2, c9_1);
      c10_0 = fma(vec4<f32>(a2k2.z), b0k2, c10_0); c10_1 = fma(vec4<f32>(a2k2.z), b1k2, c10_1);
      c11_0 = fma(vec4<f32>(a2k2.w), b0k2, c11_0); c11_1 = fma(vec4<f32>(a2k2.w), b1k2, c11_1);
      c12_0 = fma(vec4<f32>(a3k2.x), b0k2, c12_0); c12_1 = fma(vec4<f32>(a3k2.x), b1k2, c12_1);
      c13_0 = fma(vec4<f32>(a3k2.y), b0k2, c13_0); c13_1 = fma(vec4<f32>(a3k2.y), b1k2, c13_1);
      c14_0 = fma(vec4<f32>(a3k2.z), b0k2, c14_0); c14_1 = fma(vec4<f32>(a3k2.z), b1k2, c14_1);
      c15_0 = fma(vec4<f32>(a3k2.w), b0k2, c15_0); c15_1 = fma(vec4<f32>(a3k2.w), b1k2, c15_1);
      // k = 3
      let a0k3 = As[oA + 0u * WG_Y][3u];
      let a1k3 = As[oA + 1u * WG_Y][3u];
      let a2k3 = As[oA + 2u * WG_Y][3u];
      let a3k3 = As[oA + 3u * WG_Y][3u];
      let b0k3 = Bs[oB + 0u * WG_X][3u];
      let b1k3 = Bs[oB + 1u * WG_X][3u];
      c0_0 = fma(vec4<f32>(a0k3.x), b0k3, c0_0); c0_1 = fma(vec4<f32>(a0k3.x), b1k3, c0_1);
      c1_0 = fma(vec4<f32>(a0k3.y), b0k3, c1_0); c1_1 = fma(vec4<f32>(a0k3.y), b1k3, c1_1);
      c2_0 = fma(vec4<f32>(a0k3.z), b0k3, c2_0); c2_1 = fma(vec4<f32>(a0k3.z), b1k3, c2_1);
      c3_0 = fma(vec4<f32>(a0k3.w), b0k3, c3_0); c3_1 = fma(vec4<f32>(a0k3.w), b1k3, c3_1);
      c4_0 = fma(vec4<f32>(a1k3.x), b0k3, c4_0); c4_1 = fma(vec4<f32>(a1k3.x), b1k3, c4_1);
      c5_0 = fma(vec4<f32>(a1k3.y), b0k3, c5_0); c5_1 = fma(vec4<f32>(a1k3.y), b1k3, c5_1);
      c6_0 = fma(vec4<f32>(a1k3.z), b0k3, c6_0); c6_1 = fma(vec4<f32>(a1k3.z), b1k3, c6_1);
      c7_0 = fma(vec4<f32>(a1k3.w), b0k3, c7_0); c7_1 = fma(vec4<f32>(a1k3.w), b1k3, c7_1);
      c8_0 = fma(vec4<f32>(a2k3.x), b0k3, c8_0); c8_1 = fma(vec4<f32>(a2k3.x), b1k3, c8_1);
      c9_0 = fma(vec4<f32>(a2k3.y), b0k3, c9_0); c9_1 = fma(vec4<f32>(a2k3.y), b1k3, c9_1);
      c10_0 = fma(vec4<f32>(a2k3.z), b0k3, c10_0); c10_1 = fma(vec4<f32>(a2k3.z), b1k3, c10_1);
      c11_0 = fma(vec4<f32>(a2k3.w), b0k3, c11_0); c11_1 = fma(vec4<f32>(a2k3.w), b1k3, c11_1);
      c12_0 = fma(vec4<f32>(a3k3.x), b0k3, c12_0); c12_1 = fma(vec4<f32>(a3k3.x), b1k3, c12_1);
      c13_0 = fma(vec4<f32>(a3k3.y), b0k3, c13_0); c13_1 = fma(vec4<f32>(a3k3.y), b1k3, c13_1);
      c14_0 = fma(vec4<f32>(a3k3.z), b0k3, c14_0); c14_1 = fma(vec4<f32>(a3k3.z), b1k3, c14_1);
      c15_0 = fma(vec4<f32>(a3k3.w), b0k3, c15_0); c15_1 = fma(vec4<f32>(a3k3.w), b1k3, c15_1);
      // k = 4
      let a0k4 = As[oA + 0u * WG_Y][4u];
      let a1k4 = As[oA + 1u * WG_Y][4u];
      let a2k4 = As[oA + 2u * WG_Y][4u];
      let a3k4 = As[oA + 3u * WG_Y][4u];
      let b0k4 = Bs[oB + 0u * WG_X][4u];
      let b1k4 = Bs[oB + 1u * WG_X][4u];
      c0_0 = fma(vec4<f32>(a0k4.x), b0k4, c0_0); c0_1 = fma(vec4<f32>(a0k4.x), b1k4, c0_1);
      c1_0 = fma(vec4<f32>(a0k4.y), b0k4, c1_0); c1_1 = fma(vec4<f32>(a0k4.y), b1k4, c1_1);
      c2_0 = fma(vec4<f32>(a0k4.z), b0k4, c2_0); c2_1 = fma(vec4<f32>(a0k4.z), b1k4, c2_1);
      c3_0 = fma(vec4<f32>(a0k4.w), b0k4, c3_0); c3_1 = fma(vec4<f32>(a0k4.w), b1k4, c3_1);
      c4_0 = fma(vec4<f32>(a1k4.x), b0k4, c4_0); c4_1 = fma(vec4<f32>(a1k4.x), b1k4, c4_1);
      c5_0 = fma(vec4<f32>(a1k4.y), b0k4, c5_0); c5_1 = fma(vec4<f32>(a1k4.y), b1k4, c5_1);
      c6_0 = fma(vec4<f32>(a1k4.z), b0k4, c6_0); c6_1 = fma(vec4<f32>(a1k4.z), b1k4, c6_1);
      c7_0 = fma(vec4<f32>(a1k4.w), b0k4, c7_0); c7_1 = fma(vec4<f32>(a1k4.w), b1k4, c7_1);
      c8_0 = fma(vec4<f32>(a2k4.x), b0k4, c8_0); c8_1 = fma(vec4<f32>(a2k4.x), b1k4, c8_1);
      c9_0 = fma(vec4<f32>(a2k4.y), b0k4, c9_0); c9_1 = fma(vec4<f32>(a2k4.y), b1k4, c9_1);
      c10_0 = fma(vec4<f32>(a2k4.z), b0k4, c10_0); c10_1 = fma(vec4<f32>(a2k4.z), b1k4, c10_1);
      c11_0 = fma(vec4<f32>(a2k4.w), b0k4, c11_0); c11_1 = fma(vec4<f32>(a2k4.w), b1k4, c11_1);
      c12_0 = fma(vec4<f32>(a3k4.x), b0k4, c12_0); c12_1 = fma(vec4<f32>(a3k4.x), b1k4, c12_1);
      c13_0 = fma(vec4<f32>(a3k4.y), b0k4, c13_0); c13_1 = fma(vec4<f32>(a3k4.y), b1k4, c13_1);
      c14_0 = fma(vec4<f32>(a3k4.z), b0k4, c14_0); c14_1 = fma(vec4<f32>(a3k4.z), b1k4, c14_1);
      c15_0 = fma(vec4<f32>(a3k4.w), b0k4, c15_0); c15_1 = fma(vec4<f32>(a3k4.w), b1k4, c15_1);
      // k = 5
      let a0k5 = As[oA + 0u * WG_Y][5u];
      let a1k5 = As[oA + 1u * WG_Y][5u];
      let a2k5 = As[oA + 2u * WG_Y][5u];
      let a3k5 = As[oA + 3u * WG_Y][5u];
      let b0k5 = Bs[oB + 0u * WG_X][5u];
      let b1k5 = Bs[oB + 1u * WG_X][5u];
      c0_0 = fma(vec4<f32>(a0k5.x), b0k5, c0_0); c0_1 = fma(vec4<f32>(a0k5.x), b1k5, c0_1);
      c1_0 = fma(vec4<f32>(a0k5.y), b0k5, c1_0); c1_1 = fma(vec4<f32>(a0k5.y), b1k5, c1_1);
      c2_0 = fma(vec4<f32>(a0k5.z), b0k5, c2_0); c2_1 = fma(vec4<f32>(a0k5.z), b1k5, c2_1);
      c3_0 = fma(vec4<f32>(a0k5.w), b0k5, c3_0); c3_1 = fma(vec4<f32>(a0k5.w), b1k5, c3_1);
      c4_0 = fma(vec4<f32>(a1k5.x), b0k5, c4_0); c4_1 = fma(vec4<f32>(a1k5.x), b1k5, c4_1);
      c5_0 = fma(vec4<f32>(a1k5.y), b0k5, c5_0); c5_1 = fma(vec4<f32>(a1k5.y), b1k5, c5_1);
      c6_0 = fma(vec4<f32>(a1k5.z), b0k5, c6_0); c6_1 = fma(vec4<f32>(a1k5.z), b1k5, c6_1);
      c7_0 = fma(vec4<f32>(a1k5.w), b0k5, c7_0); c7_1 = fma(vec4<f32>(a1k5.w), b1k5, c7_1);
      c8_0 = fma(vec4<f32>(a2k5.x), b0k5, c8_0); c8_1 = fma(vec4<f32>(a2k5.x), b1k5, c8_1);
      c9_0 = fma(vec4<f32>(a2k5.y), b0k5, c9_0); c9_1 = fma(vec4<f32>(a2k5.y), b1k5, c9_1);
      c10_0 = fma(vec4<f32>(a2k5.z), b0k5, c10_0); c10_1 = fma(vec4<f32>(a2k5.z), b1k5, c10_1);
      c11_0 = fma(vec4<f32>(a2k5.w), b0k5, c11_0); c11_1 = fma(vec4<f32>(a2k5.w), b1k5, c11_1);
      c12_0 = fma(vec4<f32>(a3k5.x), b0k5, c12_0); c12_1 = fma(vec4<f32>(a3k5.x), b1k5, c12_1);
      c13_0 = fma(vec4<f32>(a3k5.y), b0k5, c13_0); c13_1 = fma(vec4<f32>(a3k5.y), b1k5, c13_1);
      c14_0 = fma(vec4<f32>(a3k5.z), b0k5, c14_0); c14_1 = fma(vec4<f32>(a3k5.z), b1k5, c14_1);
      c15_0 = fma(vec4<f32>(a3k5.w), b0k5, c15_0); c15_1 = fma(vec4<f32>(a3k5.w), b1k5, c15_1);
      // k = 6
      let a0k6 = As[oA + 0u * WG_Y][6u];
      let a1k6 = As[oA + 1u * WG_Y][6u];
      let a2k6 = As[oA + 2u * WG_Y][6u];
      let a3k6 = As[oA + 3u * WG_Y][6u];
      let b0k6 = Bs[oB + 0u * WG_X][6u];
      let b1k6 = Bs[oB + 1u * WG_X][6u];
      c0_0 = fma(vec4<f32>(a0k6.x), b0k6, c0_0); c0_1 = fma(vec4<f32>(a0k6.x), b1k6, c0_1);
      c1_0 = fma(vec4<f32>(a0k6.y), b0k6, c1_0); c1_1 = fma(vec4<f32>(a0k6.y), b1k6, c1_1);
      c2_0 = fma(vec4<f32>(a0k6.z), b0k6, c2_0); c2_1 = fma(vec4<f32>(a0k6.z), b1k6, c2_1);
      c3_0 = fma(vec4<f32>(a0k6.w), b0k6, c3_0); c3_1 = fma(vec4<f32>(a0k6.w), b1k6, c3_1);
      c4_0 = fma(vec4<f32>(a1k6.x), b0k6, c4_0); c4_1 = fma(vec4<f32>(a1k6.x), b1k6, c4_1);
      c5_0 = fma(vec4<f32>(a1k6.y), b0k6, c5_0); c5_1 = fma(vec4<f32>(a1k6.y), b1k6, c5_1);
      c6_0 = fma(vec4<f32>(a1k6.z), b0k6, c6_0); c6_1 = fma(vec4<f32>(a1k6.z), b1k6, c6_1);
      c7_0 = fma(vec4<f32>(a1k6.w), b0k6, c7_0); c7_1 = fma(vec4<f32>(a1k6.w), b1k6, c7_1);
      c8_0 = fma(vec4<f32>(a2k6.x), b0k6, c8_0); c8_1 = fma(vec4<f32>(a2k6.x), b1k6, c8_1);
      c9_0 = fma(vec4<f32>(a2k6.y), b0k6, c9_0); c9_1 = fma(vec4<f32>(a2k6.y), b1k6, c9_1);
      c10_0 = fma(vec4<f32>(a2k6.z), b0k6, c10_0); c10_1 = fma(vec4<f32>(a2k6.z), b1k6, c10_1);
      c11_0 = fma(vec4<f32>(a2k6.w), b0k6, c11_0); c11_1 = fma(vec4<f32>(a2k6.w), b1k6, c11_1);
      c12_0 = fma(vec4<f32>(a3k6.x), b0k6, c12_0); c12_1 = fma(vec4<f32>(a3k6.x), b1k6, c12_1);
      c13_0 = fma(vec4<f32>(a3k6.y), b0k6, c13_0); c13_1 = fma(vec4<f32>(a3k6.y), b1k6, c13_1);
      c14_0 = fma(vec4<f32>(a3k6.z), b0k6, c14_0); c14_1 = fma(vec4<f32>(a3k6.z), b1k6, c14_1);
      c15_0 = fma(vec4<f32>(a3k6.w), b0k6, c15_0); c15_1 = fma(vec4<f32>(a3k6.w), b1k6, c15_1);
      // k = 7
      let a0k7 = As[oA + 0u * WG_Y][7u];
      let a1k7 = As[oA + 1u * WG_Y][7u];
      let a2k7 = As[oA + 2u * WG_Y][7u];
      let a3k7 = As[oA + 3u * WG_Y][7u];
      let b0k7 = Bs[oB + 0u * WG_X][7u];
      let b1k7 = Bs[oB + 1u * WG_X][7u];
      c0_0 = fma(vec4<f32>(a0k7.x), b0k7, c0_0); c0_1 = fma(vec4<f32>(a0k7.x), b1k7, c0_1);
      c1_0 = fma(vec4<f32>(a0k7.y), b0k7, c1_0); c1_1 = fma(vec4<f32>(a0k7.y), b1k7, c1_1);
      c2_0 = fma(vec4<f32>(a0k7.z), b0k7, c2_0); c2_1 = fma(vec4<f32>(a0k7.z), b1k7, c2_1);
      c3_0 = fma(vec4<f32>(a0k7.w), b0k7, c3_0); c3_1 = fma(vec4<f32>(a0k7.w), b1k7, c3_1);
      c4_0 = fma(vec4<f32>(a1k7.x), b0k7, c4_0); c4_1 = fma(vec4<f32>(a1k7.x), b1k7, c4_1);
      c5_0 = fma(vec4<f32>(a1k7.y), b0k7, c5_0); c5_1 = fma(vec4<f32>(a1k7.y), b1k7, c5_1);
      c6_0 = fma(vec4<f32>(a1k7.z), b0k7, c6_0); c6_1 = fma(vec4<f32>(a1k7.z), b1k7, c6_1);
      c7_0 = fma(vec4<f32>(a1k7.w), b0k7, c7_0); c7_1 = fma(vec4<f32>(a1k7.w), b1k7, c7_1);
      c8_0 = fma(vec4<f32>(a2k7.x), b0k7, c8_0); c8_1 = fma(vec4<f32>(a2k7.x), b1k7, c8_1);
      c9_0 = fma(vec4<f32>(a2k7.y), b0k7, c9_0); c9_1 = fma(vec4<f32>(a2k7.y), b1k7, c9_1);
      c10_0 = fma(vec4<f32>(a2k7.z), b0k7, c10_0); c10_1 = fma(vec4<f32>(a2k7.z), b1k7, c10_1);
      c11_0 = fma(vec4<f32>(a2k7.w), b0k7, c11_0); c11_1 = fma(vec4<f32>(a2k7.w), b1k7, c11_1);
      c12_0 = fma(vec4<f32>(a3k7.x), b0k7, c12_0); c12_1 = fma(vec4<f32>(a3k7.x), b1k7, c12_1);
      c13_0 = fma(vec4<f32>(a3k7.y), b0k7, c13_0); c13_1 = fma(vec4<f32>(a3k7.y), b1k7, c13_1);
      c14_0 = fma(vec4<f32>(a3k7.z), b0k7, c14_0); c14_1 = fma(vec4<f32>(a3k7.z), b1k7, c14_1);
      c15_0 = fma(vec4<f32>(a3k7.w), b0k7, c15_0); c15_1 = fma(vec4<f32>(a3k7.w), b1k7, c15_1);
    }
    if (STAGES == 1u) { workgroupBarrier(); } // one stage: everyone must finish reading before it is overwritten
    if (more) {
      let s1 = (t + 1u) % STAGES;
      storeA(li, s1, 0u, ra0);
      if (A_LOADS > 1u) { storeA(li, s1, 1u, ra1); }
      if (A_LOADS > 2u) { storeA(li, s1, 2u, ra2); }
      if (A_LOADS > 3u) { storeA(li, s1, 3u, ra3); }
      if (A_LOADS > 4u) { storeA(li, s1, 4u, ra4); }
      if (A_LOADS > 5u) { storeA(li, s1, 5u, ra5); }
      if (A_LOADS > 6u) { storeA(li, s1, 6u, ra6); }
      if (A_LOADS > 7u) { storeA(li, s1, 7u, ra7); }
      storeB(li, s1, 0u, rb0);
      if (B_LOADS > 1u) { storeB(li, s1, 1u, rb1); }
      if (B_LOADS > 2u) { storeB(li, s1, 2u, rb2); }
      if (B_LOADS > 3u) { storeB(li, s1, 3u, rb3); }
      if (B_LOADS > 4u) { storeB(li, s1, 4u, rb4); }
      if (B_LOADS > 5u) { storeB(li, s1, 5u, rb5); }
      if (B_LOADS > 6u) { storeB(li, s1, 6u, rb6); }
      if (B_LOADS > 7u) { storeB(li, s1, 7u, rb7); }
    }
    workgroupBarrier();
  }

  let row0 = m0 + (0u * WG_Y + ty) * 4u + 0u; storeC(row0, n0 + (0u * WG_X + tx) * 4u, c0_0); storeC(row0, n0 + (1u * WG_X + tx) * 4u, c0_1);
  let row1 = m0 + (0u * WG_Y + ty) * 4u + 1u; storeC(row1, n0 + (0u * WG_X + tx) * 4u, c1_0); storeC(row1, n0 + (1u * WG_X + tx) * 4u, c1_1);
  let row2 = m0 + (0u * WG_Y + ty) * 4u + 2u; storeC(row2, n0 + (0u * WG_X + tx) * 4u, c2_0); storeC(row2, n0 + (1u * WG_X + tx) * 4u, c2_1);
  let row3 = m0 + (0u * WG_Y + ty) * 4u + 3u; storeC(row3, n0 + (0u * WG_X + tx) * 4u, c3_0); storeC(row3, n0 + (1u * WG_X + tx) * 4u, c3_1);
  let row4 = m0 + (1u * WG_Y + ty) * 4u + 0u; storeC(row4, n0 + (0u * WG_X + tx) * 4u, c4_0); storeC(row4, n0 + (1u * WG_X + tx) * 4u, c4_1);
  let row5 = m0 + (1u * WG_Y + ty) * 4u + 1u; storeC(row5, n0 + (0u * WG_X + tx) * 4u, c5_0); storeC(row5, n0 + (1u * WG_X + tx) * 4u, c5_1);
  let row6 = m0 + (1u * WG_Y + ty) * 4u + 2u; storeC(row6, n0 + (0u * WG_X + tx) * 4u, c6_0); storeC(row6, n0 + (1u * WG_X + tx) * 4u, c6_1);
  let row7 = m0 + (1u * WG_Y + ty) * 4u + 3u; storeC(row7, n0 + (0u * WG_X + tx) * 4u, c7_0); storeC(row7, n0 + (1u * WG_X + tx) * 4u, c7_1);
  let row8 = m0 + (2u * WG_Y + ty) * 4u + 0u; storeC(row8, n0 + (0u * WG_X + tx) * 4u, c8_0); storeC(row8, n0 + (1u * WG_X + tx) * 4u, c8_1);
  let row9 = m0 + (2u * WG_Y + ty) * 4u + 1u; storeC(row9, n0 + (0u * WG_X + tx) * 4u, c9_0); storeC(row9, n0 + (1u * WG_X + tx) * 4u, c9_1);
  let row10 = m0 + (2u * WG_Y + ty) * 4u + 2u; storeC(row10, n0 + (0u * WG_X + tx) * 4u, c10_0); storeC(row10, n0 + (1u * WG_X + tx) * 4u, c10_1);
  let row11 = m0 + (2u * WG_Y + ty) * 4u + 3u; storeC(row11, n0 + (0u * WG_X + tx) * 4u, c11_0); storeC(row11, n0 + (1u * WG_X + tx) * 4u, c11_1);
  let row12 = m0 + (3u * WG_Y + ty) * 4u + 0u; storeC(row12, n0 + (0u * WG_X + tx) * 4u, c12_0); storeC(row12, n0 + (1u * WG_X + tx) * 4u, c12_1);
  let row13 = m0 + (3u * WG_Y + ty) * 4u + 1u; storeC(row13, n0 + (0u * WG_X + tx) * 4u, c13_0); storeC(row13, n0 + (1u * WG_X + tx) * 4u, c13_1);
  let row14 = m0 + (3u * WG_Y + ty) * 4u + 2u; storeC(row14, n0 + (0u * WG_X + tx) * 4u, c14_0); storeC(row14, n0 + (1u * WG_X + tx) * 4u, c14_1);
  let row15 = m0 + (3u * WG_Y + ty) * 4u + 3u; storeC(row15, n0 + (0u * WG_X + tx) * 4u, c15_0); storeC(row15, n0 + (1u * WG_X + tx) * 4u, c15_1);
}
