// Split-KV ("flash-decoding") attention for decode: one query row per sequence, the keys of each row cut
// into chunks, one workgroup per (row b, kv head k, chunk c). The workgroup reads its chunk of K and V
// once for all G query heads of a pass that map to kv head k (GQA; all of them in one pass where
// G*VPL <= 16), keeping their queries in registers: each key row read gives G dot products.
// A key row (headDim floats) is read by S lanes, VPL vec4s each (e.g. 8 lanes x 4 vec4s at headDim 128),
// so one subgroup reads sgs/S keys at once (128 contiguous bytes per lane group and load) and each dot
// needs log2(S) shuffles; each lane group (slot) keeps its own online softmax (m, l, acc) per head,
// merged at the end by an xor tree inside the subgroup, then across subgroups in index order.
// Writes per (row, head, chunk) a partial (m, l, acc[headDim]) that attention_combine.wgsl merges; a row
// whose keys fit one chunk writes its final output here instead (the combine skips it).
// The chunk length depends only on the row's own key count and the shape (chunkLen below), never on
// the batch, so a row gives the same bits alone (attention(), T = 1) or in a batch (attentionBatch()).
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
// Overrides: WG threads; S lanes per key (power of 2, <= the smallest subgroup size SGMIN); VPL = vec4s per
//           lane per head = ceil(hd4 / S); G heads per pass; U keys per lane group per loop step (loads
//           issued together so more bytes are in flight); SGMIN the adapter's smallest subgroup size.
//           G*VPL <= 16, U*VPL <= 16 (register arrays).

enable subgroups;

override WG: u32 = 128u;
override S: u32 = 32u;
override VPL: u32 = 1u;
override G: u32 = 4u;
override U: u32 = 2u;
override SGMIN: u32 = 4u; // smallest subgroup size of the adapter (sizes the per-subgroup arrays)
const R: u32 = 16u; // register array length bound
const MAXSG: u32 = 128u; // largest subgroup size (bound of the in-subgroup merge loop)
const NEG: f32 = -3.0e38;
const MAXH: u32 = 256u; // query heads per kv head, bound

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

var<workgroup> heads: array<u32, MAXH>; // query heads of kv head k, ascending
var<workgroup> nh: u32;
var<workgroup> hA: array<atomic<u32>, 3>; // heads of kv head k: count, first, last + 1
var<workgroup> slotCtr: atomic<u32>; // hands each subgroup its index (no layout assumption)
var<workgroup> sm: array<f32, WG / SGMIN * G>; // [subgroup, g] running max of each subgroup
var<workgroup> sl: array<f32, WG / SGMIN * G>; // [subgroup, g] running sum
var<workgroup> sacc: array<vec4<f32>, G * VPL * S>; // [g, vec4 index] merged accumulator
var<workgroup> mlG: array<vec2<f32>, G>; // [g] merged (max, sum)

/** Sum over the S lanes of this lane group (S divides the subgroup size; groups are aligned). */
fn groupSum(x: f32) -> f32 {
  var v = x;
  for (var o = S / 2u; o > 0u; o >>= 1u) { v += subgroupShuffleXor(v, o); }
  return v;
}

