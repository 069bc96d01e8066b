// conv2d as a register-tiled implicit GEMM with optional split-K: the same convolution as conv2d.wgsl /
// conv2d_gemm.wgsl (halo-padded input tile, rows never padded, columns zero-padded by padW, any square
// kernel KS, stride 1 or 2), seen as C[cout, P] = W[cout, K] x B[K, P] with K = cin*KS*KS (OIHW weights
// are row-major [cout, K]), P = outRows*outW and B[kk, pix] = in[ci, oy*stride + ky, ox*stride + kx - padW]
// (0 in padded columns), kk = (ci*KS + ky)*KS + kx: gathered by the tile loader, never materialised.
//
// Bindings: 0 Params (uniform), 1 input [cin, inRows, width] f32, 2 weight [cout, K] as array<vec4<f32>>
//           (buffer sized to a multiple of 16 bytes, as Gpu.alloc/upload do), 3 bias [cout],
//           4 out: splits == 1: [cout, P]; else the scratch [splits, slice] with slice >= cout*P (a
//           multiple of 4), split s's partial sums at s*slice + co*P + pix (bias added by split 0 only;
//           conv2d_splitk_reduce.wgsl sums the slices), 5 the input again as array<vec4<f32>> (B_MODE 2).
// Dispatch: (x, y, z) workgroups of (WG_X, WG_Y) threads: y = ceil(cout / BM) * splits (channel tile =
//   wg.y % ceil(cout / BM), split = wg.y / ceil(cout / BM)); the nTN = ceil(P / BN) pixel tiles folded as
//   x = min(nTN, 65535), z = ceil(nTN / x) (tile = z*x + wg.x; tiles past nTN exit at once).
//   Split s walks kk in [s*kSplit, min((s+1)*kSplit, K)); kSplit is a multiple of BK (K itself when
//   splits == 1).
// Host-checked constraints (src/kernels/diffusion/conv2d.ts): KS == Params.k; BM = 16*WG_Y channels,
//   BN = 8*WG_X pixels per workgroup; BK % 8 == 0; STAGES 1 or 2; A_LOADS, B_LOADS in 1..4 and
//   (BN/4) | NT; WARP_X in {0, 4, 8, 16} dividing WG_X with (32/WARP_X) | WG_Y;
//   STAGES*BK*(BM/4 + BN/4)*16 bytes of workgroup memory <= 16384; B_MODE 2 only for 1x1, stride 1,
//   padW 0 and P % 4 == 0.
//
// Why this shape: the main loop is shaders/gemm/gemm_reg_u16x8.wgsl's / gemm_reg_r16x8.wgsl's (read their
// headers): each thread owns 16 channels x 8 pixels as 32 named vec4 accumulators, so per k step it reads
// 4 + 2 vec4s of workgroup memory for 128 FMAs (conv2d_gemm.wgsl's 4x4 threads: 2 vec4s for 16). Named
// registers, not arrays: with Dawn's robustness on, a dynamically indexed function array is clamped and
// may be left in local memory. The 8 k steps of a chunk are written out with literal indices.
// Workgroup memory without padding, so that 128x128 x 16 k fits WebGPU's 16 KiB (gemm_reg's padded
// chunks need 18 KiB for it; at 8 k per tile, the 9 KiB that fits, it loses ~20%):
//  - A: [stage][k-chunk][channel quad] of Chunk = 8 k vec4s (transposed on the way in: vec4 over 4
//    channels). Reads: per-chunk row (one clamp per chunk) + literal k. With WARP_X >= 8 the 8 lanes of
//    one 128-bit load phase share a channel quad (a broadcast), so the 128-byte row stride costs no bank
//    conflicts.
//  - B: [stage*BK + k][pixel quad], as gathered (vec4 over 4 pixels): a warp's reads are consecutive
//    vec4s; the index is the thread's quad + a literal k*BN4 (one clamp per read).
// K is walked in tiles of BK: the next tile's global loads go to named registers before the current
// tile's FMAs (latency hidden behind math), then to workgroup memory (STAGES = 2: the other stage, one
// barrier per tile; 1: the same stage after a second barrier).
// The global loads are branch-free (selects and clamped indices): on an H200 a branch around the
// weight loads cost 3.5x (10.7 vs 38.1 TFLOPS as a 1x1 conv at 4096^3; the padded 8-k layout: 35.0,
// bench/results/conv-gemm-sweep-dev-nvidia-h200-2026-11-29.md).
// Split-K: the deep U-Net levels have few output tiles (1280 ch @ 32x32 = 80 tiles of 128x128 for 132
// SMs, ~2 resident each); slicing K gives every SM work at the cost of a cout*P*splits scratch round trip.
// The im2col gather (B_MODE 0): each thread loads one fixed pixel quad (4 consecutive pixels) at B_LOADS
// k rows, so the 4 pixels' (oy, ox) offsets are computed once per thread; per load the kk -> (ci, ky, kx)
// split is a multiply-shift (KS is a constant) and the column test one unsigned compare per pixel.
// B_MODE 2 (1x1, stride 1, no padding, P % 4 == 0): B is the input itself, one aligned vec4 load per
// quad. As a 1x1 conv at 4096^3 on an H200: 37.5-38.1 TFLOPS with it in three runs, 12-34 (unsteady)
// through the gather; gemm_reg_r16x8 itself: 37.7 with the 9 KiB 8-k tiles that fit 16 KiB, 46.6 with
// its 18 KiB 16-k tiles (bench/results/conv-gemm-sweep-{,full-,dev-}nvidia-h200-2026-11-29.md).

