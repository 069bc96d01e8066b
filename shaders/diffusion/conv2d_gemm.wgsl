// conv2d as a tiled implicit GEMM, same semantics / bindings / Params / layouts as conv2d.wgsl:
// halo-padded input tile (rows never padded, they already hold the patch's halo rows), columns
// zero-padded by padW, any square kernel, stride 1 or 2 (both dims).
//   out[co, oy, ox] = bias[co] + sum_{ci,ky,kx} w[co,ci,ky,kx] * in[ci, oy*stride + ky, ox*stride + kx - padW]
// seen as C[cout, P] = W[cout, K] x B[K, P], K = cin*k*k (OIHW weights are row-major [cout, K]),
// P = outRows*outW (the output [cout, outRows, outW] is row-major [cout, P]), and
// B[kk, pix] = in[ci, oy*stride + ky, ox*stride + kx - padW] (0 in padded columns) with
// kk = (ci*k + ky)*k + kx, pix = oy*outW + ox: gathered by the tile loader (im2col never materialised).
//
// Bindings: 0 Params (uniform), 1 input [cin, inRows, width], 2 weight [cout, cin, k, k] (OIHW),
//           3 bias [cout], 4 output [cout, outRows, outW].
// Dispatch: (x, y, z) workgroups of (WG_X, WG_Y) threads with y = ceil(cout / BM) and the
//   nTN = ceil(P / BN) pixel tiles folded as x = min(nTN, 65535), z = ceil(nTN / x) (tile = z*x + wg.x;
//   tiles past nTN exit at once). BM = WG_Y*TM output channels x BN = WG_X*TN pixels per workgroup.
// Host-checked constraints (src/kernels/diffusion/conv2d.ts): KS == Params.k (the kernel size is a
//   compile-time constant so the kk -> (ci, ky, kx) split is a multiply-shift, not a division);
//   TM in 1..8, TN in {4, 8}; BK % 4 == 0; NT % BK == 0, NT % BN == 0; BM*BK/NT and BN*BK/NT <= 8;
//   2*(BM + BN)*BK*4 bytes of workgroup memory <= 16384 (WebGPU's default limit).
//
// Why this shape: each thread owns TM x TN outputs (TM channels ty*TM.., TN/4 vec4 pixel groups
// strided by 4*WG_X so one warp's B reads are consecutive vec4s), so per 4 k steps it reads TM + TN
// vec4s of workgroup memory for 4*TM*TN FMAs. As keeps W's row-major [m][k] layout (vec4 over 4 k):
// stores need no transpose and hit consecutive banks; the TM vec4s read per 4 k are broadcasts (a
// warp spans 32/WG_X values of ty).
// Bs holds [k][pixel] (vec4 over 4 pixels). Each thread gathers B for one fixed pixel column, so
// (oy, ox) are split once per thread and the per-load work is the kk split plus a column test;
// consecutive threads read consecutive input columns (coalesced for stride 1).
// K is walked in tiles of BK: two shared stages, the next tile's global loads go to registers before
// the current tile's FMAs (latency hidden behind math), then to the other stage: one barrier per tile.

override WG_X: u32 = 16u; // threads along pixels
override WG_Y: u32 = 16u; // threads along output channels
override TM: u32 = 4u; // output channels per thread
override TN: u32 = 4u; // pixels per thread (multiple of 4)
override BK: u32 = 16u; // K step of one shared-memory tile (multiple of 4)
override KS: u32 = 3u; // kernel size; must equal Params.k

override NT: u32 = WG_X * WG_Y; // threads per workgroup
override BM: u32 = WG_Y * TM; // output channels per workgroup
override BN: u32 = WG_X * TN; // pixels per workgroup
override BK4: u32 = BK / 4u;
override BN4: u32 = BN / 4u;
override TN4: u32 = TN / 4u;
override A_LOADS: u32 = BM * BK / NT; // weight loads per thread per tile (<= 8)
override B_LOADS: u32 = BN * BK / NT; // input loads per thread per tile (<= 8)
override KK2: u32 = KS * KS;

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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> wgt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> outp: array<f32>;

// As[(s*BM + m)*BK4 + k/4][k%4] = W[m0 + m, k0 + k]; Bs[(s*BK + k)*BN4 + n/4][n%4] = B[k0 + k, n0 + n].
var<workgroup> As: array<vec4<f32>, 2u * BM * BK4>;
var<workgroup> Bs: array<vec4<f32>, 2u * BK * BN4>;

// Weight element (m0 + m, k0 + k) for load slot i: k fastest across threads (coalesced rows of W).
fn loadA(li: u32, i: u32, m0: u32, k0: u32, kTot: u32) -> f32 {
  let q = li + i * NT;
  let m = m0 + q / BK;
  let kk = k0 + q % BK;
  if (m >= p.cout || kk >= kTot) { return 0.0; }
  return wgt[m * kTot + kk];
}

