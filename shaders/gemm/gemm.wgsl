// Tiled f32 GEMM: C[M,N] = A[M,K] * op(B), op(B) = B[K,N] (B_T = false) or B[N,K]^T (B_T = true, the
// row-major (out, in) weight layout of every Llama projection). All row-major, f32.
//
// Bindings: 0 uniform Params {M, N, K, _pad}
//           1 a: array<vec4<f32>>  [M, K]            (viewed as vec4 so the fast path issues 16-byte loads)
//           2 b: array<vec4<f32>>  [K, N] or [N, K]
//           3 c: array<vec4<f32>>  [M, N] (written)
// Buffers must be sized to a multiple of 16 bytes (Gpu.alloc/upload do this).
// Dispatch: (ceil(N / BN), ceil(M / BM)) workgroups of (WG_X, WG_Y) threads, BM = 8*WG_Y, BN = 8*WG_X.
// Each thread owns an 8x8 block of C split in 4 quadrants of 4x4 (rows ty*4 and BM/2 + ty*4, columns
// tx*4 and BN/2 + tx*4) so the shared-memory reads of one k step are 4 conflict-free vec4 loads feeding
// 64 FMAs. K is walked in steps of BK through two shared-memory stages: the next tile's global loads
// are issued into registers before the current tile's FMAs, so memory latency hides behind math, and
// one barrier per step suffices (the stage written is the one read a step earlier).
// CHECK = false is the fast path: legal only when M % BM == 0, N % BN == 0 and K % BK == 0 (so every
// row is vec4 aligned); CHECK = true bounds-checks every element (any M, N, K).
// Tile sizes are overrides chosen per adapter by src/kernels/autotune.ts; constraints (host-checked):
// BK % 4 == 0, (2*BK) % WG_X == 0, (2*BK) % WG_Y == 0, 2*BK / min(WG_X, WG_Y) <= 4.

override WG_X: u32 = 16u; // threads along N
override WG_Y: u32 = 16u; // threads along M
override BK: u32 = 8u; // K step of one shared-memory tile
override B_T: bool = false;
override CHECK: bool = true;
// Warp tiling: when true, each run of 32 consecutive invocations owns an 8x4 block of threads (64x32 of C)
// instead of a 16x2 strip, so one k step reads 8 distinct B vec4s and 4 A vec4s per warp instead of
// 32 and 2. Only a permutation of threads: correct for any subgroup size. Needs WG_X % 8 == 0,
// WG_Y % 4 == 0.
override SWIZ: bool = false;

override BM: u32 = WG_Y * 8u; // rows of C per workgroup
override BN: u32 = WG_X * 8u; // columns of C per workgroup
override NT: u32 = WG_X * WG_Y; // threads per workgroup
override A_STAGE: u32 = BK * BM / 4u; // vec4s in one A stage: [BK][BM/4]
override B_STAGE: u32 = BK * BN / 4u; // vec4s in one B stage: [BK][BN/4]
override A_LOADS: u32 = A_STAGE / NT; // vec4 global loads per thread per step (<= 4)
override B_LOADS: u32 = B_STAGE / NT;

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// Two stages each, k-major: As[s*A_STAGE + k*BM/4 + r/4][r%4] = A[m0 + r, k0 + k].
var<workgroup> As: array<vec4<f32>, A_STAGE * 2u>;
var<workgroup> Bs: array<vec4<f32>, B_STAGE * 2u>;

// Element e (flat row-major index) of a vec4-viewed buffer: used only on the bounds-checked path.
fn elemA(e: u32) -> f32 { return a[e >> 2u][e & 3u]; }
fn elemB(e: u32) -> f32 { return b[e >> 2u][e & 3u]; }

// Four consecutive elements of row `row` (of `rows`), columns col..col+3 (of `cols`), zero outside.
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

// Global -> registers for the tile at k0. Quad q of the A tile is row q / (BK/4), k-quad q % (BK/4).
fn loadA(li: u32, m0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  return quadA(m0 + q / (BK / 4u), k0 + (q % (BK / 4u)) * 4u);
}

