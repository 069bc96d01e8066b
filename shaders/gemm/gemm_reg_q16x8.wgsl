// Mutation bench of gemm_reg_r16x8.wgsl (issue 7, f32 GEMM >= 50 TFLOPS on the H100): same padded chunk
// layout, named-register prefetch and 16x8 outputs per thread, with schedule knobs as overrides so one bench
// run sweeps them beside the unchanged r16x8. C[M,N] = A[M,K] * op(B), op(B) = B[K,N] (B_T = false) or
// B[N,K]^T (B_T = true), all f32. Aligned shapes only: M % BM, N % BN, K % BK == 0 (host-checked in
// src/kernels/gemm-q16x8.ts), so no load or store is bounds-checked.
//
// Bindings: 0 uniform Params {M, N, K, _pad}
//           1 a: array<vec4<f32>>  [M, K]
//           2 b: array<vec4<f32>>  [K, N] or [N, K]
//           3 c: array<vec4<f32>>  [M, N] (written)
// Dispatch: (N / BN, M / BM) workgroups of (WG_X, WG_Y) threads, BM = 16*WG_Y, BN = 8*WG_X.
//
// Differences from r16x8 (read its header for the chunk layout, warp tiling, L2 grouping):
// - The 32 vec4 accumulators are fields of one struct, updated by kstep() (one k step, 128 FMAs) through a
//   pointer: field access is never clamped by robustness, and the driver inlines both functions, so this is
//   r16x8's code with a shorter source. q16x8 with every knob off is that refactor alone (the bench's q0 row).
// - UNROLL_KC: the chunk loop (NKC = BK/8 iterations of 8 k steps) is written out straight (chunk(0),
//   chunk(1), ...), so a tile's FMAs are one basic block and the compiler can issue the next chunk's shared
//   loads during this chunk's FMAs instead of stalling at the loop back-edge.
// - PF_UNCOND: the next tile's global loads and shared stores are unconditional (the last tile re-reads
//   itself: k1 = min(t+1, nTiles-1)*BK, then stores into a stage nobody reads again), so the K loop body has
//   no branch around them; costs one redundant tile load per workgroup.
// - No f16 B, no ragged shapes (r16x8 keeps those).

override WG_X: u32 = 32u; // threads along N
override WG_Y: u32 = 8u; // threads along M
const TM = 16u; // rows of C per thread (fixed in this file)
const TN = 8u; // columns of C per thread (fixed in this file)
override BK: u32 = 16u; // K step of one shared-memory tile (multiple of KC, at most 32)
override STAGES: u32 = 1u; // shared-memory stages: 1 or 2
override WARP_X: u32 = 4u; // threads along N inside one 32-wide subgroup; 0 = plain row-major threads
override GROUP_M: u32 = 0u; // tile rows per L2 swizzle group; 0 or 1 = plain raster order
override B_T: bool = false;
override UNROLL_KC: bool = false;
override PF_UNCOND: bool = false;

override NT: u32 = WG_X * WG_Y; // threads per workgroup
override BM: u32 = WG_Y * TM; // rows of C per workgroup
override BN: u32 = WG_X * TN; // columns of C per workgroup
override BM4: u32 = BM / 4u;
override BN4: u32 = BN / 4u;
override NKC: u32 = BK / 8u; // k-chunks per tile (1..4)
override A_LOADS: u32 = BM * BK / 4u / NT; // global vec4 loads per thread per tile (1..8)
override B_LOADS: u32 = BN * BK / 4u / NT; // (1..8)
override WX: u32 = max(WARP_X, 1u); // WARP_X as a divisor (overrides fold even in dead branches)

const KC = 8u; // k steps per chunk (inner, constant-indexed dimension)
alias Chunk = array<vec4<f32>, 9>; // KC vec4s + 1 padding vec4 (conflict-free: chunk stride 144 bytes)

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// As[(s*NKC + kc)*BM4 + m/4][k][m%4] = A[m0 + m, k0 + kc*8 + k]; Bs likewise with n.
var<workgroup> As: array<Chunk, STAGES * NKC * BM4>;
var<workgroup> Bs: array<Chunk, STAGES * NKC * BN4>;