fn storeA(li: u32, i: u32, s: u32, v: f32) {
  let q = li + i * NT;
  let k = q % BK;
  As[(s * BM + q / BK) * BK4 + k / 4u][k % 4u] = v;
}

// The thread's B column: flat input offset of its pixel's first tap row, and its first tap column
// (signed: left padding). ok = false past P (the whole column reads as 0).
struct Col {
  rowOff: u32,
  x0: i32,
  ok: bool,
}

// im2col element B[kk, column] = in[ci, oy*stride + ky, ox*stride + kx - padW], 0 in padded columns.
fn loadB(c: Col, kk: u32, kTot: u32, plane: u32) -> f32 {
  if (!c.ok || kk >= kTot) { return 0.0; }
  let ci = kk / KK2; // KK2, KS are constants: multiply-shift, no division
  let r = kk - ci * KK2;
  let ky = r / KS;
  let ix = c.x0 + i32(r - ky * KS);
  if (ix < 0 || ix >= i32(p.width)) { return 0.0; }
  return inp[ci * plane + c.rowOff + ky * p.width + u32(ix)];
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let P = p.outRows * p.outW;
  let kTot = p.cin * KK2;
  let plane = p.inRows * p.width;
  let n0 = (wg.z * nwg.x + wg.x) * BN; // first pixel of this tile (folded grid)
  if (n0 >= P) { return; } // past the last tile of a folded grid: uniform per workgroup
  let m0 = wg.y * BM; // first output channel
  let tx = li % WG_X;
  let ty = li / WG_X;

  // This thread's B column (NT % BN == 0: the same column for every load slot).
  let pix = n0 + li % BN;
  let oy = pix / p.outW;
  let ox = pix - oy * p.outW;
  let col = Col(oy * p.stride * p.width, i32(ox * p.stride) - i32(p.padW), pix < P);
  let kRow = li / BN; // first k row of the tile this thread loads; then every NT / BN rows

  var acc: array<vec4<f32>, 16>; // acc[i*TN4 + j]: channel m0 + ty*TM + i, pixels n0 + (j*WG_X + tx)*4 ..+3
  var ra: array<f32, 8>; // prefetched weight elements of the next tile
  var rb: array<f32, 8>; // prefetched im2col elements of the next tile

  for (var i = 0u; i < A_LOADS; i++) { storeA(li, i, 0u, loadA(li, i, m0, 0u, kTot)); }
  for (var i = 0u; i < B_LOADS; i++) {
    let k = kRow + i * (NT / BN);
    Bs[k * BN4 + (li % BN) / 4u][li % 4u] = loadB(col, k, kTot, plane);
  }
  workgroupBarrier();

  let nTiles = (kTot + BK - 1u) / BK;
  for (var t = 0u; t < nTiles; t++) {
    let s = t % 2u;
    let more = t + 1u < nTiles;
    if (more) {
      let k1 = (t + 1u) * BK;
      for (var i = 0u; i < A_LOADS; i++) { ra[i] = loadA(li, i, m0, k1, kTot); }
      for (var i = 0u; i < B_LOADS; i++) { rb[i] = loadB(col, k1 + kRow + i * (NT / BN), kTot, plane); }
    }
    for (var kq = 0u; kq < BK4; kq++) {
      var av: array<vec4<f32>, 8>; // av[i] = W[channel ty*TM + i, 4 k of quad kq]
      for (var i = 0u; i < TM; i++) { av[i] = As[(s * BM + ty * TM + i) * BK4 + kq]; }
      for (var kk = 0u; kk < 4u; kk++) {
        var bv: array<vec4<f32>, 2>; // B[k, 4 pixels of group j]
        for (var j = 0u; j < TN4; j++) { bv[j] = Bs[(s * BK + kq * 4u + kk) * BN4 + j * WG_X + tx]; }
        for (var i = 0u; i < TM; i++) {
          let a = vec4<f32>(av[i][kk]);
          for (var j = 0u; j < TN4; j++) { acc[i * TN4 + j] = fma(a, bv[j], acc[i * TN4 + j]); }
        }
      }
    }
    if (more) {
      // the other stage was last read in tile t - 1, before the previous barrier
      let s1 = 1u - s;
      for (var i = 0u; i < A_LOADS; i++) { storeA(li, i, s1, ra[i]); }
      for (var i = 0u; i < B_LOADS; i++) {
        let k = kRow + i * (NT / BN);
        Bs[(s1 * BK + k) * BN4 + (li % BN) / 4u][li % 4u] = rb[i];
      }
    }
    workgroupBarrier();
  }

  // Bias at the end; scalar stores since P need not be a multiple of 4.
  for (var i = 0u; i < TM; i++) {
    let m = m0 + ty * TM + i;
    if (m >= p.cout) { break; }
    let b = bias[m];
    for (var j = 0u; j < TN4; j++) {
      let n = n0 + (j * WG_X + tx) * 4u;
      for (var c = 0u; c < 4u; c++) {
        if (n + c < P) { outp[m * P + n + c] = acc[i * TN4 + j][c] + b; }
      }
    }
  }
}
