// Tiled matmul for the "NT" layout of every Llama projection: Y[M,N] = X[M,K] * W[N,K]^T.
// X holds activations (row-major, K contiguous); W holds weights row-major as (out=N, in=K), exactly
// as GGUF stores them, so both operands are read along K.
//
// Bindings: 0 uniform Params {M, N, K, scaleOff}
//           1 x: array<f32>  [M, K]
//           2 w: array<u32>  weights, meaning depends on override WTYPE:
//               0 = f32 (one word per element), 1 = f16 (two halves per word, unpacked with
//               unpack2x16float so no shader-f16 is needed), 2 = q8_0 repacked: N*K int8 quants packed
//               4 per word, then at word offset scaleOff one f32 scale per 32-element block (K % 32 == 0)
//           3 y: array<f32>  [M, N] (written)
// Dispatch: (ceil(N/64), ceil(M/64)) workgroups of 16x16 threads; each thread owns a 4x4 block of Y.
// The K loop steps by 16 through shared-memory tiles As/Bs stored k-major as vec4 so the inner
// product is 4 vec4 FMAs per k. Loads are bounds-checked (zero fill), so any M, N, K works.

override WTYPE: u32 = 0u;

struct Params { M: u32, N: u32, K: u32, scaleOff: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> As: array<vec4<f32>, 256>; // [TK][TM/4]: As[k*16 + r/4][r%4] = X[m0+r, k0+k]
var<workgroup> Bs: array<vec4<f32>, 256>; // [TK][TN/4]: Bs[k*16 + c/4][c%4] = W[n0+c, k0+k]
// vec4 elements: the inner loop reads 128-bit words, which avoids the 4-way bank conflicts of
// 16 threads reading scalars at stride 4 (measured ~2x on an H100).

// Element (n, k) of W as f32, whatever its storage type (WTYPE is an override: the branch folds away).
fn loadW(n: u32, k: u32) -> f32 {
  let i = n * p.K + k;
  if (WTYPE == 0u) {
    return bitcast<f32>(w[i]);
  }
  if (WTYPE == 1u) {
    let h = unpack2x16float(w[i >> 1u]);
    return select(h.x, h.y, (i & 1u) == 1u);
  }
  // q8_0: sign-extended byte times its block's scale. Blocks of 32 never straddle rows (K % 32 == 0).
  let q = extractBits(bitcast<i32>(w[i >> 2u]), (i & 3u) * 8u, 8u);
  return f32(q) * bitcast<f32>(w[p.scaleOff + (i >> 5u)]);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * TM;
  let n0 = wg.x * TN;
  let lr = li / 4u; // 0..63: the tile row (of X) and tile row (of W) this thread loads
  let lk = (li % 4u) * 4u; // 0,4,8,12: its 4 consecutive k within the 16-wide K step
  var acc: array<vec4<f32>, 4>; // acc[i][j] = Y[m0 + lid.y*4 + i, n0 + lid.x*4 + j]
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + lk + j;
      let m = m0 + lr;
      var a = 0.0;
      if (m < p.M && k < p.K) { a = x[m * p.K + k]; }
      As[(lk + j) * 16u + lr / 4u][lr % 4u] = a;
      let n = n0 + lr;
      var b = 0.0;
      if (n < p.N && k < p.K) { b = loadW(n, k); }
      Bs[(lk + j) * 16u + lr / 4u][lr % 4u] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = As[kk * 16u + lid.y];
      let b = Bs[kk * 16u + lid.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x * 4u + j;
      if (n < p.N) { y[m * p.N + n] = acc[i][j]; }
    }
  }
}