struct Acc { // c{i}_{j}: C row ((i/4)*WG_Y + ty)*4 + i%4, cols (j*WG_X + tx)*4..+3 of the tile
  c0_0: vec4<f32>, c0_1: vec4<f32>,
  c1_0: vec4<f32>, c1_1: vec4<f32>,
  c2_0: vec4<f32>, c2_1: vec4<f32>,
  c3_0: vec4<f32>, c3_1: vec4<f32>,
  c4_0: vec4<f32>, c4_1: vec4<f32>,
  c5_0: vec4<f32>, c5_1: vec4<f32>,
  c6_0: vec4<f32>, c6_1: vec4<f32>,
  c7_0: vec4<f32>, c7_1: vec4<f32>,
  c8_0: vec4<f32>, c8_1: vec4<f32>,
  c9_0: vec4<f32>, c9_1: vec4<f32>,
  c10_0: vec4<f32>, c10_1: vec4<f32>,
  c11_0: vec4<f32>, c11_1: vec4<f32>,
  c12_0: vec4<f32>, c12_1: vec4<f32>,
  c13_0: vec4<f32>, c13_1: vec4<f32>,
  c14_0: vec4<f32>, c14_1: vec4<f32>,
  c15_0: vec4<f32>, c15_1: vec4<f32>,
}

// Quad q of the A tile: row q / (BK/4), k-quad q % (BK/4).
fn loadA(li: u32, m0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  return a[((m0 + q / (BK / 4u)) * p.K + k0 + (q % (BK / 4u)) * 4u) >> 2u];
}

// Quad q of the B tile: B_T: row n q / (BK/4), k-quad q % (BK/4); else k row q / BN4, n-quad q % BN4.
fn loadB(li: u32, n0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  if (B_T) { return b[((n0 + q / (BK / 4u)) * p.K + k0 + (q % (BK / 4u)) * 4u) >> 2u]; }
  return b[((k0 + q / BN4) * p.N + n0 + (q % BN4) * 4u) >> 2u];
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
    Bs[(s * NKC + k / KC) * BN4 + q % BN4][k % KC] = v; // 4 consecutive n at one k
  }
}

// One k step: A rows of this thread (4 quads of 4 rows) times 2 B column quads, 128 FMAs into acc.
fn kstep(acc: ptr<function, Acc>, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
  (*acc).c0_0 = fma(vec4<f32>(a0.x), b0, (*acc).c0_0); (*acc).c0_1 = fma(vec4<f32>(a0.x), b1, (*acc).c0_1);
  (*acc).c1_0 = fma(vec4<f32>(a0.y), b0, (*acc).c1_0); (*acc).c1_1 = fma(vec4<f32>(a0.y), b1, (*acc).c1_1);
  (*acc).c2_0 = fma(vec4<f32>(a0.z), b0, (*acc).c2_0); (*acc).c2_1 = fma(vec4<f32>(a0.z), b1, (*acc).c2_1);
  (*acc).c3_0 = fma(vec4<f32>(a0.w), b0, (*acc).c3_0); (*acc).c3_1 = fma(vec4<f32>(a0.w), b1, (*acc).c3_1);
  (*acc).c4_0 = fma(vec4<f32>(a1.x), b0, (*acc).c4_0); (*acc).c4_1 = fma(vec4<f32>(a1.x), b1, (*acc).c4_1);
  (*acc).c5_0 = fma(vec4<f32>(a1.y), b0, (*acc).c5_0); (*acc).c5_1 = fma(vec4<f32>(a1.y), b1, (*acc).c5_1);
  (*acc).c6_0 = fma(vec4<f32>(a1.z), b0, (*acc).c6_0); (*acc).c6_1 = fma(vec4<f32>(a1.z), b1, (*acc).c6_1);
  (*acc).c7_0 = fma(vec4<f32>(a1.w), b0, (*acc).c7_0); (*acc).c7_1 = fma(vec4<f32>(a1.w), b1, (*acc).c7_1);
  (*acc).c8_0 = fma(vec4<f32>(a2.x), b0, (*acc).c8_0); (*acc).c8_1 = fma(vec4<f32>(a2.x), b1, (*acc).c8_1);
  (*acc).c9_0 = fma(vec4<f32>(a2.y), b0, (*acc).c9_0); (*acc).c9_1 = fma(vec4<f32>(a2.y), b1, (*acc).c9_1);
  (*acc).c10_0 = fma(vec4<f32>(a2.z), b0, (*acc).c10_0); (*acc).c10_1 = fma(vec4<f32>(a2.z), b1, (*acc).c10_1);
  (*acc).c11_0 = fma(vec4<f32>(a2.w), b0, (*acc).c11_0); (*acc).c11_1 = fma(vec4<f32>(a2.w), b1, (*acc).c11_1);
  (*acc).c12_0 = fma(vec4<f32>(a3.x), b0, (*acc).c12_0); (*acc).c12_1 = fma(vec4<f32>(a3.x), b1, (*acc).c12_1);
  (*acc).c13_0 = fma(vec4<f32>(a3.y), b0, (*acc).c13_0); (*acc).c13_1 = fma(vec4<f32>(a3.y), b1, (*acc).c13_1);
  (*acc).c14_0 = fma(vec4<f32>(a3.z), b0, (*acc).c14_0); (*acc).c14_1 = fma(vec4<f32>(a3.z), b1, (*acc).c14_1);
  (*acc).c15_0 = fma(vec4<f32>(a3.w), b0, (*acc).c15_0); (*acc).c15_1 = fma(vec4<f32>(a3.w), b1, (*acc).c15_1);
}

