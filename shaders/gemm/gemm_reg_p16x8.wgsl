// Pipelined f32 GEMM with a fixed 128x256 workgroup tile (256 threads, 16x8 outputs each): C[M,N] = A[M,K] * op(B),
// op(B) = B[K,N] (B_T = false) or B[N,K]^T (B_T = true). Aligned shapes only (M % 128, N % 256, K % BK == 0:
// the host checks; src/kernels/gemm-pipe.ts).
//
// Bindings: 0 uniform Params {M, N, K, _pad}
//           1 a: array<vec4<f32>>  [M, K]
//           2 b: array<vec4<f32>>  [K, N] or [N, K]
//           3 c: array<vec4<f32>>  [M, N] (written)
// Dispatch: (N / 256, M / 128) workgroups of (32, 8) threads.
//
// Differences from gemm_reg_r16x8.wgsl (its best config, 128x256 bk16 s1 w4, is this file's shape):
// - Shared tiles are k-major, As[k][m/4] and Bs[k][n/4] as vec4, with const inner sizes (32 and 64 vec4s): the
//   8 A quads a warp reads at one k are 128 contiguous bytes and its 4 B quads 64 bytes, so neither needs the
//   padding vec4 of r16x8's chunks (one bank wavefront each). Without it a two-stage bk16 tile is exactly
//   48 KiB (2 * 16 * (32 + 64) * 16 bytes), the H100 adapter's maxComputeWorkgroupStorageSize.
// - STAGES = 2 interleaves the next tile's copy with this tile's FMAs in NKC = BK/8 parts: at chunk kc a thread
//   issues part kc's global loads (1 A quad, 2 B quads), runs the chunk's 8 k steps, then stores the part into
//   the other stage. Live prefetch registers: 3 vec4 (r16x8 s1 bk16 holds 6), and one barrier per tile.
//   The other stage was last read in the previous tile, which ended with a barrier, so the stores are safe.
// - STAGES = 1 is r16x8's schedule (all parts in registers during the FMAs, barrier, store, barrier) on this
//   layout, as the same-shader baseline.
// Robustness: the outer index of As/Bs (k) is dynamic and clamped once per k step for A and once for B; the
// inner indices (ty + 8i, tx + 32j) are loop-invariant.

override WARP_X: u32 = 4u; // threads along N inside one 32-wide subgroup; 0 = plain row-major threads
override GROUP_M: u32 = 0u; // tile rows per L2 swizzle group; 0 or 1 = raster order
override BK: u32 = 16u; // 8 or 16
override STAGES: u32 = 2u; // 1 or 2
override B_T: bool = false;

const WG_X = 32u; // threads along N
const WG_Y = 8u; // threads along M
const NT = 256u; // threads
const BM = 128u;
const BN = 256u;
override NKC: u32 = BK / 8u; // 8-k chunks per tile; also the number of load parts
override WX: u32 = max(WARP_X, 1u);

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// As[s*BK + k][m/4][m%4] = A[m0 + m, k0 + k]; Bs[s*BK + k][n/4][n%4] = B(k0 + k, n0 + n).
var<workgroup> As: array<array<vec4<f32>, 32>, STAGES * BK>;
var<workgroup> Bs: array<array<vec4<f32>, 64>, STAGES * BK>;

// A quad q of a tile (part j: q = li + j*NT): row q / (BK/4), k-quad q % (BK/4) (16 contiguous bytes per thread).
fn loadA(li: u32, m0: u32, k0: u32, j: u32) -> vec4<f32> {
  let q = li + j * NT;
  return a[((m0 + q / (BK / 4u)) * p.K + k0 + (q % (BK / 4u)) * 4u) >> 2u];
}

// B quad q (parts j: q = li + (2j + h)*NT): NN: k row q / 64, n-quad q % 64; NT: n row q / (BK/4), k-quad.
fn loadB(li: u32, n0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  if (B_T) { return b[((n0 + q / (BK / 4u)) * p.K + k0 + (q % (BK / 4u)) * 4u) >> 2u]; }
  return b[((k0 + q / 64u) * p.N + n0 + (q % 64u) * 4u) >> 2u];
}

// Stage s <- A quad (transposed: 4 consecutive k of row r become component r%4 of 4 vec4s).
fn storeA(li: u32, s: u32, j: u32, v: vec4<f32>) {
  let q = li + j * NT;
  let r = q / (BK / 4u);
  let k = s * BK + (q % (BK / 4u)) * 4u;
  As[k][r / 4u][r % 4u] = v.x;
  As[k + 1u][r / 4u][r % 4u] = v.y;
  As[k + 2u][r / 4u][r % 4u] = v.z;
  As[k + 3u][r / 4u][r % 4u] = v.w;
}

fn storeB(li: u32, s: u32, i: u32, v: vec4<f32>) {
  let q = li + i * NT;
  if (B_T) {
    let r = q / (BK / 4u);
    let k = s * BK + (q % (BK / 4u)) * 4u;
    Bs[k][r / 4u][r % 4u] = v.x;
    Bs[k + 1u][r / 4u][r % 4u] = v.y;
    Bs[k + 2u][r / 4u][r % 4u] = v.z;
    Bs[k + 3u][r / 4u][r % 4u] = v.w;
  } else {
    Bs[s * BK + q / 64u][q % 64u] = v; // 4 consecutive n at one k
  }
}

