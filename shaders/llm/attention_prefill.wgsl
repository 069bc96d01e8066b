// Causal GQA attention for prefill (T new tokens at positions [pos, pos+T), T > 1) against the KV cache,
// flash-attention style: one workgroup per (tile of BQ query tokens, query head). The tile's keys stream
// through workgroup memory in blocks of BK rows of K and V, loaded once (coalesced) and read by all BQ
// queries of the tile. attention.wgsl, one workgroup per (token, head) re-reading every key row from
// memory for each query (strided), ran a 4096-token 1B prefill's attention at ~1.3 TFLOPS on an H200.
// TPQ threads share a query: each keeps DPT4 vec4s of it (scaled) and of its accumulator in registers;
// a score is their partial dots summed by an xor-shuffle tree. Per block a thread first forms its
// query's BK scores, then one block max, one rescale of (l, acc), and the weights x V.
// Query token t sees cache positions 0..pos+t inclusive (masked per key); a tile walks the keys up to
// its last query's position.
//
// Bindings: 0 uniform Params {T, pos, nHeads, hd4, kvDim4, layerOff4, scale}
//           1 q: array<vec4<f32>> [T, nHeads*headDim] (already rotated)
//           2 kc: array<vec4<f32>> K cache; row r of this layer at vec4 layerOff4 + r*kvDim4
//           3 vc: array<vec4<f32>> V cache, same layout
//           4 kvmap: array<u32> [nHeads] local query head -> local kv head
//           5 out: array<vec4<f32>> [T, nHeads*headDim]
// Dispatch: ceil(T / BQ) * nHeads workgroups of BQ*TPQ threads, id = wg.x + wg.y * num_workgroups.x,
//           tile = id / nHeads, head = id % nHeads.
// Overrides: HD4 = headDim / 4 (must equal p.hd4); DPT4 vec4s of the head per thread; TPQ threads per
//           query (power of 2, DPT4 * TPQ >= HD4, TPQ <= the smallest subgroup size); BQ queries per
//           workgroup; BK keys per block. Workgroup memory: 2 * BK * HD4 * 16 bytes.

enable subgroups;

override HD4: u32 = 32u;
override DPT4: u32 = 8u;
override TPQ: u32 = 4u;
override BQ: u32 = 32u;
override BK: u32 = 16u;
override WG: u32 = BQ * TPQ;
const RV: u32 = 8u; // vec4 register array bound (DPT4 <= 8)
const RS: u32 = 64u; // score register array bound (BK <= 64)
const NEG: f32 = -3.0e38;

struct Params { T: u32, pos: u32, nHeads: u32, hd4: u32, kvDim4: u32, layerOff4: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> kc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> vc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> kvmap: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;

var<workgroup> ks: array<vec4<f32>, BK * HD4>; // [BK, HD4] this block's key rows
var<workgroup> vs: array<vec4<f32>, BK * HD4>; // [BK, HD4] and value rows

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let id = wg.x + wg.y * nwg.x;
  let nTiles = (p.T + BQ - 1u) / BQ;
  if (id >= nTiles * p.nHeads) { return; } // workgroup-uniform
  let tile = id / p.nHeads;
  let h = id % p.nHeads;
  let t0 = tile * BQ;
  let t = t0 + li / TPQ; // this thread's query token (may be past T in the last tile)
  let lane = li % TPQ;
  let valid = t < p.T;
  let posT = p.pos + t; // its position: keys 0..posT
  let kmax = p.pos + min(t0 + BQ, p.T) - 1u; // the tile's last key
  let kv0 = p.layerOff4 + kvmap[h] * HD4; // vec4 index of cache row 0, this head's kv head

  var qr: array<vec4<f32>, RV>; // vec4s lane*DPT4 + i of the query, scaled
  var acc: array<vec4<f32>, RV>; // the same vec4s of the output
  for (var i = 0u; i < DPT4; i++) {
    let v = lane * DPT4 + i;
    var x = vec4<f32>(0.0);
    if (valid && v < HD4) { x = q[(t * p.nHeads + h) * HD4 + v] * p.scale; }
    qr[i] = x;
    acc[i] = vec4<f32>(0.0);
  }
  var m = NEG;
  var l = 0.0;

  for (var kb = 0u; kb <= kmax; kb += BK) {
    workgroupBarrier(); // the previous block's reads are done
    for (var e = li; e < BK * HD4; e += WG) {
      let j = kb + e / HD4;
      var xk = vec4<f32>(0.0);
      var xv = vec4<f32>(0.0);
      if (j <= kmax) {
        let o = kv0 + j * p.kvDim4 + e % HD4;
        xk = kc[o];
        xv = vc[o];
      }
      ks[e] = xk;
      vs[e] = xv;
    }
    workgroupBarrier();
    // Scores of this block's keys for this thread's query (NEG past its position).
    var s: array<f32, RS>;
    var mx = m;
    for (var j = 0u; j < BK; j++) {
      var d = 0.0;
      for (var i = 0u; i < DPT4; i++) {
        let v = lane * DPT4 + i;
        if (v < HD4) { d += dot(qr[i], ks[j * HD4 + v]); }
      }
      for (var o = TPQ / 2u; o > 0u; o >>= 1u) { d += subgroupShuffleXor(d, o); }
      let sc = select(NEG, d, valid && kb + j <= posT);
      s[j] = sc;
      mx = max(mx, sc);
    }
    let corr = exp(m - mx);
    l *= corr;
    for (var i = 0u; i < DPT4; i++) { acc[i] *= corr; }
    for (var j = 0u; j < BK; j++) {
      let w = exp(s[j] - mx); // 0 for masked keys
      l += w;
      for (var i = 0u; i < DPT4; i++) {
        let v = lane * DPT4 + i;
        if (v < HD4) { acc[i] += w * vs[j * HD4 + v]; }
      }
    }
    m = mx;
  }
  if (valid) {
    for (var i = 0u; i < DPT4; i++) {
      let v = lane * DPT4 + i;
      if (v < HD4) { out[(t * p.nHeads + h) * HD4 + v] = acc[i] / l; }
    }
  }
}