// Chunk kc of stage s: 8 k steps; the k index is a literal (in range by construction: no clamp), the chunk
// index is clamped once per operand quad by robustness.
fn chunk(acc: ptr<function, Acc>, s: u32, kc: u32, tx: u32, ty: u32) {
  let oA = (s * NKC + kc) * BM4 + ty; // chunk row of this thread's first A quad
  let oB = (s * NKC + kc) * BN4 + tx; // chunk of this thread's first B quad
  kstep(acc, As[oA][0u], As[oA + WG_Y][0u], As[oA + 2u * WG_Y][0u], As[oA + 3u * WG_Y][0u], Bs[oB][0u], Bs[oB + WG_X][0u]);
  kstep(acc, As[oA][1u], As[oA + WG_Y][1u], As[oA + 2u * WG_Y][1u], As[oA + 3u * WG_Y][1u], Bs[oB][1u], Bs[oB + WG_X][1u]);
  kstep(acc, As[oA][2u], As[oA + WG_Y][2u], As[oA + 2u * WG_Y][2u], As[oA + 3u * WG_Y][2u], Bs[oB][2u], Bs[oB + WG_X][2u]);
  kstep(acc, As[oA][3u], As[oA + WG_Y][3u], As[oA + 2u * WG_Y][3u], As[oA + 3u * WG_Y][3u], Bs[oB][3u], Bs[oB + WG_X][3u]);
  kstep(acc, As[oA][4u], As[oA + WG_Y][4u], As[oA + 2u * WG_Y][4u], As[oA + 3u * WG_Y][4u], Bs[oB][4u], Bs[oB + WG_X][4u]);
  kstep(acc, As[oA][5u], As[oA + WG_Y][5u], As[oA + 2u * WG_Y][5u], As[oA + 3u * WG_Y][5u], Bs[oB][5u], Bs[oB + WG_X][5u]);
  kstep(acc, As[oA][6u], As[oA + WG_Y][6u], As[oA + 2u * WG_Y][6u], As[oA + 3u * WG_Y][6u], Bs[oB][6u], Bs[oB + WG_X][6u]);
  kstep(acc, As[oA][7u], As[oA + WG_Y][7u], As[oA + 2u * WG_Y][7u], As[oA + 3u * WG_Y][7u], Bs[oB][7u], Bs[oB + WG_X][7u]);
}

