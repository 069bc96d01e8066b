// Int8 GEMM on subgroup matrices, staged through workgroup memory: C[M,N] (i32) = A[M,K] (i8) * B[N,K]^T (i8),
// exact. Same device needs as gemm_subgroup_matrix_i8.wgsl (feature chromium-experimental-subgroup-matrix, an
// i8 -> i32 M16 N16 K32 config); same buffers and packing, only A and B are read as vec4<i32> here.
//
// Bindings: 0 uniform Params {M, N, K, _pad}
//           1 a: array<vec4<i32>>  [M, K] i8, 4 per i32 word, little-endian (byte k%4 of word (m*K + k)/4)
//           2 b: array<vec4<i32>>  [N, K] i8 (the weight layout), same packing
//           3 c: array<i32>        [M, N] (written)
// Workgroup: SG_M x SG_N subgroups of 32 invocations (WG = 32*SG_M*SG_N, a multiple of the H100's
// maxSubgroupSize 32 as Dawn requires), owning a BM x BN block of C (BM = 64*SG_M, BN = 64*SG_N); each subgroup
// owns a 64x64 sub-block as 4x4 result matrices of 16x16 (named accumulators, as in the untiled kernel).
// Dispatch: (N / BN, M / BM) workgroups. Aligned shapes only (host-checked): M % BM, N % BN, K % BK == 0.
// Per K step of BK (32 or 64): every invocation writes its share of the A tile [BM, BK] and B tile [BN, BK]
// (prefetched into registers during the previous step, vec4 global loads) into workgroup memory rows of ROW
// = BK/4 + PAD words, barrier, prefetch the next tile's vec4s, each subgroup loads 4 Left and 4 Right matrices
// per 32 of k from workgroup memory and issues 16 multiply-accumulates, barrier.
// PAD (words, a multiple of 4 so rows stay 16-byte aligned): with PAD 4 the 8 rows of a 16-byte-per-row
// shared-memory matrix load land in 8 distinct bank quads (row stride 48 or 80 bytes); PAD 0 gives 2-4 way
// conflicts. Workgroup storage 4*(BM + BN)*ROW bytes, host-checked against the device limit.
// SWZ (default 1): each invocation stores its 4 words starting at component s = lane % rv + rv * (lane / (8*rv)
// % (4/rv)), rv = BK/16: with ROW/4 odd (PAD 4: ROW 12 or 20) the 32 lanes of one scalar store then hit 32
// distinct banks; SWZ 0 (s = 0, plain x,y,z,w order) puts them on the 8 banks == 0 mod 4 (4-way conflicts).
// Same words written either way.
// Measured (H200, 4096^3, 128x128 sg2x2 BK 64 PAD 4): SWZ 1 219.9 TOPS, SWZ 0 193.2 (bench/results
// gemm-subgroup-matrix-i8-tiled-v2-*). Double buffering (STAGES 2) measured and removed: see docs/arch-gemm.md,
// code at ea8a5a5.
// (subgroupMatrixLoad takes only arrays of a scalar type (f32, i32, u32, f16: Dawn's candidate list), so the
// staged tiles stay array<i32> instead of array<vec4<i32>>.)
// Subgroups: `lid / 32` names the subgroup, which holds where subgroups are consecutive runs of 32 invocations
// (NVIDIA). Tint's uniformity analysis cannot see that this index is subgroup-uniform, hence the diagnostic
// below (ONNX Runtime and llama.cpp's WebGPU kernels disable the same rule); every offset is uniform per subgroup.
// UNIT: i8 elements per unit of the subgroupMatrixLoad offset and stride (4: words of the i32 array, what
// the H100 run validated for the untiled kernel; the bench passes the unit that validated there).
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);

