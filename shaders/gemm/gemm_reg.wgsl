// Register-tiled f32 GEMM built around Dawn's robustness pass: C[M,N] = A[M,K] * op(B),
// op(B) = B[K,N] (B_T = false) or B[N,K]^T (B_T = true, the row-major (out, in) weight layout).
//
// Bindings: 0 uniform Params {M, N, K, _pad}
//           1 a: array<vec4<f32>>  [M, K]
//           2 b: array<vec4<f32>>  [K, N] or [N, K]
//           3 c: array<vec4<f32>>  [M, N] (written)
// Buffers must be sized to a multiple of 16 bytes.
// Dispatch: (ceil(N / BN), ceil(M / BM)) workgroups of (WG_X, WG_Y) threads, BM = TM*WG_Y, BN = TN*WG_X.
//
// Each thread owns TM x TN outputs: TM/4 groups of 4 rows strided by 4*WG_Y and TN/4 vec4 columns strided
// by 4*WG_X, so the per-k shared reads are TM/4 + TN/4 vec4 loads feeding TM*TN FMAs.
// Why the shared-memory layout is [stage][k-chunk][row/4] of Chunk = array<vec4, 9>: Dawn's robustness
// pass clamps every non-constant array index (workgroup arrays too). The inner index (k within a chunk of
// 8) is a loop counter that becomes a constant once the driver unrolls the k loop, so its clamp folds;
// the outer index depends only on the thread and the chunk, so its clamp is computed once per chunk
// instead of once per load, and each unrolled load becomes base + immediate. The 9th vec4 is padding: a
// 144-byte row stride spreads the 4 (A) / 8 (B) distinct rows one warp reads over distinct banks.
// A (and B when B_T) is transposed on the way into shared memory (4 scalar stores per global vec4) so that
// both operands are read as vec4 along M / N.
// K is walked in tiles of BK (a multiple of 8): the next tile's global loads go to registers before the
// current tile's FMAs (latency hidden behind math), then to shared memory. STAGES = 2: two shared stages
// and one barrier per tile; STAGES = 1: one stage (half the shared memory) and two barriers per tile.
// WARP_X > 0: each run of 32 invocations owns a WARP_X x (32/WARP_X) block of threads (warp tiling), so
// one k step of a warp touches few distinct shared vec4s (broadcast); WARP_X = 0: row-major threads.
// GROUP_M > 1: workgroups are renumbered in groups of GROUP_M tile rows (Triton-style) so concurrently
// running workgroups share A rows and B columns in L2.
// CHECK = false is the fast path: legal only when M % BM == 0, N % BN == 0 and K % BK == 0; CHECK = true
// bounds-checks every element (any M, N, K). Host-checked constraints (src/kernels/gemm-reg.ts):
// TM, TN in {4, 8, 12, 16} with TM*TN <= 128; BK % 8 == 0; WG_X*WG_Y % 32 == 0 when WARP_X > 0;
// (BM*BK/4) % NT == 0 and (BN*BK/4) % NT == 0, at most 8 vec4 loads per thread per operand.

override WG_X: u32 = 16u; // threads along N
override WG_Y: u32 = 16u; // threads along M
override TM: u32 = 8u; // rows of C per thread (multiple of 4)
override TN: u32 = 8u; // columns of C per thread (multiple of 4)
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

  var acc: array<vec4<f32>, 32>; // acc[i*(TN/4) + j]: C row m0 + ((i/4)*WG_Y + ty)*4 + i%4, cols n0 + (j*WG_X + tx)*4..+3
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
      storeC(row, n0 + (j * WG_X + tx) * 4u, acc[i * (TN / 4u) + j]);
    }
  }
}