@compute @workgroup_size(32, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  var tileM = wg.y;
  var tileN = wg.x;
  if (GROUP_M > 1u) { // L2 grouping: a permutation of the grid
    let pid = wg.y * nwg.x + wg.x;
    let perGroup = GROUP_M * nwg.x;
    let firstM = (pid / perGroup) * GROUP_M;
    let gsz = min(nwg.y - firstM, GROUP_M);
    tileM = firstM + (pid % perGroup) % gsz;
    tileN = (pid % perGroup) / gsz;
  }
  let m0 = tileM * BM;
  let n0 = tileN * BN;

  var tx = li % WG_X;
  var ty = li / WG_X;
  if (WARP_X > 0u) { // 32 consecutive invocations own a WX x (32/WX) block of threads
    let warp = li / 32u;
    let lane = li % 32u;
    let warpsX = WG_X / WX;
    tx = (warp % warpsX) * WX + lane % WX;
    ty = (warp / warpsX) * (32u / WX) + lane / WX;
  }

  // c{i}_{j}: C row m0 + ((i/4)*WG_Y + ty)*4 + i%4, columns n0 + (j*WG_X + tx)*4..+3
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
  var ra0: vec4<f32>; // prefetch: part 0 (A quad, B quads 0 and 1); s1 with BK = 16 also holds part 1
  var rb0: vec4<f32>;
  var rb1: vec4<f32>;
  var ra1: vec4<f32>;
  var rb2: vec4<f32>;
  var rb3: vec4<f32>;

  // First tile straight to stage 0.
  for (var j = 0u; j < NKC; j++) {
    storeA(li, 0u, j, loadA(li, m0, 0u, j));
    storeB(li, 0u, 2u * j, loadB(li, n0, 0u, 2u * j));
    storeB(li, 0u, 2u * j + 1u, loadB(li, n0, 0u, 2u * j + 1u));
  }
  workgroupBarrier();

  let nTiles = p.K / BK;
  for (var t = 0u; t < nTiles; t++) {
    let s = t % STAGES;
    let more = t + 1u < nTiles;
    let k1 = (t + 1u) * BK;
    if (STAGES == 1u && more) { // whole next tile in registers during the FMAs
      ra0 = loadA(li, m0, k1, 0u);
      rb0 = loadB(li, n0, k1, 0u);
      rb1 = loadB(li, n0, k1, 1u);
      if (NKC > 1u) {
        ra1 = loadA(li, m0, k1, 1u);
        rb2 = loadB(li, n0, k1, 2u);
        rb3 = loadB(li, n0, k1, 3u);
      }
    }
    for (var kc = 0u; kc < NKC; kc++) {
      if (STAGES == 2u && more) { // part kc of the next tile: in flight during this chunk's FMAs
        ra0 = loadA(li, m0, k1, kc);
        rb0 = loadB(li, n0, k1, 2u * kc);
        rb1 = loadB(li, n0, k1, 2u * kc + 1u);
      }
      let kb = s * BK + kc * 8u;
      // k = 0
      let pa0 = &As[kb + 0u];
      let pb0 = &Bs[kb + 0u];
      let a0k0 = (*pa0)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k0 = (*pa0)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k0 = (*pa0)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k0 = (*pa0)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k0 = (*pb0)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k0 = (*pb0)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      let pa1 = &As[kb + 1u];
      let pb1 = &Bs[kb + 1u];
      let a0k1 = (*pa1)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k1 = (*pa1)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k1 = (*pa1)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k1 = (*pa1)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k1 = (*pb1)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k1 = (*pb1)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      let pa2 = &As[kb + 2u];
      let pb2 = &Bs[kb + 2u];
      let a0k2 = (*pa2)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k2 = (*pa2)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k2 = (*pa2)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k2 = (*pa2)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k2 = (*pb2)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k2 = (*pb2)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      let pa3 = &As[kb + 3u];
      let pb3 = &Bs[kb + 3u];
      let a0k3 = (*pa3)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k3 = (*pa3)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k3 = (*pa3)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k3 = (*pa3)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k3 = (*pb3)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k3 = (*pb3)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      let pa4 = &As[kb + 4u];
      let pb4 = &Bs[kb + 4u];
      let a0k4 = (*pa4)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k4 = (*pa4)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k4 = (*pa4)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k4 = (*pa4)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k4 = (*pb4)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k4 = (*pb4)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      let pa5 = &As[kb + 5u];
      let pb5 = &Bs[kb + 5u];
      let a0k5 = (*pa5)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k5 = (*pa5)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k5 = (*pa5)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k5 = (*pa5)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k5 = (*pb5)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k5 = (*pb5)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      let pa6 = &As[kb + 6u];
      let pb6 = &Bs[kb + 6u];
      let a0k6 = (*pa6)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k6 = (*pa6)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k6 = (*pa6)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k6 = (*pa6)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k6 = (*pb6)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k6 = (*pb6)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      let pa7 = &As[kb + 7u];
      let pb7 = &Bs[kb + 7u];
      let a0k7 = (*pa7)[ty + 0u]; // A[rows (0*8 + ty)*4..+3, k]
      let a1k7 = (*pa7)[ty + 8u]; // A[rows (1*8 + ty)*4..+3, k]
      let a2k7 = (*pa7)[ty + 16u]; // A[rows (2*8 + ty)*4..+3, k]
      let a3k7 = (*pa7)[ty + 24u]; // A[rows (3*8 + ty)*4..+3, k]
      let b0k7 = (*pb7)[tx + 0u]; // B[k, column quad 0*32 + tx]
      let b1k7 = (*pb7)[tx + 32u]; // B[k, column quad 1*32 + tx]
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
      if (STAGES == 2u && more) {
        let s1 = 1u - s;
        storeA(li, s1, kc, ra0);
        storeB(li, s1, 2u * kc, rb0);
        storeB(li, s1, 2u * kc + 1u, rb1);
      }
    }
    if (STAGES == 1u) {
      workgroupBarrier(); // everyone done reading the only stage
      if (more) {
        storeA(li, 0u, 0u, ra0);
        storeB(li, 0u, 0u, rb0);
        storeB(li, 0u, 1u, rb1);
        if (NKC > 1u) {
          storeA(li, 0u, 1u, ra1);
          storeB(li, 0u, 2u, rb2);
          storeB(li, 0u, 3u, rb3);
        }
      }
    }
    workgroupBarrier();
  }

  let row0 = m0 + (0u * WG_Y + ty) * 4u + 0u;
  c[(row0 * p.N + n0 + tx * 4u) >> 2u] = c0_0; c[(row0 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c0_1;
  let row1 = m0 + (0u * WG_Y + ty) * 4u + 1u;
  c[(row1 * p.N + n0 + tx * 4u) >> 2u] = c1_0; c[(row1 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c1_1;
  let row2 = m0 + (0u * WG_Y + ty) * 4u + 2u;
  c[(row2 * p.N + n0 + tx * 4u) >> 2u] = c2_0; c[(row2 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c2_1;
  let row3 = m0 + (0u * WG_Y + ty) * 4u + 3u;
  c[(row3 * p.N + n0 + tx * 4u) >> 2u] = c3_0; c[(row3 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c3_1;
  let row4 = m0 + (1u * WG_Y + ty) * 4u + 0u;
  c[(row4 * p.N + n0 + tx * 4u) >> 2u] = c4_0; c[(row4 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c4_1;
  let row5 = m0 + (1u * WG_Y + ty) * 4u + 1u;
  c[(row5 * p.N + n0 + tx * 4u) >> 2u] = c5_0; c[(row5 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c5_1;
  let row6 = m0 + (1u * WG_Y + ty) * 4u + 2u;
  c[(row6 * p.N + n0 + tx * 4u) >> 2u] = c6_0; c[(row6 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c6_1;
  let row7 = m0 + (1u * WG_Y + ty) * 4u + 3u;
  c[(row7 * p.N + n0 + tx * 4u) >> 2u] = c7_0; c[(row7 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c7_1;
  let row8 = m0 + (2u * WG_Y + ty) * 4u + 0u;
  c[(row8 * p.N + n0 + tx * 4u) >> 2u] = c8_0; c[(row8 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c8_1;
  let row9 = m0 + (2u * WG_Y + ty) * 4u + 1u;
  c[(row9 * p.N + n0 + tx * 4u) >> 2u] = c9_0; c[(row9 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c9_1;
  let row10 = m0 + (2u * WG_Y + ty) * 4u + 2u;
  c[(row10 * p.N + n0 + tx * 4u) >> 2u] = c10_0; c[(row10 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c10_1;
  let row11 = m0 + (2u * WG_Y + ty) * 4u + 3u;
  c[(row11 * p.N + n0 + tx * 4u) >> 2u] = c11_0; c[(row11 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c11_1;
  let row12 = m0 + (3u * WG_Y + ty) * 4u + 0u;
  c[(row12 * p.N + n0 + tx * 4u) >> 2u] = c12_0; c[(row12 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c12_1;
  let row13 = m0 + (3u * WG_Y + ty) * 4u + 1u;
  c[(row13 * p.N + n0 + tx * 4u) >> 2u] = c13_0; c[(row13 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c13_1;
  let row14 = m0 + (3u * WG_Y + ty) * 4u + 2u;
  c[(row14 * p.N + n0 + tx * 4u) >> 2u] = c14_0; c[(row14 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c14_1;
  let row15 = m0 + (3u * WG_Y + ty) * 4u + 3u;
  c[(row15 * p.N + n0 + tx * 4u) >> 2u] = c15_0; c[(row15 * p.N + n0 + (WG_X + tx) * 4u) >> 2u] = c15_1;
}