override UNIT: u32 = 4u;
override SG_M: u32 = 2u; // subgroup rows per workgroup
override SG_N: u32 = 2u; // subgroup columns per workgroup
override WG: u32 = 32u * SG_M * SG_N; // invocations per workgroup (the host passes it, = 32*SG_M*SG_N)
override BK: u32 = 32u; // k per staged tile: 32 or 64
override PAD: u32 = 4u; // extra words per staged row
override SWZ: u32 = 1u; // 1: lane-rotated staging stores (bank-conflict-free with ROW/4 odd); 0: plain order
override ROW: u32 = BK / 4u + PAD; // words per staged row
override BM: u32 = 64u * SG_M;
override BN: u32 = 64u * SG_N;
override A_WORDS: u32 = BM * ROW; // staged A tile [BM, ROW] words (a named override: Tint sizes arrays by one)
override B_WORDS: u32 = BN * ROW; // staged B tile [BN, ROW] words
override VA: u32 = BM * BK / 16u / WG; // vec4 of the A tile per invocation (host: exact, 1..MAXV)
override VB: u32 = BN * BK / 16u / WG; // vec4 of the B tile per invocation
const MAXV = 8u; // register prefetch capacity per operand

struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<i32>>; // [M, K/16]
@group(0) @binding(2) var<storage, read> b: array<vec4<i32>>; // [N, K/16]
@group(0) @binding(3) var<storage, read_write> c: array<i32>; // [M, N]

var<workgroup> sa: array<i32, A_WORDS>; // [BM, ROW]: A tile, BK/4 words of k then PAD
var<workgroup> sb: array<i32, B_WORDS>; // [BN, ROW]: B tile

alias Left = subgroup_matrix_left<i8, 32, 16>; // 16 rows x 32 k of A
alias Right = subgroup_matrix_right<i8, 16, 32>; // 32 k x 16 columns of B^T (column-major = B's rows)
alias Acc = subgroup_matrix_result<i32, 16, 16>; // 16 x 16 of C