/** Keys per chunk of a row with n keys: at least minChunk, at most nct chunks. */
fn chunkLen(n: u32) -> u32 { return max(p.minChunk, (n + p.nct - 1u) / p.nct); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {
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

  // Lane group (slot) of this thread: subgroup index from an atomic, then S-lane groups inside it.
  var si = 0u;
  if (sid == 0u) { si = atomicAdd(&slotCtr, 1u); }
  si = subgroupBroadcast(si, 0u);
  let slot = si * (sgs / S) + sid / S;
  let lane = sid % S;
  let nSlot = WG / S;

  // Query heads of kv head k: found in parallel (count, first, last + 1); a contiguous range (every
  // map here: floor(h / group) - offset) is listed directly, anything else by one thread's scan.
  if (li == 0u) { atomicStore(&hA[1], 0xffffffffu); }
  workgroupBarrier();
  for (var h = li; h < p.nHeads; h += WG) {
    if (kvmap[h] == k) { atomicAdd(&hA[0], 1u); atomicMin(&hA[1], h); atomicMax(&hA[2], h + 1u); }
  }
  workgroupBarrier();
  if (li == 0u) {
    let n = min(atomicLoad(&hA[0]), MAXH);
    let first = atomicLoad(&hA[1]);
    if (n == 0u || atomicLoad(&hA[2]) - first == n) {
      for (var i = 0u; i < n; i++) { heads[i] = first + i; }
    } else {
      var m = 0u;
      for (var h = 0u; h < p.nHeads; h++) {
        if (kvmap[h] == k && m < MAXH) { heads[m] = h; m++; }
      }
    }
    nh = n;
  }
  let cnt = workgroupUniformLoad(&nh);
  let kv0 = p.layerOff4 + base * p.kvDim4 + k * p.hd4; // vec4 index of cache row 0, this kv head

  for (var g0 = 0u; g0 < cnt; g0 += G) {
    // This pass's queries (scaled) in registers: qr[g*VPL + i] = vec4 lane + i*S of head g. Every key row
    // read is dotted with all G of them (GQA: the K/V bytes are read once per pass, not once per head).
    var qr: array<vec4<f32>, R>;
    for (var g = 0u; g < G; g++) {
      let hh = heads[min(g0 + g, cnt - 1u)];
      for (var i = 0u; i < VPL; i++) {
        let v = lane + i * S;
        var x = vec4<f32>(0.0);
        if (v < p.hd4) { x = q[(b * p.nHeads + hh) * p.hd4 + v] * p.scale; }
        qr[g * VPL + i] = x;
      }
    }
    var m: array<f32, R>;
    var l: array<f32, R>;
    var acc: array<vec4<f32>, R>;
    for (var g = 0u; g < G; g++) { m[g] = NEG; l[g] = 0.0; }
    for (var r = 0u; r < G * VPL; r++) { acc[r] = vec4<f32>(0.0); }

    // Same trip count for every lane group (masked keys past c1): subgroup ops need uniform control flow.
    let nIt = (c1 - c0 + nSlot * U - 1u) / (nSlot * U);
    for (var it = 0u; it < nIt; it++) {
      let j0 = c0 + (it * nSlot + slot) * U;
      // Issue all U keys' K and V loads (U*VPL vec4s each) before using any of them.
      var kr: array<vec4<f32>, R>;
      var vr: array<vec4<f32>, R>;
      for (var u = 0u; u < U; u++) {
        let j = j0 + u;
        for (var i = 0u; i < VPL; i++) {
          let v = lane + i * S;
          var kx = vec4<f32>(0.0);
          var vx = vec4<f32>(0.0);
          if (j < c1 && v < p.hd4) {
            let o = kv0 + j * p.kvDim4 + v;
            kx = kc[o];
            vx = vc[o];
          }
          kr[u * VPL + i] = kx;
          vr[u * VPL + i] = vx;
        }
      }
      for (var g = 0u; g < G; g++) {
        var s: array<f32, R>;
        var mx = m[g];
        for (var u = 0u; u < U; u++) {
          var d = 0.0;
          for (var i = 0u; i < VPL; i++) { d += dot(qr[g * VPL + i], kr[u * VPL + i]); }
          s[u] = select(NEG, groupSum(d), j0 + u < c1);
          mx = max(mx, s[u]);
        }
        let corr = exp(m[g] - mx);
        var lg = l[g] * corr;
        for (var i = 0u; i < VPL; i++) { acc[g * VPL + i] *= corr; }
        for (var u = 0u; u < U; u++) {
          let e = select(0.0, exp(s[u] - mx), j0 + u < c1);
          lg += e;
          for (var i = 0u; i < VPL; i++) { acc[g * VPL + i] += e * vr[u * VPL + i]; }
        }
        l[g] = lg;
        m[g] = mx;
      }
    }

    // Merge the lane groups of this subgroup without barriers: an xor tree over the lane bits >= S (fixed
    // pairing, so the result depends only on which keys each slot read). Lanes sid < S then hold the
    // subgroup's (m, l, acc). The bound is a constant (shuffles need uniform control flow); o < sgs
    // holds for every lane or for none.
    for (var o = S; o < MAXSG; o <<= 1u) {
      if (o < sgs) {
        for (var g = 0u; g < G; g++) {
          let m2 = subgroupShuffleXor(m[g], o);
          let l2 = subgroupShuffleXor(l[g], o);
          let mn = max(m[g], m2);
          let a1 = exp(m[g] - mn);
          let a2 = exp(m2 - mn);
          l[g] = l[g] * a1 + l2 * a2;
          m[g] = mn;
          for (var i = 0u; i < VPL; i++) {
            let x2 = subgroupShuffleXor(acc[g * VPL + i], o);
            acc[g * VPL + i] = acc[g * VPL + i] * a1 + x2 * a2;
          }
        }
      }
    }

    // Merge the subgroups (in index order): max and sum from every subgroup's (m, l), then each adds its
    // scaled accumulator in turn. nSub = WG / sgs barriers (4 at WG 128 on 32-lane subgroups).
    if (sid == 0u) {
      for (var g = 0u; g < G; g++) { sm[si * G + g] = m[g]; sl[si * G + g] = l[g]; }
    }
    for (var r = li; r < G * VPL * S; r += WG) { sacc[r] = vec4<f32>(0.0); }
    workgroupBarrier();
    let nSub = WG / sgs;
    var w: array<f32, R>; // this subgroup's weight exp(m - M) per head
    for (var g = 0u; g < G; g++) {
      var mg = NEG;
      for (var t = 0u; t < nSub; t++) { mg = max(mg, sm[t * G + g]); }
      var lsum = 0.0;
      for (var t = 0u; t < nSub; t++) { lsum += sl[t * G + g] * exp(sm[t * G + g] - mg); }
      if (li == 0u) { mlG[g] = vec2<f32>(mg, lsum); }
      w[g] = exp(m[g] - mg);
    }
    for (var t = 0u; t < WG / SGMIN; t++) {
      if (si == t && sid < S) {
        for (var g = 0u; g < G; g++) {
          for (var i = 0u; i < VPL; i++) {
            let r = (g * VPL + i) * S + lane;
            sacc[r] += acc[g * VPL + i] * w[g];
          }
        }
      }
      workgroupBarrier(); // t >= nSub: an idle step (the bound must be uniform for the barrier)
    }
    // Write: final output if the row has one chunk, else the partial. Thread li covers entries li, li+WG...
    for (var r = li; r < G * VPL * S; r += WG) {
      let g = r / (VPL * S);
      let v = r % (VPL * S); // vec4 index inside the head (i * S + lane)
      if (g0 + g < cnt && v < p.hd4) {
        let hh = heads[g0 + g];
        if (nUsed == 1u) {
          out[(b * p.nHeads + hh) * p.hd4 + v] = sacc[r] / mlG[g].y;
        } else {
          pacc[((b * p.nHeads + hh) * p.nct + c) * p.hd4 + v] = sacc[r];
        }
      }
    }
    if (li < G && nUsed > 1u) {
      if (g0 + li < cnt) { pml[(b * p.nHeads + heads[g0 + li]) * p.nct + c] = mlG[li]; }
    }
    workgroupBarrier(); // sm/sl/sacc/mlG are reused by the next pass
  }
}
