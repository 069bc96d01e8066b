// Matrix product for CPU-backed adapters (SwiftShader, lavapipe): y[M, N] = x[M, K] * W[N, K]^T
// (decode: M = 1; prefill: M = T). One thread per output element and no workgroup memory or barriers: software rasterizers run the
// invocations of a workgroup as coroutines, and every barrier is a full context switch, so the
// tree reduction of a workgroup-per-row kernel (the retired matvec.wgsl) cost ~30x more there than this plain loop.
//
// Bindings: 0 uniform Params {N, K, scaleOff, M}
//           1 x: array<f32> [M, K]
//           2 w: array<u32> weights, WTYPE 0 = f32, 1 = f16 (packed pairs), 2 = q8_0 repacked
//               (int8 quants 4 per word, then f32 block scales at word scaleOff); same as matmul.wgsl
//           3 y: array<f32> [M, N] (written)
// Dispatch: ceil(M*N / WG) workgroups of WG threads (2-D grid past 65535); global index = m*N + n.

override WTYPE: u32 = 0u;
override WG: u32 = 64u;

struct Params { N: u32, K: u32, scaleOff: u32, M: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// Element (n, k) of W (keep in sync with matmul.wgsl).
fn loadW(n: u32, k: u32) -> f32 {
  let i = n * p.K + k;
  if (WTYPE == 0u) {
    return bitcast<f32>(w[i]);
  }
  if (WTYPE == 1u) {
    let h = unpack2x16float(w[i >> 1u]);
    return select(h.x, h.y, (i & 1u) == 1u);
  }
  let q = extractBits(bitcast<i32>(w[i >> 2u]), (i & 3u) * 8u, 8u);
  return f32(q) * bitcast<f32>(w[p.scaleOff + (i >> 5u)]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let id = (wg.x + wg.y * nwg.x) * WG + li;
  if (id >= p.M * p.N) { return; }
  let m = id / p.N;
  let n = id % p.N;
  let xb = m * p.K;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) { acc += loadW(n, k) * x[xb + k]; }
  y[id] = acc;
}
