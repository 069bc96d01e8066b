// Hand-unrolled variant of gemm_reg.wgsl with TM = 8, TN = 16 fixed: C[M,N] = A[M,K] * op(B).
// Same bindings, shared-memory layout, dispatch geometry and override knobs as gemm_reg.wgsl (read its
// header), except that TM and TN are constants here and are not overrides.
// Bindings: 0 uniform Params {M, N, K, _pad}; 1 a [M, K]; 2 b [K, N] or [N, K]; 3 c [M, N] (written),
// all array<vec4<f32>>, sized to a multiple of 16 bytes.
// Dispatch: (ceil(N / BN), ceil(M / BM)) workgroups of (WG_X, WG_Y) threads, BM = 8*WG_Y, BN = 16*WG_X.
// Why unrolled by hand: in gemm_reg.wgsl the 32 accumulators are an array indexed by loop counters and
// the A scalars come from dynamic vector indexing (av[i/4][i%4]); with Dawn's robustness on, every such
// index is clamped in the emitted SPIR-V, and the driver has to unroll and fold all of it before register
// allocation. Here each accumulator is its own vec4 variable and every shared-memory index in the FMA
// block is a per-chunk row (its one clamp computed once per chunk) plus a literal.
// The k steps of a chunk are unrolled too: As[row][3u] has a literal, statically in-bounds inner index.
// The per-thread loops that remain (global loads) have constant trip counts.
// Written out mechanically from gemm_reg.wgsl's main (one line of FMAs per C row, one block per k):
// a change to gemm_reg.wgsl's loads, stores or scheduling must be repeated here.

override WG_X: u32 = 16u; // threads along N
override WG_Y: u32 = 16u; // threads along M
const TM = 8u; // rows of C per thread (fixed in this file)
const TN = 16u; // columns of C per thread (fixed in this file)
override BK: u32 = 8u; // K step of one shared-memory tile (multiple of KC)
override STAGES: u32 = 2u; // shared-memory stages: 1 or 2
override WARP_X: u32 = 8u; // threads along N inside one 32-wide subgroup; 0 = plain row-major threads
override GROUP_M: u32 = 8u; // tile rows per L2 swizzle group; 0 or 1 = plain raster order
override B_T: bool = false;
override CHECK: bool = true;

override NT: u32 = WG_X * WG_Y; // threads per workgroup
override BM: u32 = WG_Y * TM; // rows of C per workgroup
override BN: u32 = WG_X * TN; // columns of C per workgroup
override BM4: u32 = BM / 4u;
override BN4: u32 = BN / 4u;
override NKC: u32 = BK / 8u; // k-chunks per tile
override A_LOADS: u32 = BM * BK / 4u / NT; // global vec4 loads per thread per tile (<= 8)
override B_LOADS: u32 = BN * BK / 4u / NT;
override WX: u32 = max(WARP_X, 1u); // WARP_X as a divisor (overrides fold even in dead branches)

const KC = 8u; // k steps per chunk (inner, constant-indexed dimension)
alias Chunk = array<vec4<f32>, 9>; // KC vec4s + 1 padding vec4

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// As[(s*NKC + kc)*BM4 + m/4][k][m%4] = A[m0 + m, k0 + kc*8 + k]; Bs likewise with n.
var<workgroup> As: array<Chunk, STAGES * NKC * BM4>;
var<workgroup> Bs: array<Chunk, STAGES * NKC * BN4>;

fn elemA(e: u32) -> f32 { return a[e >> 2u][e & 3u]; }
fn elemB(e: u32) -> f32 { return b[e >> 2u][e & 3u]; }

// Four consecutive elements (row, col..col+3) of a row-major [rows, cols] matrix, zero outside.
fn quadA(row: u32, col: u32) -> vec4<f32> {
  if (!CHECK) { return a[(row * p.K + col) >> 2u]; }
  var v = vec4<f32>(0.0);
  if (row < p.M) {
    for (var j = 0u; j < 4u; j++) {
      if (col + j < p.K) { v[j] = elemA(row * p.K + col + j); }
    }
  }
  return v;
}

fn quadB(row: u32, col: u32, rows: u32, cols: u32) -> vec4<f32> {
  if (!CHECK) { return b[(row * cols + col) >> 2u]; }
  var v = vec4<f32>(0.0);
  if (row < rows) {
    for (var j = 0u; j < 4u; j++) {
      if (col + j < cols) { v[j] = elemB(row * cols + col + j); }
    }
  }
  return v;
}

// Quad q of the A tile (and of B when B_T): row q / (BK/4), k-quad q % (BK/4).
fn loadA(li: u32, m0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  return quadA(m0 + q / (BK / 4u), k0 + (q % (BK / 4u)) * 4u);
}