override WG_X: u32 = 16u; // threads along pixels
override WG_Y: u32 = 8u; // threads along output channels
const TM = 16u; // output channels per thread (fixed in this file)
const TN = 8u; // pixels per thread (fixed in this file)
override BK: u32 = 16u; // K step of one workgroup-memory tile (multiple of 8)
override STAGES: u32 = 1u; // workgroup-memory stages: 1 or 2
override WARP_X: u32 = 8u; // threads along pixels inside one 32-wide warp; 0 = row-major threads
override KS: u32 = 3u; // kernel size; must equal Params.k
// B loader: 0 = the im2col gather (any shape); 2 = 1x1, stride 1, no padding, P % 4 == 0 (one aligned
// vec4 load of the input per quad, through inp4).
override B_MODE: u32 = 0u;

override NT: u32 = WG_X * WG_Y; // threads per workgroup
override BM: u32 = WG_Y * TM; // output channels per workgroup
override BN: u32 = WG_X * TN; // pixels per workgroup
override BM4: u32 = BM / 4u;
override BN4: u32 = BN / 4u;
override NKC: u32 = BK / KC; // k-chunks per tile
override A_LOADS: u32 = BM * BK / 4u / NT; // weight quads per thread per tile (1..4)
override B_LOADS: u32 = BN * BK / 4u / NT; // pixel quads per thread per tile (1..4)
override KK2: u32 = KS * KS;
override WX: u32 = max(WARP_X, 1u); // WARP_X as a divisor (overrides fold even in dead branches)

const KC = 8u; // k steps per chunk (inner, literal-indexed dimension of As)
alias Chunk = array<vec4<f32>, 8>; // KC vec4s: one channel quad's 8 k

