// Split-KV ("flash-decoding") decode attention for GQA, subgroup form: one workgroup per (row b, kv head k,
// chunk c), the same bindings, chunking (chunkLen) and partial output as attention_split.wgsl, so
// attention_combine.wgsl merges it unchanged.
// Why a fourth kernel: the tile kernel (attention_split_gqa_tile.wgsl) walks a chunk in blocks with a
// workgroup barrier and workgroup atomics per block, so every block waits for the slowest subgroup and
// its loads are not in flight during the barrier; at 7B GQA it streamed 23-40% of an H200's bandwidth.
// Here each subgroup walks its own steps of the chunk with its own online softmax and never waits for
// another until the chunk ends (one barrier, where the NW subgroups' partials merge in fixed order):
//  - A step is KS = KPR * U keys: S lanes read a key row (VPL vec4s each, coalesced), KPR = SG / S rows at
//    once, U times. Each lane dots its vec4s with the G query heads it keeps in registers: U*G partial
//    dots, each to be summed over the S lanes of its row.
//  - Those U*G = S*E sums are formed by a reduce-scatter butterfly inside the S lanes (at each xor level a
//    lane keeps half of its values and adds the partner's copy of them): S*E - E shuffles instead of
//    U*G*log2(S), and lane r ends with the E totals n = r*E .. r*E+E-1, n = u*G + g (key u, head g).
//  - The step max per head: an xor max over the lanes holding that head; every lane then keeps the running
//    max m, its own keys' sum of weights l, and rescales once per step.
//  - Weights x V: lane r of a row owns vec4s r + i*S of the V rows its lane group reads, for all G heads;
//    each weight comes by one shuffle from the lane that holds it.
// Sums are fixed-order (xor trees, subgroups merged in index order) and the chunking depends only on the
// row's own length, so a batched row stays bit-identical to its lone decode.
//
// Bindings: 0 uniform Params {B, nHeads, hd4, kvDim4, nKv, nct, minChunk, layerOff4, pos, useRows, scale, nch,
//             cvb (combine only)}
//           1 q: array<vec4<f32>> [B, nHeads*headDim] (already rotated)
//           2 kc: array<vec4<f32>> K cache; row r of this layer at vec4 layerOff4 + r*kvDim4
//           3 vc: array<vec4<f32>> V cache, same layout
//           4 kvmap: array<u32> [nHeads] local query head -> local kv head
//           5 rows: array<u32> [B, 2] = (first cache row of the row's slot, position); read iff useRows = 1,
//             else B = 1, the slot starts at row 0 and the position is p.pos
//           6 out: array<vec4<f32>> [B, nHeads*headDim] (rows whose keys fit one chunk)
//           7 pacc: array<vec4<f32>> [B, nHeads, nct, headDim] unnormalised partial sums
//           8 pml: array<vec2<f32>> [B, nHeads, nct] partial (max score, sum of exp)
// Dispatch: B*nKv*nch workgroups of WG threads (nch <= nct chunks per row; workgroups past a row's chunks
//           exit), id = wg.x + wg.y * num_workgroups.x, c = id % nch, k = (id / nch) % nKv, b = the rest.
// Overrides: WG threads (a multiple of SG); SG the adapter's one subgroup size; S lanes per key row (power
//           of 2 dividing SG); VPL = ceil(HD4 / S); HD4 = headDim / 4 (must equal p.hd4); G query heads per
//           pass (power of 2, dividing S*E); E totals per lane (power of 2 dividing G); U = S*E / G.
//           REG 1 where the host checked the map is regular (h -> h / group): the heads are derived and
//           kvmap is not read. Register arrays: G*VPL <= 16, U*VPL <= 16, S*E <= 32.
//           Workgroup memory: NW*G*(HD4*16 + 8) bytes, NW = WG / SG (4.2 KB at 7B GQA, WG 64).
// What did not work on an H200 (attention-decode-gqa-warp-*): the next step's loads issued before this
// step's shuffles (2-4x slower: spills), the reduce-scatter as one loop over levels (0.7-0.85x of the
// call per level below), the first step's loads issued before the head scan (0.5x).