fn loadB(li: u32, n0: u32, k0: u32, i: u32) -> vec4<f32> {
  let q = li + i * NT;
  if (B_T) { return quadB(n0 + q / (BK / 4u), k0 + (q % (BK / 4u)) * 4u, p.N, p.K); }
  return quadB(k0 + q / (BN / 4u), n0 + (q % (BN / 4u)) * 4u, p.K, p.N);
}

// Registers -> shared stage s. A (and B^T) quads are transposed to k-major on the way in.
fn storeA(li: u32, s: u32, i: u32, v: vec4<f32>) {
  let q = li + i * NT;
  let r = q / (BK / 4u);
  let k = (q % (BK / 4u)) * 4u;
  let base = s * A_STAGE + r / 4u;
  for (var j = 0u; j < 4u; j++) { As[base + (k + j) * (BM / 4u)][r % 4u] = v[j]; }
}

fn storeB(li: u32, s: u32, i: u32, v: vec4<f32>) {
  let q = li + i * NT;
  if (B_T) {
    let r = q / (BK / 4u);
    let k = (q % (BK / 4u)) * 4u;
    let base = s * B_STAGE + r / 4u;
    for (var j = 0u; j < 4u; j++) { Bs[base + (k + j) * (BN / 4u)][r % 4u] = v[j]; }
  } else {
    Bs[s * B_STAGE + q] = v; // q = k*(BN/4) + n/4 already is the k-major layout
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
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  var tx = lid.x;
  var ty = lid.y;
  if (SWIZ) {
    let warp = li / 32u;
    let lane = li % 32u;
    tx = (warp % (WG_X / 8u)) * 8u + lane % 8u;
    ty = (warp / (WG_X / 8u)) * 4u + lane / 8u;
  }
  var acc: array<vec4<f32>, 16>; // acc[2*i + h]: C row (i<4 ? ty*4+i : BM/2+ty*4+i-4), cols h*BN/2 + tx*4..+3
  var ra: array<vec4<f32>, 4>; // prefetched A quads of the next tile
  var rb: array<vec4<f32>, 4>; // prefetched B quads of the next tile

  for (var i = 0u; i < A_LOADS; i++) { storeA(li, 0u, i, loadA(li, m0, 0u, i)); }
  for (var i = 0u; i < B_LOADS; i++) { storeB(li, 0u, i, loadB(li, n0, 0u, i)); }
  workgroupBarrier();

  let nTiles = (p.K + BK - 1u) / BK;
  for (var t = 0u; t < nTiles; t++) {
    let s = t & 1u;
    let more = t + 1u < nTiles;
    if (more) {
      let k1 = (t + 1u) * BK;
      for (var i = 0u; i < A_LOADS; i++) { ra[i] = loadA(li, m0, k1, i); }
      for (var i = 0u; i < B_LOADS; i++) { rb[i] = loadB(li, n0, k1, i); }
    }
    let aBase = s * A_STAGE;
    let bBase = s * B_STAGE;
    for (var k = 0u; k < BK; k++) {
      let a0 = As[aBase + k * (BM / 4u) + ty];
      let a1 = As[aBase + k * (BM / 4u) + ty + BM / 8u];
      let b0 = Bs[bBase + k * (BN / 4u) + tx];
      let b1 = Bs[bBase + k * (BN / 4u) + tx + BN / 8u];
      acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
      acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
      acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
      acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
      acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
      acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
      acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
      acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
      acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
      acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
      acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
      acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
      acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
      acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
      acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
      acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
    }
    if (more) {
      for (var i = 0u; i < A_LOADS; i++) { storeA(li, s ^ 1u, i, ra[i]); }
      for (var i = 0u; i < B_LOADS; i++) { storeB(li, s ^ 1u, i, rb[i]); }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 8u; i++) {
    let row = m0 + select(ty * 4u + i, BM / 2u + ty * 4u + i - 4u, i >= 4u);
    storeC(row, n0 + tx * 4u, acc[2u * i]);
    storeC(row, n0 + BN / 2u + tx * 4u, acc[2u * i + 1u]);
  }
}
