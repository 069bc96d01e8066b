// Batched matrix-vector product for continuous-batching decode: Y[M, N] = X[M, K] . W[N, K]^T for a few
// rows M (the decoding sequences), W row-major (out, in) as GGUF stores it. Each weight vector is loaded
// once per chunk of MB rows and used MB times, so a batch of up to MB sequences costs about one GEMV's
// weight traffic. The result of row m does not depend on M or on the other rows: every (m, n) is
// accumulated by the same threads in the same order and reduced the same way whatever the batch holds,
// which keeps a served request's text identical alone or batched. Needs the `subgroups` feature, and the
// host picks it only when the adapter's largest subgroup size divides TPR (rows never mix in a subgroup).
//
// Bindings: 0 uniform Params {N, K, M, m0, scaleOff}   (m0: first X row of this chunk; rows m0..min(M, m0+MB)-1)
//           1 w: array<vec4<u32>>  WTYPE 0: [N, K] f32 bits; WTYPE 1: [N, K] f16, two halves per u32
//                                  (element k in the low half when k is even), unpacked with unpack2x16float;
//                                  WTYPE 2: q8_0 as repack() lays it out ([N, K] int8 quants, four per u32,
//                                  then one f32 scale per 32 elements from u32 word p.scaleOff; as gemv.wgsl)
//           2 x: array<vec4<f32>>  [M, K]; with XQ (q8_0 only): X quantized by quantize_q8.wgsl as one vector
//                                  of M*K values (its 32-blocks never straddle rows: K % 32 == 0), M*K/4 words
//                                  of int8 quants then M*K/32 f32 block scales, read through this binding
//           3 y: array<f32>        [M, N] (written for rows m0..m0+MB-1 below M)
// Dispatch: ceil(N / RPW) workgroups of WG threads, laid out as (min(count, 65535), ceil(count / 65535)),
// once per chunk of MB rows. Each workgroup owns RPW weight rows; TPR = WG / RPW threads share a row,
// striding along K with 16-byte loads. CHECK = false: K % 4 == 0 (f32), K % 8 == 0 (f16) or K % 16 == 0
// (q8_0); CHECK = true reads element by element (any K).

enable subgroups;

override WG: u32 = 256u; // threads per workgroup (a power of two)
override RPW: u32 = 4u; // weight rows per workgroup (a power of two dividing WG)
const MB: u32 = 8u; // X rows per dispatch (accumulators per thread; a const so the loops unroll into registers)
override WTYPE: u32 = 0u;
override CHECK: bool = true;
override XQ: bool = false; // q8_0 against int8 X, packed int8 dot products (as gemv_sg.wgsl's XQ)
override TPR: u32 = WG / RPW; // threads per weight row