// v rotated left by s components: element j is v[(j + s) % 4] (selects, no dynamic vector indexing).
fn rot4(v: vec4<i32>, s: u32) -> vec4<i32> {
  let h = select(v, v.yzwx, (s & 1u) != 0u);
  return select(h, h.zwxy, (s & 2u) != 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let sg = lid / 32u; // this invocation's subgroup
  let sm = sg / SG_N; // its row in the SG_M x SG_N grid
  let sn = sg % SG_N;
  let kv = p.K / 16u; // vec4 per row of A and B
  let rv = BK / 16u; // vec4 per staged row
  let lstride = ROW * 4u / UNIT; // staged row stride in load units
  let arow = sm * 64u; // this subgroup's first row in the A tile
  let brow = sn * 64u; // its first row in the B tile
  var ra: array<vec4<i32>, MAXV>; // this step's A tile share, VA used
  var rb: array<vec4<i32>, MAXV>; // this step's B tile share, VB used
  for (var j = 0u; j < VA; j++) { let v = lid + j * WG; ra[j] = a[(m0 + v / rv) * kv + v % rv]; }
  for (var j = 0u; j < VB; j++) { let v = lid + j * WG; rb[j] = b[(n0 + v / rv) * kv + v % rv]; }
  var c00 = Acc(); var c01 = Acc(); var c02 = Acc(); var c03 = Acc();
  var c10 = Acc(); var c11 = Acc(); var c12 = Acc(); var c13 = Acc();
  var c20 = Acc(); var c21 = Acc(); var c22 = Acc(); var c23 = Acc();
  var c30 = Acc(); var c31 = Acc(); var c32 = Acc(); var c33 = Acc();
  // First component each invocation stores (see the header); rv divides 32, so lid % rv = lane % rv. The
  // stores write word w + e = component e for e = s, s+1, s+2, s+3 (mod 4), in that order.
  let s = select(0u, lid % rv + rv * ((lid / (8u * rv)) % (4u / rv)), SWZ == 1u);
  let e0 = s & 3u; let e1 = (s + 1u) & 3u; let e2 = (s + 2u) & 3u; let e3 = (s + 3u) & 3u;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // Two loops: WGSL cannot pass sa and sb (arrays of different override sizes) to one helper.
    for (var j = 0u; j < VA; j++) {
      let v = lid + j * WG; let w = (v / rv) * ROW + (v % rv) * 4u; let q = rot4(ra[j], s);
      sa[w + e0] = q.x; sa[w + e1] = q.y; sa[w + e2] = q.z; sa[w + e3] = q.w;
    }
    for (var j = 0u; j < VB; j++) {
      let v = lid + j * WG; let w = (v / rv) * ROW + (v % rv) * 4u; let q = rot4(rb[j], s);
      sb[w + e0] = q.x; sb[w + e1] = q.y; sb[w + e2] = q.z; sb[w + e3] = q.w;
    }
    workgroupBarrier();
    if (k0 + BK < p.K) { // prefetch the next tile: its global latency overlaps this step's multiplies
      let kn = (k0 + BK) / 16u;
      for (var j = 0u; j < VA; j++) { let v = lid + j * WG; ra[j] = a[(m0 + v / rv) * kv + kn + v % rv]; }
      for (var j = 0u; j < VB; j++) { let v = lid + j * WG; rb[j] = b[(n0 + v / rv) * kv + kn + v % rv]; }
    }
    for (var kk = 0u; kk < BK; kk += 32u) {
      let a0 = subgroupMatrixLoad<Left, row_major>(&sa, ((arow + 0u) * ROW * 4u + kk) / UNIT, lstride);
      let a1 = subgroupMatrixLoad<Left, row_major>(&sa, ((arow + 16u) * ROW * 4u + kk) / UNIT, lstride);
      let a2 = subgroupMatrixLoad<Left, row_major>(&sa, ((arow + 32u) * ROW * 4u + kk) / UNIT, lstride);
      let a3 = subgroupMatrixLoad<Left, row_major>(&sa, ((arow + 48u) * ROW * 4u + kk) / UNIT, lstride);
      let b0 = subgroupMatrixLoad<Right, col_major>(&sb, ((brow + 0u) * ROW * 4u + kk) / UNIT, lstride);
      let b1 = subgroupMatrixLoad<Right, col_major>(&sb, ((brow + 16u) * ROW * 4u + kk) / UNIT, lstride);
      let b2 = subgroupMatrixLoad<Right, col_major>(&sb, ((brow + 32u) * ROW * 4u + kk) / UNIT, lstride);
      let b3 = subgroupMatrixLoad<Right, col_major>(&sb, ((brow + 48u) * ROW * 4u + kk) / UNIT, lstride);
      c00 = subgroupMatrixMultiplyAccumulate(a0, b0, c00); c01 = subgroupMatrixMultiplyAccumulate(a0, b1, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a0, b2, c02); c03 = subgroupMatrixMultiplyAccumulate(a0, b3, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a1, b0, c10); c11 = subgroupMatrixMultiplyAccumulate(a1, b1, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a1, b2, c12); c13 = subgroupMatrixMultiplyAccumulate(a1, b3, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a2, b0, c20); c21 = subgroupMatrixMultiplyAccumulate(a2, b1, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a2, b2, c22); c23 = subgroupMatrixMultiplyAccumulate(a2, b3, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a3, b0, c30); c31 = subgroupMatrixMultiplyAccumulate(a3, b1, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a3, b2, c32); c33 = subgroupMatrixMultiplyAccumulate(a3, b3, c33);
    }
    workgroupBarrier(); // the next step overwrites the tiles
  }
  let r0 = m0 + arow; // this subgroup's 64x64 block of C
  let q0 = n0 + brow;
  subgroupMatrixStore<row_major>(&c, (r0 + 0u) * p.N + q0 + 0u, c00, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 0u) * p.N + q0 + 16u, c01, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 0u) * p.N + q0 + 32u, c02, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 0u) * p.N + q0 + 48u, c03, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 16u) * p.N + q0 + 0u, c10, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 16u) * p.N + q0 + 16u, c11, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 16u) * p.N + q0 + 32u, c12, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 16u) * p.N + q0 + 48u, c13, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 32u) * p.N + q0 + 0u, c20, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 32u) * p.N + q0 + 16u, c21, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 32u) * p.N + q0 + 32u, c22, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 32u) * p.N + q0 + 48u, c23, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 48u) * p.N + q0 + 0u, c30, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 48u) * p.N + q0 + 16u, c31, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 48u) * p.N + q0 + 32u, c32, p.N);
  subgroupMatrixStore<row_major>(&c, (r0 + 48u) * p.N + q0 + 48u, c33, p.N);
}