fn storeC(row: u32, col: u32, v: vec4<f32>) { c[(row * p.N + col) >> 2u] = v; }

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

  var acc: Acc; // zero-initialized
  var ra0: vec4<f32>;
  var ra1: vec4<f32>;
  var ra2: vec4<f32>;
  var ra3: vec4<f32>;
  var ra4: vec4<f32>;
  var ra5: vec4<f32>;
  var ra6: vec4<f32>;
  var ra7: vec4<f32>; // prefetched A quads of the next tile (ra1..ra7 used when A_LOADS > 1..7)
  var rb0: vec4<f32>;
  var rb1: vec4<f32>;
  var rb2: vec4<f32>;
  var rb3: vec4<f32>;
  var rb4: vec4<f32>;
  var rb5: vec4<f32>;
  var rb6: vec4<f32>;
  var rb7: vec4<f32>; // prefetched B quads of the next tile

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

  let nTiles = p.K / BK;
  for (var t = 0u; t < nTiles; t++) {
    let s = t % STAGES;
    let more = PF_UNCOND || t + 1u < nTiles;
    if (more) { // next tile's global loads in flight during this tile's FMAs
      let k1 = min(t + 1u, nTiles - 1u) * BK;
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
    if (UNROLL_KC) {
      chunk(&acc, s, 0u, tx, ty);
      if (NKC > 1u) { chunk(&acc, s, 1u, tx, ty); }
      if (NKC > 2u) { chunk(&acc, s, 2u, tx, ty); }
      if (NKC > 3u) { chunk(&acc, s, 3u, tx, ty); }
    } else {
      for (var kc = 0u; kc < NKC; kc++) { chunk(&acc, s, kc, tx, ty); }
    }
    if (STAGES == 1u) { workgroupBarrier(); } // one stage: everyone must finish reading before it is overwritten
    if (more) { // two stages: the other stage was last read before the previous barrier
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

  let cn0 = n0 + tx * 4u; // first column quad of this thread
  let cn1 = n0 + (WG_X + tx) * 4u; // second column quad
  let r0 = m0 + (0u * WG_Y + ty) * 4u + 0u; storeC(r0, cn0, acc.c0_0); storeC(r0, cn1, acc.c0_1);
  let r1 = m0 + (0u * WG_Y + ty) * 4u + 1u; storeC(r1, cn0, acc.c1_0); storeC(r1, cn1, acc.c1_1);
  let r2 = m0 + (0u * WG_Y + ty) * 4u + 2u; storeC(r2, cn0, acc.c2_0); storeC(r2, cn1, acc.c2_1);
  let r3 = m0 + (0u * WG_Y + ty) * 4u + 3u; storeC(r3, cn0, acc.c3_0); storeC(r3, cn1, acc.c3_1);
  let r4 = m0 + (1u * WG_Y + ty) * 4u + 0u; storeC(r4, cn0, acc.c4_0); storeC(r4, cn1, acc.c4_1);
  let r5 = m0 + (1u * WG_Y + ty) * 4u + 1u; storeC(r5, cn0, acc.c5_0); storeC(r5, cn1, acc.c5_1);
  let r6 = m0 + (1u * WG_Y + ty) * 4u + 2u; storeC(r6, cn0, acc.c6_0); storeC(r6, cn1, acc.c6_1);
  let r7 = m0 + (1u * WG_Y + ty) * 4u + 3u; storeC(r7, cn0, acc.c7_0); storeC(r7, cn1, acc.c7_1);
  let r8 = m0 + (2u * WG_Y + ty) * 4u + 0u; storeC(r8, cn0, acc.c8_0); storeC(r8, cn1, acc.c8_1);
  let r9 = m0 + (2u * WG_Y + ty) * 4u + 1u; storeC(r9, cn0, acc.c9_0); storeC(r9, cn1, acc.c9_1);
  let r10 = m0 + (2u * WG_Y + ty) * 4u + 2u; storeC(r10, cn0, acc.c10_0); storeC(r10, cn1, acc.c10_1);
  let r11 = m0 + (2u * WG_Y + ty) * 4u + 3u; storeC(r11, cn0, acc.c11_0); storeC(r11, cn1, acc.c11_1);
  let r12 = m0 + (3u * WG_Y + ty) * 4u + 0u; storeC(r12, cn0, acc.c12_0); storeC(r12, cn1, acc.c12_1);
  let r13 = m0 + (3u * WG_Y + ty) * 4u + 1u; storeC(r13, cn0, acc.c13_0); storeC(r13, cn1, acc.c13_1);
  let r14 = m0 + (3u * WG_Y + ty) * 4u + 2u; storeC(r14, cn0, acc.c14_0); storeC(r14, cn1, acc.c14_1);
  let r15 = m0 + (3u * WG_Y + ty) * 4u + 3u; storeC(r15, cn0, acc.c15_0); storeC(r15, cn1, acc.c15_1);
}