struct Params {
  cin: u32,
  cout: u32,
  inRows: u32,
  width: u32,
  k: u32,
  stride: u32,
  padW: u32,
  outRows: u32,
  outW: u32,
  kSplit: u32, // K per split (multiple of BK)
  slice: u32, // floats between two splits' partial sums (unused when splits == 1)
  aVec: u32, // 1 when K % 4 == 0: weight rows are whole vec4s (a uniform branch, not an override, so
             // the ragged and aligned cases share one pipeline: fewer shader compiles)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> wgt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> outp: array<f32>;
@group(0) @binding(5) var<storage, read> inp4: array<vec4<f32>>; // the input again (B_MODE 2's vec4 view)

// As[(s*NKC + k/8)*BM4 + mq][k%8][mc] = W[m0 + 4*mq + mc, k0 + k];
// Bs[(s*BK + k)*BN4 + nq][nc] = B[k0 + k, n0 + 4*nq + nc].
var<workgroup> As: array<Chunk, STAGES * NKC * BM4>;
var<workgroup> Bs: array<vec4<f32>, STAGES * BK * BN4>;

// Weight quad i of this thread for the tile at k0: channel m0 + q/(BK/4), k0 + 4*(q%(BK/4)) ..+3 (k fastest
// across threads: coalesced rows of W). Branch-free: a channel past cout reads channel cout - 1 (its
// outputs are never stored) and a k past K reads a valid k (clamped); past kEnd B is 0, so whatever A
// holds there adds nothing.
fn loadA(li: u32, i: u32, m0: u32, k0: u32, kTot: u32) -> vec4<f32> {
  let q = li + i * NT;
  let m = min(m0 + q / (BK / 4u), p.cout - 1u);
  let k = k0 + (q % (BK / 4u)) * 4u;
  if (p.aVec != 0u) { return wgt[(m * kTot + min(k, kTot - 4u)) / 4u]; } // a uniform branch
  let e = vec4<u32>(m * kTot) + min(vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(kTot - 1u));
  return vec4<f32>(wgt[e.x / 4u][e.x % 4u], wgt[e.y / 4u][e.y % 4u], wgt[e.z / 4u][e.z % 4u], wgt[e.w / 4u][e.w % 4u]);
}

// Registers -> stage s, transposed: the 4 consecutive k of channel r become component r%4 of 4 vec4s.
fn storeA(li: u32, i: u32, s: u32, v: vec4<f32>) {
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

// An im2col quad (4 consecutive pixels nq at k row kRow of the tile) -> stage s.
fn storeB(s: u32, kRow: u32, nq: u32, v: vec4<f32>) {
  Bs[(s * BK + kRow) * BN4 + nq] = v;
}

// A pixel's flat input offset of its (ky, kx) = (0, 0) tap within a channel plane (x: signed, left
// padding) and that tap's column (y; a large negative sentinel past P, so every column test fails).
fn pixelTap(n: u32, P: u32) -> vec2<i32> {
  let oy = n / p.outW;
  let ox = n - oy * p.outW;
  let x0 = i32(ox * p.stride) - i32(p.padW);
  return vec2<i32>(i32(oy * p.stride * p.width) + x0, select(-0x40000000, x0, n < P));
}

// The thread's pixel quad: pixelTap of its 4 pixels (x -> base, y -> x0).
struct Quad {
  base: vec4<i32>,
  x0: vec4<i32>,
}

// im2col quad B[kk, 4 pixels] = in[ci, oy*stride + ky, ox*stride + kx - padW], 0 in padded columns,
// past P or at kk >= kEnd (branch-free: the selects also keep every index in range).
fn loadB(qd: Quad, kk: u32, kEnd: u32, plane: u32) -> vec4<f32> {
  let ci = kk / KK2; // KK2, KS are constants: multiply-shift, no division
  let r = kk - ci * KK2;
  let ky = r / KS;
  let kx = r - ky * KS;
  let col = bitcast<vec4<u32>>(qd.x0 + vec4<i32>(i32(kx)));
  let ok = (col < vec4<u32>(p.width)) & vec4<bool>(kk < kEnd); // negative columns wrap to huge
  let idx = select(vec4<u32>(0u), bitcast<vec4<u32>>(qd.base + vec4<i32>(i32(ci * plane + ky * p.width + kx))), ok);
  return select(vec4<f32>(0.0), vec4<f32>(inp[idx.x], inp[idx.y], inp[idx.z], inp[idx.w]), ok);
}

// B_MODE 2 (1x1, stride 1, no padding, P = plane, P % 4 == 0): B[kk, n..n+3] = in[kk*P + n ..+3], one vec4.
fn loadB4(n: u32, kk: u32, kEnd: u32, P: u32) -> vec4<f32> {
  let ok = kk < kEnd && n < P;
  return select(vec4<f32>(0.0), inp4[select(0u, (kk * P + n) / 4u, ok)], ok);
}

// The B quad of this thread at k row kk in whichever B_MODE (overrides: the other branches fold away).
fn loadBq(qd: Quad, n: u32, kk: u32, kEnd: u32, plane: u32, P: u32) -> vec4<f32> {
  if (B_MODE == 2u) { return loadB4(n, kk, kEnd, P); }
  return loadB(qd, kk, kEnd, plane);
}

// out[base + m*P + n + c] = v[c] (+ bias[m] for split 0) for the c with n + c < P; nothing past cout.
fn store4(m: u32, n: u32, v: vec4<f32>, P: u32, base: u32, first: bool) {
  if (m >= p.cout) { return; }
  let b = select(0.0, bias[m], first);
  let o = base + m * P + n;
  if (n < P) { outp[o] = v.x + b; }
  if (n + 1u < P) { outp[o + 1u] = v.y + b; }
  if (n + 2u < P) { outp[o + 2u] = v.z + b; }
  if (n + 3u < P) { outp[o + 3u] = v.w + b; }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let P = p.outRows * p.outW;
  let kTot = p.cin * KK2;
  let plane = p.inRows * p.width;
  let n0 = (wg.z * nwg.x + wg.x) * BN; // first pixel of this tile (folded grid)
  if (n0 >= P) { return; } // past the last tile of a folded grid: uniform per workgroup
  let nTM = (p.cout + BM - 1u) / BM;
  let split = wg.y / nTM;
  let m0 = (wg.y - split * nTM) * BM; // first output channel
  let kBeg = split * p.kSplit;
  let kEnd = min(kBeg + p.kSplit, kTot);

  // Thread coordinates inside the workgroup (a permutation of li): WARP_X pixel quads x 32/WARP_X
  // channel quads per warp, so a k step of a warp reads few distinct vec4s.
  var tx = li % WG_X;
  var ty = li / WG_X;
  if (WARP_X > 0u) {
    let warp = li / 32u;
    let lane = li % 32u;
    let warpsX = WG_X / WX;
    tx = (warp % warpsX) * WX + lane % WX;
    ty = (warp / warpsX) * (32u / WX) + lane / WX;
  }

  // This thread's B loads: pixel quad nq (the same for every slot: (BN/4) | NT) at k rows kr + i*NT/BN4.
  let nq = li % BN4;
  let kr = li / BN4;
  let nQ = n0 + nq * 4u; // the quad's first pixel
  var qd: Quad; // B_MODE 0 only (dead, so no registers, otherwise)
  if (B_MODE == 0u) {
    let t0 = pixelTap(nQ, P);
    let t1 = pixelTap(nQ + 1u, P);
    let t2 = pixelTap(nQ + 2u, P);
    let t3 = pixelTap(nQ + 3u, P);
    qd = Quad(vec4<i32>(t0.x, t1.x, t2.x, t3.x), vec4<i32>(t0.y, t1.y, t2.y, t3.y));
  }

  // c{r}_{j}: channel m0 + ((r/4)*WG_Y + ty)*4 + r%4, pixels n0 + (j*WG_X + tx)*4 ..+3
  var c0_0 = vec4<f32>(0.0); var c0_1 = vec4<f32>(0.0); var c1_0 = vec4<f32>(0.0); var c1_1 = vec4<f32>(0.0);
  var c2_0 = vec4<f32>(0.0); var c2_1 = vec4<f32>(0.0); var c3_0 = vec4<f32>(0.0); var c3_1 = vec4<f32>(0.0);
  var c4_0 = vec4<f32>(0.0); var c4_1 = vec4<f32>(0.0); var c5_0 = vec4<f32>(0.0); var c5_1 = vec4<f32>(0.0);
  var c6_0 = vec4<f32>(0.0); var c6_1 = vec4<f32>(0.0); var c7_0 = vec4<f32>(0.0); var c7_1 = vec4<f32>(0.0);
  var c8_0 = vec4<f32>(0.0); var c8_1 = vec4<f32>(0.0); var c9_0 = vec4<f32>(0.0); var c9_1 = vec4<f32>(0.0);
  var c10_0 = vec4<f32>(0.0); var c10_1 = vec4<f32>(0.0); var c11_0 = vec4<f32>(0.0); var c11_1 = vec4<f32>(0.0);
  var c12_0 = vec4<f32>(0.0); var c12_1 = vec4<f32>(0.0); var c13_0 = vec4<f32>(0.0); var c13_1 = vec4<f32>(0.0);
  var c14_0 = vec4<f32>(0.0); var c14_1 = vec4<f32>(0.0); var c15_0 = vec4<f32>(0.0); var c15_1 = vec4<f32>(0.0);
  var ra0: vec4<f32>; // prefetched weight quads of the next tile (ra1..ra3 when A_LOADS > 1..3)
  var ra1: vec4<f32>;
  var ra2: vec4<f32>;
  var ra3: vec4<f32>;
  var rb0: vec4<f32>; // prefetched im2col quads of the next tile (rb1..rb3 when B_LOADS > 1..3)
  var rb1: vec4<f32>;
  var rb2: vec4<f32>;
  var rb3: vec4<f32>;
  let kStep = NT / BN4; // k rows between a thread's B slots

  // First tile straight to stage 0 (A_LOADS, B_LOADS are overrides: the ifs fold away).
  storeA(li, 0u, 0u, loadA(li, 0u, m0, kBeg, kTot));
  if (A_LOADS > 1u) { storeA(li, 1u, 0u, loadA(li, 1u, m0, kBeg, kTot)); }
  if (A_LOADS > 2u) { storeA(li, 2u, 0u, loadA(li, 2u, m0, kBeg, kTot)); }
  if (A_LOADS > 3u) { storeA(li, 3u, 0u, loadA(li, 3u, m0, kBeg, kTot)); }
  storeB(0u, kr, nq, loadBq(qd, nQ, kBeg + kr, kEnd, plane, P));
  if (B_LOADS > 1u) { storeB(0u, kr + kStep, nq, loadBq(qd, nQ, kBeg + kr + kStep, kEnd, plane, P)); }
  if (B_LOADS > 2u) { storeB(0u, kr + 2u * kStep, nq, loadBq(qd, nQ, kBeg + kr + 2u * kStep, kEnd, plane, P)); }
  if (B_LOADS > 3u) { storeB(0u, kr + 3u * kStep, nq, loadBq(qd, nQ, kBeg + kr + 3u * kStep, kEnd, plane, P)); }
  workgroupBarrier();

  let nTiles = (max(kEnd, kBeg) - kBeg + BK - 1u) / BK;
  for (var t = 0u; t < nTiles; t++) {
    let s = t % STAGES;
    let more = t + 1u < nTiles;
    if (more) { // next tile's global loads in flight during this tile's FMAs
      let k1 = kBeg + (t + 1u) * BK;
      ra0 = loadA(li, 0u, m0, k1, kTot);
      if (A_LOADS > 1u) { ra1 = loadA(li, 1u, m0, k1, kTot); }
      if (A_LOADS > 2u) { ra2 = loadA(li, 2u, m0, k1, kTot); }
      if (A_LOADS > 3u) { ra3 = loadA(li, 3u, m0, k1, kTot); }
      rb0 = loadBq(qd, nQ, k1 + kr, kEnd, plane, P);
      if (B_LOADS > 1u) { rb1 = loadBq(qd, nQ, k1 + kr + kStep, kEnd, plane, P); }
      if (B_LOADS > 2u) { rb2 = loadBq(qd, nQ, k1 + kr + 2u * kStep, kEnd, plane, P); }
      if (B_LOADS > 3u) { rb3 = loadBq(qd, nQ, k1 + kr + 3u * kStep, kEnd, plane, P); }
    }
    for (var kc = 0u; kc < NKC; kc++) {
      let oA = (s * NKC + kc) * BM4 + ty; // chunk row of this thread's first channel quad
      let oB = (s * BK + kc * KC) * BN4 + tx; // its first pixel quad at the chunk's first k
      { // k = 0 (literal inner index: in bounds by construction, no robustness clamp)
        let a0 = As[oA][0u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][0u];
        let a2 = As[oA + 2u * WG_Y][0u];
        let a3 = As[oA + 3u * WG_Y][0u];
        let b0 = Bs[oB + 0u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 0u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
      { // k = 1
        let a0 = As[oA][1u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][1u];
        let a2 = As[oA + 2u * WG_Y][1u];
        let a3 = As[oA + 3u * WG_Y][1u];
        let b0 = Bs[oB + 1u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 1u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
      { // k = 2
        let a0 = As[oA][2u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][2u];
        let a2 = As[oA + 2u * WG_Y][2u];
        let a3 = As[oA + 3u * WG_Y][2u];
        let b0 = Bs[oB + 2u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 2u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
      { // k = 3
        let a0 = As[oA][3u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][3u];
        let a2 = As[oA + 2u * WG_Y][3u];
        let a3 = As[oA + 3u * WG_Y][3u];
        let b0 = Bs[oB + 3u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 3u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
      { // k = 4
        let a0 = As[oA][4u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][4u];
        let a2 = As[oA + 2u * WG_Y][4u];
        let a3 = As[oA + 3u * WG_Y][4u];
        let b0 = Bs[oB + 4u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 4u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
      { // k = 5
        let a0 = As[oA][5u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][5u];
        let a2 = As[oA + 2u * WG_Y][5u];
        let a3 = As[oA + 3u * WG_Y][5u];
        let b0 = Bs[oB + 5u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 5u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
      { // k = 6
        let a0 = As[oA][6u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][6u];
        let a2 = As[oA + 2u * WG_Y][6u];
        let a3 = As[oA + 3u * WG_Y][6u];
        let b0 = Bs[oB + 6u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 6u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
      { // k = 7
        let a0 = As[oA][7u]; // W[channels (0*WG_Y + ty)*4 ..+3, k]
        let a1 = As[oA + WG_Y][7u];
        let a2 = As[oA + 2u * WG_Y][7u];
        let a3 = As[oA + 3u * WG_Y][7u];
        let b0 = Bs[oB + 7u * BN4]; // B[k, pixel quad tx]
        let b1 = Bs[oB + 7u * BN4 + WG_X]; // B[k, pixel quad WG_X + tx]
        c0_0 = fma(vec4<f32>(a0.x), b0, c0_0); c0_1 = fma(vec4<f32>(a0.x), b1, c0_1);
        c1_0 = fma(vec4<f32>(a0.y), b0, c1_0); c1_1 = fma(vec4<f32>(a0.y), b1, c1_1);
        c2_0 = fma(vec4<f32>(a0.z), b0, c2_0); c2_1 = fma(vec4<f32>(a0.z), b1, c2_1);
        c3_0 = fma(vec4<f32>(a0.w), b0, c3_0); c3_1 = fma(vec4<f32>(a0.w), b1, c3_1);
        c4_0 = fma(vec4<f32>(a1.x), b0, c4_0); c4_1 = fma(vec4<f32>(a1.x), b1, c4_1);
        c5_0 = fma(vec4<f32>(a1.y), b0, c5_0); c5_1 = fma(vec4<f32>(a1.y), b1, c5_1);
        c6_0 = fma(vec4<f32>(a1.z), b0, c6_0); c6_1 = fma(vec4<f32>(a1.z), b1, c6_1);
        c7_0 = fma(vec4<f32>(a1.w), b0, c7_0); c7_1 = fma(vec4<f32>(a1.w), b1, c7_1);
        c8_0 = fma(vec4<f32>(a2.x), b0, c8_0); c8_1 = fma(vec4<f32>(a2.x), b1, c8_1);
        c9_0 = fma(vec4<f32>(a2.y), b0, c9_0); c9_1 = fma(vec4<f32>(a2.y), b1, c9_1);
        c10_0 = fma(vec4<f32>(a2.z), b0, c10_0); c10_1 = fma(vec4<f32>(a2.z), b1, c10_1);
        c11_0 = fma(vec4<f32>(a2.w), b0, c11_0); c11_1 = fma(vec4<f32>(a2.w), b1, c11_1);
        c12_0 = fma(vec4<f32>(a3.x), b0, c12_0); c12_1 = fma(vec4<f32>(a3.x), b1, c12_1);
        c13_0 = fma(vec4<f32>(a3.y), b0, c13_0); c13_1 = fma(vec4<f32>(a3.y), b1, c13_1);
        c14_0 = fma(vec4<f32>(a3.z), b0, c14_0); c14_1 = fma(vec4<f32>(a3.z), b1, c14_1);
        c15_0 = fma(vec4<f32>(a3.w), b0, c15_0); c15_1 = fma(vec4<f32>(a3.w), b1, c15_1);
      }
    }
    if (STAGES == 1u) { workgroupBarrier(); } // one stage: everyone must finish reading before it is overwritten
    if (more) {
      // STAGES = 2: the other stage was last read in tile t - 1, before the previous barrier
      let s1 = (t + 1u) % STAGES;
      storeA(li, 0u, s1, ra0);
      if (A_LOADS > 1u) { storeA(li, 1u, s1, ra1); }
      if (A_LOADS > 2u) { storeA(li, 2u, s1, ra2); }
      if (A_LOADS > 3u) { storeA(li, 3u, s1, ra3); }
      storeB(s1, kr, nq, rb0);
      if (B_LOADS > 1u) { storeB(s1, kr + kStep, nq, rb1); }
      if (B_LOADS > 2u) { storeB(s1, kr + 2u * kStep, nq, rb2); }
      if (B_LOADS > 3u) { storeB(s1, kr + 3u * kStep, nq, rb3); }
    }
    workgroupBarrier();
  }

  // Split 0 adds the bias; scalar stores since P need not be a multiple of 4.
  let oBase = split * p.slice;
  let first = split == 0u;
  let nA = n0 + tx * 4u;
  let nB = n0 + (WG_X + tx) * 4u;
  let r0 = m0 + (0u * WG_Y + ty) * 4u; // rows of c0..c3
  store4(r0 + 0u, nA, c0_0, P, oBase, first); store4(r0 + 0u, nB, c0_1, P, oBase, first);
  store4(r0 + 1u, nA, c1_0, P, oBase, first); store4(r0 + 1u, nB, c1_1, P, oBase, first);
  store4(r0 + 2u, nA, c2_0, P, oBase, first); store4(r0 + 2u, nB, c2_1, P, oBase, first);
  store4(r0 + 3u, nA, c3_0, P, oBase, first); store4(r0 + 3u, nB, c3_1, P, oBase, first);
  let r1 = m0 + (1u * WG_Y + ty) * 4u; // rows of c4..c7
  store4(r1 + 0u, nA, c4_0, P, oBase, first); store4(r1 + 0u, nB, c4_1, P, oBase, first);
  store4(r1 + 1u, nA, c5_0, P, oBase, first); store4(r1 + 1u, nB, c5_1, P, oBase, first);
  store4(r1 + 2u, nA, c6_0, P, oBase, first); store4(r1 + 2u, nB, c6_1, P, oBase, first);
  store4(r1 + 3u, nA, c7_0, P, oBase, first); store4(r1 + 3u, nB, c7_1, P, oBase, first);
  let r2 = m0 + (2u * WG_Y + ty) * 4u; // rows of c8..c11
  store4(r2 + 0u, nA, c8_0, P, oBase, first); store4(r2 + 0u, nB, c8_1, P, oBase, first);
  store4(r2 + 1u, nA, c9_0, P, oBase, first); store4(r2 + 1u, nB, c9_1, P, oBase, first);
  store4(r2 + 2u, nA, c10_0, P, oBase, first); store4(r2 + 2u, nB, c10_1, P, oBase, first);
  store4(r2 + 3u, nA, c11_0, P, oBase, first); store4(r2 + 3u, nB, c11_1, P, oBase, first);
  let r3 = m0 + (3u * WG_Y + ty) * 4u; // rows of c12..c15
  store4(r3 + 0u, nA, c12_0, P, oBase, first); store4(r3 + 0u, nB, c12_1, P, oBase, first);
  store4(r3 + 1u, nA, c13_0, P, oBase, first); store4(r3 + 1u, nB, c13_1, P, oBase, first);
  store4(r3 + 2u, nA, c14_0, P, oBase, first); store4(r3 + 2u, nB, c14_1, P, oBase, first);
  store4(r3 + 3u, nA, c15_0, P, oBase, first); store4(r3 + 3u, nB, c15_1, P, oBase, first);
}