struct Params { N: u32, K: u32, M: u32, m0: u32, scaleOff: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG * MB>; // [MB, subgroups] partial sums (at most WG subgroups)

fn dot8h(q: vec4<u32>, x0: vec4<f32>, x1: vec4<f32>) -> f32 {
  let lo = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
  let hi = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
  return dot(lo, x0) + dot(hi, x1);
}

// Four int8 quants of one u32 word (byte i = element i), as f32.
fn i8x4(v: u32) -> vec4<f32> {
  let s = bitcast<i32>(v);
  return vec4<f32>(f32(extractBits(s, 0u, 8u)), f32(extractBits(s, 8u, 8u)), f32(extractBits(s, 16u, 8u)),
                   f32(extractBits(s, 24u, 8u)));
}

// Word i of the q8_0 scale table (f32 bits).
fn scaleW(i: u32) -> f32 {
  let s = p.scaleOff + i;
  return bitcast<f32>(w[s >> 2u][s & 3u]);
}

fn elemW(e: u32) -> f32 {
  if (WTYPE == 0u) { return bitcast<f32>(w[e >> 2u][e & 3u]); }
  if (WTYPE == 2u) {
    let word = e >> 2u;
    return f32(extractBits(bitcast<i32>(w[word >> 2u][word & 3u]), (e & 3u) * 8u, 8u)) * scaleW(e >> 5u);
  }
  let word = e >> 1u;
  let h = unpack2x16float(w[word >> 2u][word & 3u]);
  return select(h.x, h.y, (e & 1u) == 1u);
}

fn elemX(e: u32) -> f32 { return x[e >> 2u][e & 3u]; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_size) sgSize: u32,
        @builtin(subgroup_invocation_id) sgLane: u32) {
  let r = li / TPR; // weight row within the workgroup
  let l = li % TPR; // lane within the row
  let n = (wg.y * nwg.x + wg.x) * RPW + r;
  let rows = min(MB, p.M - p.m0); // live X rows in this chunk
  var s: array<f32, MB>;
  for (var b = 0u; b < MB; b++) { s[b] = 0.0; }
  if (n < p.N) {
    if (CHECK) {
      for (var k = l; k < p.K; k += TPR) {
        let wk = elemW(n * p.K + k);
        for (var b = 0u; b < MB; b++) { if (b < rows) { s[b] += wk * elemX((p.m0 + b) * p.K + k); } }
      }
    } else if (WTYPE == 0u) {
      let k4 = p.K / 4u; // vec4s per row
      for (var j = l; j < k4; j += TPR) {
        let wv = bitcast<vec4<f32>>(w[n * k4 + j]);
        for (var b = 0u; b < MB; b++) { if (b < rows) { s[b] += dot(wv, x[(p.m0 + b) * k4 + j]); } }
      }
    } else if (WTYPE == 2u && XQ) {
      let k16 = p.K / 16u; // 16-byte groups of 16 quants per row (inside one 32-element block)
      let sx = p.M * p.K / 4u; // word of the first X scale
      for (var j = l; j < k16; j += TPR) {
        let g = n * k16 + j;
        let q = w[g];
        let dw = scaleW(g >> 1u);
        for (var b = 0u; b < MB; b++) {
          if (b < rows) {
            let xq = bitcast<vec4<u32>>(x[(p.m0 + b) * k16 + j]); // row m0 + b's quants of group j
            let xi = sx + ((p.m0 + b) * k16 + j) / 2u; // that row's block scale
            let si = (dot4I8Packed(q.x, xq.x) + dot4I8Packed(q.y, xq.y)) + (dot4I8Packed(q.z, xq.z) + dot4I8Packed(q.w, xq.w));
            s[b] += dw * x[xi >> 2u][xi & 3u] * f32(si);
          }
        }
      }
    } else if (WTYPE == 2u) {
      let k16 = p.K / 16u; // 16-byte groups of 16 quants per weight row (inside one 32-element block)
      let k4 = p.K / 4u;
      for (var j = l; j < k16; j += TPR) {
        let g = n * k16 + j;
        let q = w[g];
        let d = scaleW(g >> 1u);
        let q0 = i8x4(q.x);
        let q1 = i8x4(q.y);
        let q2 = i8x4(q.z);
        let q3 = i8x4(q.w);
        for (var b = 0u; b < MB; b++) {
          if (b < rows) {
            let xb = (p.m0 + b) * k4 + 4u * j;
            s[b] += d * ((dot(q0, x[xb]) + dot(q1, x[xb + 1u])) + (dot(q2, x[xb + 2u]) + dot(q3, x[xb + 3u])));
          }
        }
      }
    } else {
      let k8 = p.K / 8u; // 16-byte groups of 8 halves per weight row
      let k4 = p.K / 4u;
      for (var j = l; j < k8; j += TPR) {
        let q = w[n * k8 + j];
        for (var b = 0u; b < MB; b++) {
          if (b < rows) {
            let xb = (p.m0 + b) * k4 + 2u * j;
            s[b] += dot8h(q, x[xb], x[xb + 1u]);
          }
        }
      }
    }
  }
  let nsg = WG / sgSize; // subgroups per workgroup
  for (var b = 0u; b < MB; b++) {
    let t = subgroupAdd(s[b]); // all lanes of the subgroup belong to row r
    if (sgLane == 0u) { red[b * nsg + li / sgSize] = t; }
  }
  workgroupBarrier();
  if (l == 0u && n < p.N) {
    let per = TPR / sgSize; // subgroups per weight row
    for (var b = 0u; b < rows; b++) {
      var acc = 0.0;
      for (var i = 0u; i < per; i++) { acc += red[b * nsg + r * per + i]; }
      y[(p.m0 + b) * p.N + n] = acc;
    }
  }
}