enable subgroups;
// The step loop's bounds depend on the subgroup index wi, which is the same in every lane of a subgroup
// (subgroupBroadcast) but which the uniformity analysis cannot prove subgroup-uniform.
diagnostic(off, subgroup_uniformity);

override WG: u32 = 64u;
override SG: u32 = 32u;
override S: u32 = 32u;
override VPL: u32 = 1u;
override HD4: u32 = 32u;
override G: u32 = 4u;
override E: u32 = 1u;
override U: u32 = S * E / G; // keys per lane group per step
override KPR: u32 = SG / S; // key rows a subgroup reads at once
override KS: u32 = KPR * U; // keys per step
override NW: u32 = WG / SG; // subgroups per workgroup
override REG: u32 = 0u; // 1: the map is regular (head h -> kv head h / (nHeads / nKv)): kvmap is not scanned
const RV: u32 = 16u; // vec4 register array bound
const RS: u32 = 32u; // scalar register array bound
const NEG: f32 = -3.0e38;

struct Params {
  B: u32, nHeads: u32, hd4: u32, kvDim4: u32, nKv: u32, nct: u32, minChunk: u32, layerOff4: u32,
  pos: u32, useRows: u32, scale: f32, nch: u32, cvb: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> kc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> vc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> kvmap: array<u32>;
@group(0) @binding(5) var<storage, read> rows: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> pacc: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> pml: array<vec2<f32>>;

var<workgroup> warpCtr: atomic<u32>; // hands each subgroup its index (no layout assumption)
var<workgroup> wacc: array<vec4<f32>, NW * G * HD4>; // [subgroup, g, vec4] accumulators at the chunk's end
var<workgroup> wml: array<vec2<f32>, NW * G>; // [subgroup, g] (running max, sum of weights)

/** Keys per chunk of a row with n keys: at least minChunk, at most nct chunks (as attention_split.wgsl). */
fn chunkLen(n: u32) -> u32 { return max(p.minChunk, (n + p.nct - 1u) / p.nct); }

/** The U rows of a step at j0 this lane reads from cache x: key j0 + u*KPR + slot, vec4s r + i*S (zeros
 * past c1 or headDim). */
fn loadRows(x: ptr<storage, array<vec4<f32>>, read>, kv0: u32, j0: u32, c1: u32, slot: u32, r: u32) -> array<vec4<f32>, RV> {
  var a: array<vec4<f32>, RV>;
  for (var u = 0u; u < U; u++) {
    let j = j0 + u * KPR + slot;
    for (var i = 0u; i < VPL; i++) {
      let vv = r + i * S;
      var y = vec4<f32>(0.0);
      if (j < c1 && vv < HD4) { y = (*x)[kv0 + j * p.kvDim4 + vv]; }
      a[u * VPL + i] = y;
    }
  }
  return a;
}

/** One level of the reduce-scatter: lanes whose bit o is clear keep values 0..o*E-1 (adding the partner's
 * copies), the others keep o*E..2*o*E-1 (moved down to 0..o*E-1). */
fn reduceLevel(d: ptr<function, array<f32, RS>>, o: u32, r: u32) {
  let up = (r & o) != 0u;
  let h = o * E;
  for (var t = 0u; t < h; t++) {
    let lo = (*d)[t];
    let hi = (*d)[t + h];
    (*d)[t] = select(lo, hi, up) + subgroupShuffleXor(select(hi, lo, up), o);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let id = wg.x + wg.y * nwg.x;
  let c = id % p.nch;
  let k = (id / p.nch) % p.nKv;
  let b = id / (p.nch * p.nKv);
  if (b >= p.B) { return; } // workgroup-uniform
  var base = 0u;
  var pos = p.pos;
  if (p.useRows == 1u) { base = rows[2u * b]; pos = rows[2u * b + 1u]; }
  let nKeys = pos + 1u;
  let cl = chunkLen(nKeys);
  let nUsed = (nKeys + cl - 1u) / cl;
  if (c >= nUsed) { return; } // workgroup-uniform
  let c0 = c * cl;
  let c1 = min(nKeys, c0 + cl);

  // Subgroup index (an atomic: no assumption on how invocations map to subgroups); it picks the steps the
  // subgroup walks, so which hardware subgroup gets which index does not change any sum.
  var wi = 0u;
  if (sid == 0u) { wi = atomicAdd(&warpCtr, 1u); }
  wi = subgroupBroadcast(wi, 0u);
  let slot = sid / S; // key row of this lane group within a step
  let r = sid % S; // lane within the row
  let kv0 = p.layerOff4 + base * p.kvDim4 + k * HD4; // vec4 index of cache row 0, this kv head

  // Query heads of kv head k: their count, and hs[g] = the (g0+g)-th of them for the pass at g0. A regular
  // map (REG = 1, the host checked it) gives them directly; any other is scanned by every thread (a uniform
  // loop over a small read-only buffer, rescanned for each later pass). The scan cost 2.3-2.9 us a call on
  // an H200 (a chain of dependent loads before the queries can be read).
  var cnt = 0u;
  var hs: array<u32, RS>;
  if (REG == 1u) {
    cnt = p.nHeads / p.nKv;
    for (var g = 0u; g < G; g++) { hs[g] = k * cnt + g; }
  } else {
    for (var h = 0u; h < p.nHeads; h++) {
      if (kvmap[h] == k) {
        if (cnt < G) { hs[cnt] = h; }
        cnt++;
      }
    }
  }

  for (var g0 = 0u; g0 < cnt; g0 += G) {
    if (g0 > 0u && REG == 1u) {
      for (var g = 0u; g < G; g++) { hs[g] = k * cnt + g0 + g; }
    } else if (g0 > 0u) {
      var n = 0u;
      for (var h = 0u; h < p.nHeads; h++) {
        if (kvmap[h] == k) {
          if (n >= g0 && n < g0 + G) { hs[n - g0] = h; }
          n++;
        }
      }
    }
    // This pass's queries, scaled: qr[g*VPL + i] = vec4 r + i*S of head hs[g] (padded with the last head).
    let last = min(cnt - g0, G) - 1u;
    var qr: array<vec4<f32>, RV>;
    for (var g = 0u; g < G; g++) {
      let hh = hs[min(g, last)];
      for (var i = 0u; i < VPL; i++) {
        let vv = r + i * S;
        var x = vec4<f32>(0.0);
        if (vv < HD4) { x = q[(b * p.nHeads + hh) * HD4 + vv] * p.scale; }
        qr[g * VPL + i] = x;
      }
    }
    var acc: array<vec4<f32>, RV>; // [g*VPL + i] vec4 r + i*S of head g, this lane group's keys
    var mrun: array<f32, RS>; // [e] running max of head (r*E) % G + e (the same in every lane holding it)
    var lrun: array<f32, RS>; // [e] this lane's share of that head's sum of weights
    for (var t = 0u; t < G * VPL; t++) { acc[t] = vec4<f32>(0.0); }
    for (var e = 0u; e < E; e++) { mrun[e] = NEG; lrun[e] = 0.0; }

    // Each step's K and V loads are issued together, the next step's at the end of this one. (Issuing the
    // first step's before the head scan doubled the time on an H200: the loads then live across the
    // scan's loop.)
    var kr = loadRows(&kc, kv0, c0 + wi * KS, c1, slot, r);
    var vr = loadRows(&vc, kv0, c0 + wi * KS, c1, slot, r);
    for (var j0 = c0 + wi * KS; j0 < c1; j0 += NW * KS) { // subgroup-uniform
      // Partial dots d[u*G + g], then the reduce-scatter over the S lanes of the row.
      var d: array<f32, RS>;
      for (var u = 0u; u < U; u++) {
        for (var g = 0u; g < G; g++) {
          var x = 0.0;
          for (var i = 0u; i < VPL; i++) { x += dot(qr[g * VPL + i], kr[u * VPL + i]); }
          d[u * G + g] = x;
        }
      }
      // Level o keeps o*E of its 2*o*E values; written out per level (constant offsets after unrolling,
      // so d stays in registers).
      if (S > 16u) { reduceLevel(&d, 16u, r); }
      if (S > 8u) { reduceLevel(&d, 8u, r); }
      if (S > 4u) { reduceLevel(&d, 4u, r); }
      if (S > 2u) { reduceLevel(&d, 2u, r); }
      if (S > 1u) { reduceLevel(&d, 1u, r); }
      // d[e] is the score of key u = n / G, head g = n % G, n = r*E + e: step max per head over the lanes
      // holding it (xor offsets G/E .. SG/2 keep r mod G/E), running max, weights, one rescale.
      var w: array<f32, RS>;
      var corr: array<f32, RS>;
      for (var e = 0u; e < E; e++) {
        let u = (r * E + e) / G;
        let sc = select(NEG, d[e], j0 + u * KPR + slot < c1);
        var mx = sc;
        for (var o = G / E; o < SG; o <<= 1u) { mx = max(mx, subgroupShuffleXor(mx, o)); }
        let mn = max(mrun[e], mx);
        corr[e] = exp(mrun[e] - mn);
        w[e] = exp(sc - mn); // 0 for masked keys
        lrun[e] = lrun[e] * corr[e] + w[e];
        mrun[e] = mn;
      }
      for (var g = 0u; g < G; g++) {
        let cg = subgroupShuffle(corr[g % E], g / E); // lane g / E of row 0 holds head g
        for (var i = 0u; i < VPL; i++) { acc[g * VPL + i] *= cg; }
      }
      for (var u = 0u; u < U; u++) {
        for (var g = 0u; g < G; g++) {
          let nn = u * G + g;
          let wv = subgroupShuffle(w[nn % E], slot * S + nn / E);
          for (var i = 0u; i < VPL; i++) { acc[g * VPL + i] += wv * vr[u * VPL + i]; }
        }
      }
      kr = loadRows(&kc, kv0, j0 + NW * KS, c1, slot, r);
      vr = loadRows(&vc, kv0, j0 + NW * KS, c1, slot, r);
    }

    // The subgroup's totals: sums of weights over the lanes of each head, accumulators over the KPR rows.
    for (var e = 0u; e < E; e++) {
      for (var o = G / E; o < SG; o <<= 1u) { lrun[e] += subgroupShuffleXor(lrun[e], o); }
    }
    for (var o = S; o < SG; o <<= 1u) {
      for (var t = 0u; t < G * VPL; t++) { acc[t] += subgroupShuffleXor(acc[t], o); }
    }
    if (slot == 0u) {
      for (var g = 0u; g < G; g++) {
        for (var i = 0u; i < VPL; i++) {
          let vv = r + i * S;
          if (vv < HD4) { wacc[(wi * G + g) * HD4 + vv] = acc[g * VPL + i]; }
        }
      }
      if (r < G / E) {
        for (var e = 0u; e < E; e++) { wml[wi * G + r * E + e] = vec2<f32>(mrun[e], lrun[e]); }
      }
    }
    workgroupBarrier();
    // Merge the NW subgroups in index order (a subgroup without keys has max NEG, weight 0), then write
    // the final output (one chunk) or the partial (m, l, acc) as attention_split.wgsl.
    for (var t = li; t < G * HD4; t += WG) {
      let g = t / HD4;
      let vv = t % HD4;
      if (g <= last) {
        var mm = NEG;
        for (var s = 0u; s < NW; s++) { mm = max(mm, wml[s * G + g].x); }
        var a = vec4<f32>(0.0);
        var l = 0.0;
        for (var s = 0u; s < NW; s++) {
          let f = exp(wml[s * G + g].x - mm);
          a += wacc[(s * G + g) * HD4 + vv] * f;
          l += wml[s * G + g].y * f;
        }
        let hh = hs[g];
        if (nUsed == 1u) {
          out[(b * p.nHeads + hh) * HD4 + vv] = a / l;
        } else {
          pacc[((b * p.nHeads + hh) * p.nct + c) * HD4 + vv] = a;
          if (vv == 0u) { pml[(b * p.nHeads + hh) * p.nct + c] = vec2<f32>(mm, l); }
        }
      }
    }
    workgroupBarrier(); // wacc / wml are rewritten by the next pass
  }
}