// Quad q of the B tile: k row q / BN4, n-quad q % BN4 (B_T: as loadA over [N, K]).
fn loadB(li: u32, n0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  if (B_T) { return quadB(n0 + q / (BK / 4u), k0 + (q % (BK / 4u)) * 4u, p.N, p.K); }
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

fn storeB(li: u32, s: u32, i: u32, v: vec4<f32>) {
  let q = li + i * NT;
  if (B_T) {
    let r = q / (BK / 4u);
    let k = (q % (BK / 4u)) * 4u;
    let o = (s * NKC + k / KC) * BN4 + r / 4u;
    let kk = k % KC;
    Bs[o][kk][r % 4u] = v.x;
    Bs[o][kk + 1u][r % 4u] = v.y;
    Bs[o][kk + 2u][r % 4u] = v.z;
    Bs[o][kk + 3u][r % 4u] = v.w;
  } else {
    let k = q / BN4;
    Bs[(s * NKC + k / KC) * BN4 + q % BN4][k % KC] = v; // already 4 consecutive n at one k
  }
}

fn storeC(row: u32, col: u32, v: vec4<f32>) {
  if (!CHECK) {
    c[(row * p.N + col) >> 2u] = v;
    return;
  }
  if (row >= p.M) { return; }
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

  var c0_0 = vec4<f32>(0.0); // C row m0 + (0*WG_Y + ty)*4 + 0, cols n0 + (0*WG_X + tx)*4..+3
  var c0_1 = vec4<f32>(0.0);
  var c0_2 = vec4<f32>(0.0);
  var c0_3 = vec4<f32>(0.0);
  var c1_0 = vec4<f32>(0.0);
  var c1_1 = vec4<f32>(0.0);
  var c1_2 = vec4<f32>(0.0);
  var c1_3 = vec4<f32>(0.0);
  var c2_0 = vec4<f32>(0.0);
  var c2_1 = vec4<f32>(0.0);
  var c2_2 = vec4<f32>(0.0);
  var c2_3 = vec4<f32>(0.0);
  var c3_0 = vec4<f32>(0.0);
  var c3_1 = vec4<f32>(0.0);
  var c3_2 = vec4<f32>(0.0);
  var c3_3 = vec4<f32>(0.0);
  var c4_0 = vec4<f32>(0.0);
  var c4_1 = vec4<f32>(0.0);
  var c4_2 = vec4<f32>(0.0);
  var c4_3 = vec4<f32>(0.0);
  var c5_0 = vec4<f32>(0.0);
  var c5_1 = vec4<f32>(0.0);
  var c5_2 = vec4<f32>(0.0);
  var c5_3 = vec4<f32>(0.0);
  var c6_0 = vec4<f32>(0.0);
  var c6_1 = vec4<f32>(0.0);
  var c6_2 = vec4<f32>(0.0);
  var c6_3 = vec4<f32>(0.0);
  var c7_0 = vec4<f32>(0.0);
  var c7_1 = vec4<f32>(0.0);
  var c7_2 = vec4<f32>(0.0);
  var c7_3 = vec4<f32>(0.0);
  var ra: array<vec4<f32>, 8>; // prefetched A quads of the next tile
  var rb: array<vec4<f32>, 8>; // prefetched B quads of the next tile

  for (var i = 0u; i < A_LOADS; i++) { storeA(li, 0u, i, loadA(li, m0, 0u, i)); }
  for (var i = 0u; i < B_LOADS; i++) { storeB(li, 0u, i, loadB(li, n0, 0u, i)); }
  workgroupBarrier();

  let nTiles = (p.K + BK - 1u) / BK;
  for (var t = 0u; t < nTiles; t++) {
    let s = t % STAGES;
    let more = t + 1u < nTiles;
    if (more) {
      let k1 = (t + 1u) * BK;
      for (var i = 0u; i < A_LOADS; i++) { ra[i] = loadA(li, m0, k1, i); }
      for (var i = 0u; i < B_LOADS; i++) { rb[i] = loadB(li, n0, k1, i); }
    }
    for (var kc = 0u; kc < NKC; kc++) {
      let oA = (s * NKC + kc) * BM4 + ty; // chunk row of this thread's first A quad
      let oB = (s * NKC + kc) * BN4 + tx;
      // k = 0 (literal indices: in-bounds by construction, so no robustness clamp)
      let a0k0 = As[oA + 0u * WG_Y][0u]; // A[rows 0*4..+3 of this thread, k]
      let a1k0 = As[oA + 1u * WG_Y][0u]; // A[rows 1*4..+3 of this thread, k]
      let b0k0 = Bs[oB + 0u * WG_X][0u]; // B[k, column quad 0]
      let b1k0 = Bs[oB + 1u * WG_X][0u]; // B[k, column quad 1]
      let b2k0 = Bs[oB + 2u * WG_X][0u]; // B[k, column quad 2]
      let b3k0 = Bs[oB + 3u * WG_X][0u]; // B[k, column quad 3]
      c0_0 = fma(vec4<f32>(a0k0.x), b0k0, c0_0); c0_1 = fma(vec4<f32>(a0k0.x), b1k0, c0_1); c0_2 = fma(vec4<f32>(a0k0.x), b2k0, c0_2); c0_3 = fma(vec4<f32>(a0k0.x), b3k0, c0_3);
      c1_0 = fma(vec4<f32>(a0k0.y), b0k0, c1_0); c1_1 = fma(vec4<f32>(a0k0.y), b1k0, c1_1); c1_2 = fma(vec4<f32>(a0k0.y), b2k0, c1_2); c1_3 = fma(vec4<f32>(a0k0.y), b3k0, c1_3);
      c2_0 = fma(vec4<f32>(a0k0.z), b0k0, c2_0); c2_1 = fma(vec4<f32>(a0k0.z), b1k0, c2_1); c2_2 = fma(vec4<f32>(a0k0.z), b2k0, c2_2); c2_3 = fma(vec4<f32>(a0k0.z), b3k0, c2_3);
      c3_0 = fma(vec4<f32>(a0k0.w), b0k0, c3_0); c3_1 = fma(vec4<f32>(a0k0.w), b1k0, c3_1); c3_2 = fma(vec4<f32>(a0k0.w), b2k0, c3_2); c3_3 = fma(vec4<f32>(a0k0.w), b3k0, c3_3);
      c4_0 = fma(vec4<f32>(a1k0.x), b0k0, c4_0); c4_1 = fma(vec4<f32>(a1k0.x), b1k0, c4_1); c4_2 = fma(vec4<f32>(a1k0.x), b2k0, c4_2); c4_3 = fma(vec4<f32>(a1k0.x), b3k0, c4_3);
      c5_0 = fma(vec4<f32>(a1k0.y), b0k0, c5_0); c5_1 = fma(vec4<f32>(a1k0.y), b1k0, c5_1); c5_2 = fma(vec4<f32>(a1k0.y), b2k0, c5_2); c5_3 = fma(vec4<f32>(a1k0.y), b3k0, c5_3);
      c6_0 = fma(vec4<f32>(a1k0.z), b0k0, c6_0); c6_1 = fma(vec4<f32>(a1k0.z), b1k0, c6_1); c6_2 = fma(vec4<f32>(a1k0.z), b2k0, c6_2); c6_3 = fma(vec4<f32>(a1k0.z), b3k0, c6_3);
      c7_0 = fma(vec4<f32>(a1k0.w), b0k0, c7_0); c7_1 = fma(vec4<f32>(a1k0.w), b1k0, c7_1); c7_2 = fma(vec4<f32>(a1k0.w), b2k0, c7_2); c7_3 = fma(vec4<f32>(a1k0.w), b3k0, c7_3);
      // k = 1
      let a0k1 = As[oA + 0u * WG_Y][1u];
      let a1k1 = As[oA + 1u * WG_Y][1u];
      let b0k1 = Bs[oB + 0u * WG_X][1u];
      let b1k1 = Bs[oB + 1u * WG_X][1u];
      let b2k1 = Bs[oB + 2u * WG_X][1u];
      let b3k1 = Bs[oB + 3u * WG_X][1u];
      c0_0 = fma(vec4<f32>(a0k1.x), b0k1, c0_0); c0_1 = fma(vec4<f32>(a0k1.x), b1k1, c0_1); c0_2 = fma(vec4<f32>(a0k1.x), b2k1, c0_2); c0_3 = fma(vec4<f32>(a0k1.x), b3k1, c0_3);
      c1_0 = fma(vec4<f32>(a0k1.y), b0k1, c1_0); c1_1 = fma(vec4<f32>(a0k1.y), b1k1, c1_1); c1_2 = fma(vec4<f32>(a0k1.y), b2k1, c1_2); c1_3 = fma(vec4<f32>(a0k1.y), b3k1, c1_3);
      c2_0 = fma(vec4<f32>(a0k1.z), b0k1, c2_0); c2_1 = fma(vec4<f32>(a0k1.z), b1k1, c2_1); c2_2 = fma(vec4<f32>(a0k1.z), b2k1, c2_2); c2_3 = fma(vec4<f32>(a0k1.z), b3k1, c2_3);
      c3_0 = fma(vec4<f32>(a0k1.w), b0k1, c3_0); c3_1 = fma(vec4<f32>(a0k1.w), b1k1, c3_1); c3_2 = fma(vec4<f32>(a0k1.w), b2k1, c3_2); c3_3 = fma(vec4<f32>(a0k1.w), b3k1, c3_3);
      c4_0 = fma(vec4<f32>(a1k1.x), b0k1, c4_0); c4_1 = fma(vec4<f32>(a1k1.x), b1k1, c4_1); c4_2 = fma(vec4<f32>(a1k1.x), b2k1, c4_2); c4_3 = fma(vec4<f32>(a1k1.x), b3k1, c4_3);
      c5_0 = fma(vec4<f32>(a1k1.y), b0k1, c5_0); c5_1 = fma(vec4<f32>(a1k1.y), b1k1, c5_1); c5_2 = fma(vec4<f32>(a1k1.y), b2k1, c5_2); c5_3 = fma(vec4<f32>(a1k1.y), b3k1, c5_3);
      c6_0 = fma(vec4<f32>(a1k1.z), b0k1, c6_0); c6_1 = fma(vec4<f32>(a1k1.z), b1k1, c6_1); c6_2 = fma(vec4<f32>(a1k1.z), b2k1, c6_2); c6_3 = fma(vec4<f32>(a1k1.z), b3k1, c6_3);
      c7_0 = fma(vec4<f32>(a1k1.w), b0k1, c7_0); c7_1 = fma(vec4<f32>(a1k1.w), b1k1, c7_1); c7_2 = fma(vec4<f32>(a1k1.w), b2k1, c7_2); c7_3 = fma(vec4<f32>(a1k1.w), b3k1, c7_3);
      // k = 2
      let a0k2 = As[oA + 0u * WG_Y][2u];
      let a1k2 = As[oA + 1u * WG_Y][2u];
      let b0k2 = Bs[oB + 0u * WG_X][2u];
      let b1k2 = Bs[oB + 1u * WG_X][2u];
      let b2k2 = Bs[oB + 2u * WG_X][2u];
      let b3k2 = Bs[oB + 3u * WG_X][2u];
      c0_0 = fma(vec4<f32>(a0k2.x), b0k2, c0_0); c0_1 = fma(vec4<f32>(a0k2.x), b1k2, c0_1); c0_2 = fma(vec4<f32>(a0k2.x), b2k2, c0_2); c0_3 = fma(vec4<f32>(a0k2.x), b3k2, c0_3);
      c1_0 = fma(vec4<f32>(a0k2.y), b0k2, c1_0); c1_1 = fma(vec4<f32>(a0k2.y), b1k2, c1_1); c1_2 = fma(vec4<f32>(a0k2.y), b2k2, c1_2); c1_3 = fma(vec4<f32>(a0k2.y), b3k2, c1_3);
      c2_0 = fma(vec4<f32>(a0k2.z), b0k2, c2_0); c2_1 = fma(vec4<f32>(a0k2.z), b1k2, c2_1); c2_2 = fma(vec4<f32>(a0k2.z), b2k2, c2_2); c2_3 = fma(vec4<f32>(a0k2.z), b3k2, c2_3);
      c3_0 = fma(vec4<f32>(a0k2.w), b0k2, c3_0); c3_1 = fma(vec4<f32>(a0k2.w), b1k2, c3_1); c3_2 = fma(vec4<f32>(a0k2.w), b2k2, c3_2); c3_3 = fma(vec4<f32>(a0k2.w), b3k2, c3_3);
      c4_0 = fma(vec4<f32>(a1k2.x), b0k2, c4_0); c4_1 = fma(vec4<f32>(a1k2.x), b1k2, c4_1); c4_2 = fma(vec4<f32>(a1k2.x), b2k2, c4_2); c4_3 = fma(vec4<f32>(a1k2.x), b3k2, c4_3);
      c5_0 = fma(vec4<f32>(a1k2.y), b0k2, c5_0); c5_1 = fma(vec4<f32>(a1k2.y), b1k2, c5_1); c5_2 = fma(vec4<f32>(a1k2.y), b2k2, c5_2); c5_3 = fma(vec4<f32>(a1k2.y), b3k2, c5_3);
      c6_0 = fma(vec4<f32>(a1k2.z), b0k2, c6_0); c6_1 = fma(vec4<f32>(a1k2.z), b1k2, c6_1); c6_2 = fma(vec4<f32>(a1k2.z), b2k2, c6_2); c6_3 = fma(vec4<f32>(a1k2.z), b3k2, c6_3);
      c7_0 = fma(vec4<f32>(a1k2.w), b0k2, c7_0); c7_1 = fma(vec4<f32>(a1k2.w), b1k2, c7_1); c7_2 = fma(vec4<f32>(a1k2.w), b2k2, c7_2); c7_3 = fma(vec4<f32>(a1k2.w), b3k2, c7_3);
      // k = 3
      let a0k3 = As[oA + 0u * WG_Y][3u];
      let a1k3 = As[oA + 1u * WG_Y][3u];
      let b0k3 = Bs[oB + 0u * WG_X][3u];
      let b1k3 = Bs[oB + 1u * WG_X][3u];
      let b2k3 = Bs[oB + 2u * WG_X][3u];
      let b3k3 = Bs[oB + 3u * WG_X][3u];
      c0_0 = fma(vec4<f32>(a0k3.x), b0k3, c0_0); c0_1 = fma(vec4<f32>(a0k3.x), b1k3, c0_1); c0_2 = fma(vec4<f32>(a0k3.x), b2k3, c0_2); c0_3 = fma(vec4<f32>(a0k3.x), b3k3, c0_3);
      c1_0 = fma(vec4<f32>(a0k3.y), b0k3, c1_0); c1_1 = fma(vec4<f32>(a0k3.y), b1k3, c1_1); c1_2 = fma(vec4<f32>(a0k3.y), b2k3, c1_2); c1_3 = fma(vec4<f32>(a0k3.y), b3k3, c1_3);
      c2_0 = fma(vec4<f32>(a0k3.z), b0k3, c2_0); c2_1 = fma(vec4<f32>(a0k3.z), b1k3, c2_1); c2_2 = fma(vec4<f32>(a0k3.z), b2k3, c2_2); c2_3 = fma(vec4<f32>(a0k3.z), b3k3, c2_3);
      c3_0 = fma(vec4<f32>(a0k3.w), b0k3, c3_0); c3_1 = fma(vec4<f32>(a0k3.w), b1k3, c3_1); c3_2 = fma(vec4<f32>(a0k3.w), b2k3, c3_2); c3_3 = fma(vec4<f32>(a0k3.w), b3k3, c3_3);
      c4_0 = fma(vec4<f32>(a1k3.x), b0k3, c4_0); c4_1 = fma(vec4<f32>(a1k3.x), b1k3, c4_1); c4_2 = fma(vec4<f32>(a1k3.x), b2k3, c4_2); c4_3 = fma(vec4<f32>(a1k3.x), b3k3, c4_3);
      c5_0 = fma(vec4<f32>(a1k3.y), b0k3, c5_0); c5_1 = fma(vec4<f32>(a1k3.y), b1k3, c5_1); c5_2 = fma(vec4<f32>(a1k3.y), b2k3, c5_2); c5_3 = fma(vec4<f32>(a1k3.y), b3k3, c5_3);
      c6_0 = fma(vec4<f32>(a1k3.z), b0k3, c6_0); c6_1 = fma(vec4<f32>(a1k3.z), b1k3, c6_1); c6_2 = fma(vec4<f32>(a1k3.z), b2k3, c6_2); c6_3 = fma(vec4<f32>(a1k3.z), b3k3, c6_3);
      c7_0 = fma(vec4<f32>(a1k3.w), b0k3, c7_0); c7_1 = fma(vec4<f32>(a1k3.w), b1k3, c7_1); c7_2 = fma(vec4<f32>(a1k3.w), b2k3, c7_2); c7_3 = fma(vec4<f32>(a1k3.w), b3k3, c7_3);
      // k = 4
      let a0k4 = As[oA + 0u * WG_Y][4u];
      let a1k4 = As[oA + 1u * WG_Y][4u];
      let b0k4 = Bs[oB + 0u * WG_X][4u];
      let b1k4 = Bs[oB + 1u * WG_X][4u];
      let b2k4 = Bs[oB + 2u * WG_X][4u];
      let b3k4 = Bs[oB + 3u * WG_X][4u];
      c0_0 = fma(vec4<f32>(a0k4.x), b0k4, c0_0); c0_1 = fma(vec4<f32>(a0k4.x), b1k4, c0_1); c0_2 = fma(vec4<f32>(a0k4.x), b2k4, c0_2); c0_3 = fma(vec4<f32>(a0k4.x), b3k4, c0_3);
      c1_0 = fma(vec4<f32>(a0k4.y), b0k4, c1_0); c1_1 = fma(vec4<f32>(a0k4.y), b1k4, c1_1); c1_2 = fma(vec4<f32>(a0k4.y), b2k4, c1_2); c1_3 = fma(vec4<f32>(a0k4.y), b3k4, c1_3);
      c2_0 = fma(vec4<f32>(a0k4.z), b0k4, c2_0); c2_1 = fma(vec4<f32>(a0k4.z), b1k4, c2_1); c2_2 = fma(vec4<f32>(a0k4.z), b2k4, c2_2); c2_3 = fma(vec4<f32>(a0k4.z), b3k4, c2_3);
      c3_0 = fma(vec4<f32>(a0k4.w), b0k4, c3_0); c3_1 = fma(vec4<f32>(a0k4.w), b1k4, c3_1); c3_2 = fma(vec4<f32>(a0k4.w), b2k4, c3_2); c3_3 = fma(vec4<f32>(a0k4.w), b3k4, c3_3);
      c4_0 = fma(vec4<f32>(a1k4.x), b0k4, c4_0); c4_1 = fma(vec4<f32>(a1k4.x), b1k4, c4_1); c4_2 = fma(vec4<f32>(a1k4.x), b2k4, c4_2); c4_3 = fma(vec4<f32>(a1k4.x), b3k4, c4_3);
      c5_0 = fma(vec4<f32>(a1k4.y), b0k4, c5_0); c5_1 = fma(vec4<f32>(a1k4.y), b1k4, c5_1); c5_2 = fma(vec4<f32>(a1k4.y), b2k4, c5_2); c5_3 = fma(vec4<f32>(a1k4.y), b3k4, c5_3);
      c6_0 = fma(vec4<f32>(a1k4.z), b0k4, c6_0); c6_1 = fma(vec4<f32>(a1k4.z), b1k4, c6_1); c6_2 = fma(vec4<f32>(a1k4.z), b2k4, c6_2); c6_3 = fma(vec4<f32>(a1k4.z), b3k4, c6_3);
      c7_0 = fma(vec4<f32>(a1k4.w), b0k4, c7_0); c7_1 = fma(vec4<f32>(a1k4.w), b1k4, c7_1); c7_2 = fma(vec4<f32>(a1k4.w), b2k4, c7_2); c7_3 = fma(vec4<f32>(a1k4.w), b3k4, c7_3);
      // k = 5
      let a0k5 = As[oA + 0u * WG_Y][5u];
      let a1k5 = As[oA + 1u * WG_Y][5u];
      let b0k5 = Bs[oB + 0u * WG_X][5u];
      let b1k5 = Bs[oB + 1u * WG_X][5u];
      let b2k5 = Bs[oB + 2u * WG_X][5u];
      let b3k5 = Bs[oB + 3u * WG_X][5u];
      c0_0 = fma(vec4<f32>(a0k5.x), b0k5, c0_0); c0_1 = fma(vec4<f32>(a0k5.x), b1k5, c0_1); c0_2 = fma(vec4<f32>(a0k5.x), b2k5, c0_2); c0_3 = fma(vec4<f32>(a0k5.x), b3k5, c0_3);
      c1_0 = fma(vec4<f32>(a0k5.y), b0k5, c1_0); c1_1 = fma(vec4<f32>(a0k5.y), b1k5, c1_1); c1_2 = fma(vec4<f32>(a0k5.y), b2k5, c1_2); c1_3 = fma(vec4<f32>(a0k5.y), b3k5, c1_3);
      c2_0 = fma(vec4<f32>(a0k5.z), b0k5, c2_0); c2_1 = fma(vec4<f32>(a0k5.z), b1k5, c2_1); c2_2 = fma(vec4<f32>(a0k5.z), b2k5, c2_2); c2_3 = fma(vec4<f32>(a0k5.z), b3k5, c2_3);
      c3_0 = fma(vec4<f32>(a0k5.w), b0k5, c3_0); c3_1 = fma(vec4<f32>(a0k5.w), b1k5, c3_1); c3_2 = fma(vec4<f32>(a0k5.w), b2k5, c3_2); c3_3 = fma(vec4<f32>(a0k5.w), b3k5, c3_3);
      c4_0 = fma(vec4<f32>(a1k5.x), b0k5, c4_0); c4_1 = fma(vec4<f32>(a1k5.x), b1k5, c4_1); c4_2 = fma(vec4<f32>(a1k5.x), b2k5, c4_2); c4_3 = fma(vec4<f32>(a1k5.x), b3k5, c4_3);
      c5_0 = fma(vec4<f32>(a1k5.y), b0k5, c5_0); c5_1 = fma(vec4<f32>(a1k5.y), b1k5, c5_1); c5_2 = fma(vec4<f32>(a1k5.y), b2k5, c5_2); c5_3 = fma(vec4<f32>(a1k5.y), b3k5, c5_3);
      c6_0 = fma(vec4<f32>(a1k5.z), b0k5, c6_0); c6_1 = fma(vec4<f32>(a1k5.z), b1k5, c6_1); c6_2 = fma(vec4<f32>(a1k5.z), b2k5, c6_2); c6_3 = fma(vec4<f32>(a1k5.z), b3k5, c6_3);
      c7_0 = fma(vec4<f32>(a1k5.w), b0k5, c7_0); c7_1 = fma(vec4<f32>(a1k5.w), b1k5, c7_1); c7_2 = fma(vec4<f32>(a1k5.w), b2k5, c7_2); c7_3 = fma(vec4<f32>(a1k5.w), b3k5, c7_3);
      // k = 6
      let a0k6 = As[oA + 0u * WG_Y][6u];
      let a1k6 = As[oA + 1u * WG_Y][6u];
      let b0k6 = Bs[oB + 0u * WG_X][6u];
      let b1k6 = Bs[oB + 1u * WG_X][6u];
      let b2k6 = Bs[oB + 2u * WG_X][6u];
      let b3k6 = Bs[oB + 3u * WG_X][6u];
      c0_0 = fma(vec4<f32>(a0k6.x), b0k6, c0_0); c0_1 = fma(vec4<f32>(a0k6.x), b1k6, c0_1); c0_2 = fma(vec4<f32>(a0k6.x), b2k6, c0_2); c0_3 = fma(vec4<f32>(a0k6.x), b3k6, c0_3);
      c1_0 = fma(vec4<f32>(a0k6.y), b0k6, c1_0); c1_1 = fma(vec4<f32>(a0k6.y), b1k6, c1_1); c1_2 = fma(vec4<f32>(a0k6.y), b2k6, c1_2); c1_3 = fma(vec4<f32>(a0k6.y), b3k6, c1_3);
      c2_0 = fma(vec4<f32>(a0k6.z), b0k6, c2_0); c2_1 = fma(vec4<f32>(a0k6.z), b1k6, c2_1); c2_2 = fma(vec4<f32>(a0k6.z), b2k6, c2_2); c2_3 = fma(vec4<f32>(a0k6.z), b3k6, c2_3);
      c3_0 = fma(vec4<f32>(a0k6.w), b0k6, c3_0); c3_1 = fma(vec4<f32>(a0k6.w), b1k6, c3_1); c3_2 = fma(vec4<f32>(a0k6.w), b2k6, c3_2); c3_3 = fma(vec4<f32>(a0k6.w), b3k6, c3_3);
      c4_0 = fma(vec4<f32>(a1k6.x), b0k6, c4_0); c4_1 = fma(vec4<f32>(a1k6.x), b1k6, c4_1); c4_2 = fma(vec4<f32>(a1k6.x), b2k6, c4_2); c4_3 = fma(vec4<f32>(a1k6.x), b3k6, c4_3);
      c5_0 = fma(vec4<f32>(a1k6.y), b0k6, c5_0); c5_1 = fma(vec4<f32>(a1k6.y), b1k6, c5_1); c5_2 = fma(vec4<f32>(a1k6.y), b2k6, c5_2); c5_3 = fma(vec4<f32>(a1k6.y), b3k6, c5_3);
      c6_0 = fma(vec4<f32>(a1k6.z), b0k6, c6_0); c6_1 = fma(vec4<f32>(a1k6.z), b1k6, c6_1); c6_2 = fma(vec4<f32>(a1k6.z), b2k6, c6_2); c6_3 = fma(vec4<f32>(a1k6.z), b3k6, c6_3);
      c7_0 = fma(vec4<f32>(a1k6.w), b0k6, c7_0); c7_1 = fma(vec4<f32>(a1k6.w), b1k6, c7_1); c7_2 = fma(vec4<f32>(a1k6.w), b2k6, c7_2); c7_3 = fma(vec4<f32>(a1k6.w), b3k6, c7_3);
      // k = 7
      let a0k7 = As[oA + 0u * WG_Y][7u];
      let a1k7 = As[oA + 1u * WG_Y][7u];
      let b0k7 = Bs[oB + 0u * WG_X][7u];
      let b1k7 = Bs[oB + 1u * WG_X][7u];
      let b2k7 = Bs[oB + 2u * WG_X][7u];
      let b3k7 = Bs[oB + 3u * WG_X][7u];
      c0_0 = fma(vec4<f32>(a0k7.x), b0k7, c0_0); c0_1 = fma(vec4<f32>(a0k7.x), b1k7, c0_1); c0_2 = fma(vec4<f32>(a0k7.x), b2k7, c0_2); c0_3 = fma(vec4<f32>(a0k7.x), b3k7, c0_3);
      c1_0 = fma(vec4<f32>(a0k7.y), b0k7, c1_0); c1_1 = fma(vec4<f32>(a0k7.y), b1k7, c1_1); c1_2 = fma(vec4<f32>(a0k7.y), b2k7, c1_2); c1_3 = fma(vec4<f32>(a0k7.y), b3k7, c1_3);
      c2_0 = fma(vec4<f32>(a0k7.z), b0k7, c2_0); c2_1 = fma(vec4<f32>(a0k7.z), b1k7, c2_1); c2_2 = fma(vec4<f32>(a0k7.z), b2k7, c2_2); c2_3 = fma(vec4<f32>(a0k7.z), b3k7, c2_3);
      c3_0 = fma(vec4<f32>(a0k7.w), b0k7, c3_0); c3_1 = fma(vec4<f32>(a0k7.w), b1k7, c3_1); c3_2 = fma(vec4<f32>(a0k7.w), b2k7, c3_2); c3_3 = fma(vec4<f32>(a0k7.w), b3k7, c3_3);
      c4_0 = fma(vec4<f32>(a1k7.x), b0k7, c4_0); c4_1 = fma(vec4<f32>(a1k7.x), b1k7, c4_1); c4_2 = fma(vec4<f32>(a1k7.x), b2k7, c4_2); c4_3 = fma(vec4<f32>(a1k7.x), b3k7, c4_3);
      c5_0 = fma(vec4<f32>(a1k7.y), b0k7, c5_0); c5_1 = fma(vec4<f32>(a1k7.y), b1k7, c5_1); c5_2 = fma(vec4<f32>(a1k7.y), b2k7, c5_2); c5_3 = fma(vec4<f32>(a1k7.y), b3k7, c5_3);
      c6_0 = fma(vec4<f32>(a1k7.z), b0k7, c6_0); c6_1 = fma(vec4<f32>(a1k7.z), b1k7, c6_1); c6_2 = fma(vec4<f32>(a1k7.z), b2k7, c6_2); c6_3 = fma(vec4<f32>(a1k7.z), b3k7, c6_3);
      c7_0 = fma(vec4<f32>(a1k7.w), b0k7, c7_0); c7_1 = fma(vec4<f32>(a1k7.w), b1k7, c7_1); c7_2 = fma(vec4<f32>(a1k7.w), b2k7, c7_2); c7_3 = fma(vec4<f32>(a1k7.w), b3k7, c7_3);
    }
    if (STAGES == 1u) { workgroupBarrier(); } // one stage: everyone must finish reading before it is overwritten
    if (more) {
      let s1 = (t + 1u) % STAGES;
      for (var i = 0u; i < A_LOADS; i++) { storeA(li, s1, i, ra[i]); }
      for (var i = 0u; i < B_LOADS; i++) { storeB(li, s1, i, rb[i]); }
    }
    workgroupBarrier();
  }

  let row0 = m0 + (0u * WG_Y + ty) * 4u + 0u;
  storeC(row0, n0 + (0u * WG_X + tx) * 4u, c0_0);
  storeC(row0, n0 + (1u * WG_X + tx) * 4u, c0_1);
  storeC(row0, n0 + (2u * WG_X + tx) * 4u, c0_2);
  storeC(row0, n0 + (3u * WG_X + tx) * 4u, c0_3);
  let row1 = m0 + (0u * WG_Y + ty) * 4u + 1u;
  storeC(row1, n0 + (0u * WG_X + tx) * 4u, c1_0);
  storeC(row1, n0 + (1u * WG_X + tx) * 4u, c1_1);
  storeC(row1, n0 + (2u * WG_X + tx) * 4u, c1_2);
  storeC(row1, n0 + (3u * WG_X + tx) * 4u, c1_3);
  let row2 = m0 + (0u * WG_Y + ty) * 4u + 2u;
  storeC(row2, n0 + (0u * WG_X + tx) * 4u, c2_0);
  storeC(row2, n0 + (1u * WG_X + tx) * 4u, c2_1);
  storeC(row2, n0 + (2u * WG_X + tx) * 4u, c2_2);
  storeC(row2, n0 + (3u * WG_X + tx) * 4u, c2_3);
  let row3 = m0 + (0u * WG_Y + ty) * 4u + 3u;
  storeC(row3, n0 + (0u * WG_X + tx) * 4u, c3_0);
  storeC(row3, n0 + (1u * WG_X + tx) * 4u, c3_1);
  storeC(row3, n0 + (2u * WG_X + tx) * 4u, c3_2);
  storeC(row3, n0 + (3u * WG_X + tx) * 4u, c3_3);
  let row4 = m0 + (1u * WG_Y + ty) * 4u + 0u;
  storeC(row4, n0 + (0u * WG_X + tx) * 4u, c4_0);
  storeC(row4, n0 + (1u * WG_X + tx) * 4u, c4_1);
  storeC(row4, n0 + (2u * WG_X + tx) * 4u, c4_2);
  storeC(row4, n0 + (3u * WG_X + tx) * 4u, c4_3);
  let row5 = m0 + (1u * WG_Y + ty) * 4u + 1u;
  storeC(row5, n0 + (0u * WG_X + tx) * 4u, c5_0);
  storeC(row5, n0 + (1u * WG_X + tx) * 4u, c5_1);
  storeC(row5, n0 + (2u * WG_X + tx) * 4u, c5_2);
  storeC(row5, n0 + (3u * WG_X + tx) * 4u, c5_3);
  let row6 = m0 + (1u * WG_Y + ty) * 4u + 2u;
  storeC(row6, n0 + (0u * WG_X + tx) * 4u, c6_0);
  storeC(row6, n0 + (1u * WG_X + tx) * 4u, c6_1);
  storeC(row6, n0 + (2u * WG_X + tx) * 4u, c6_2);
  storeC(row6, n0 + (3u * WG_X + tx) * 4u, c6_3);
  let row7 = m0 + (1u * WG_Y + ty) * 4u + 3u;
  storeC(row7, n0 + (0u * WG_X + tx) * 4u, c7_0);
  storeC(row7, n0 + (1u * WG_X + tx) * 4u, c7_1);
  storeC(row7, n0 + (2u * WG_X + tx) * 4u, c7_2);
  storeC(row7, n0 + (3u * WG_X + tx) * 4u, c7_3);
}
