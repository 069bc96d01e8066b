// Split-KV ("flash-decoding") decode attention for GQA, tile form: one workgroup per (row b, kv head k,
// chunk c), the same bindings, chunking (chunkLen) and partial output as attention_split.wgsl, so
// attention_combine.wgsl merges it unchanged.
// Why a third kernel: the lane-group kernel rescales its softmax per key (a dependent chain per key for
// each of the G heads), and the block kernel stages K/V in workgroup memory, reads both dot operands from
// there (workgroup-memory bound at G = 4..8) and takes block maxima and sums in serial per-head loops.
// Here a chunk is walked in blocks of BK = WG / S keys with ONE barrier per block and no serial loop:
//  A. scores: S lanes of a subgroup read one key row (VPL coalesced vec4s each) and dot it with the G
//     queries they keep in registers; an xor-shuffle tree sums the S partials; the block max per head
//     is a subgroupMax plus one workgroup atomicMax per subgroup (floats mapped to ordered u32). The same
//     threads also issue this block's V loads (layout of phase C) so K and V bytes are in flight together.
//  B. barrier.
//  C. weights x V: thread (v, jp) owns vec4 v of all G heads and keys jp, jp + JP, ... of the block
//     (NV of them, already in registers): it rescales its accumulators once per block with the block
//     max (every thread computes the same running max from the same atomics), computes its keys' weights
//     exp(s - m) from the scores in workgroup memory and accumulates. The JP accumulators of a vec4 share
//     the running max, so the end of the chunk sums them in jp order (deterministic, batch-independent).
// Score and max buffers are double / triple buffered by block parity, which is what lets one barrier
// per block suffice. PF = 1 issues the next block's K and V loads right after this block's dots, so they
// are in flight during the shuffles, the barrier and phase C (one NV-vec4 register array more). A row whose keys fit one chunk writes its final output (the combine skips it).
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
// Overrides: WG threads (a multiple of the subgroup size and of HD4); S lanes per key (power of 2, <= the
//           smallest subgroup size); VPL = ceil(HD4 / S); HD4 = headDim / 4 (must equal p.hd4); G query
//           heads per pass; NV = ceil(BK / JP) with BK = WG / S, JP = WG / HD4. G*VPL, VPL, NV, G <= 16.
//           PF prefetch switch (0 / 1).
//           Workgroup memory: (2*G*BK + 3*G + WG + 262) * 4 + WG * 16 bytes (< 10 KB at WG 256).

enable subgroups;

override WG: u32 = 256u;
override S: u32 = 8u;
override VPL: u32 = 4u;
override HD4: u32 = 32u;
override G: u32 = 4u;
override NV: u32 = 4u;
override PF: u32 = 1u; // 1: issue block i+1's loads before block i's barrier and phase C
override BK: u32 = WG / S; // keys per block
override JP: u32 = WG / HD4; // key lanes of phase C
const R: u32 = 16u; // register array length bound
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
var<workgroup> ss: array<f32, 2u * G * BK>; // [block parity, g, BK] scores
var<workgroup> bm: array<atomic<u32>, 3u * G>; // [block % 3, g] block max, as ordered u32 (0 = none yet)
var<workgroup> red: array<vec4<f32>, WG>; // [JP, HD4] accumulators of one head at the end of a pass
var<workgroup> redl: array<f32, WG>; // [JP, HD4] sums of weights, same layout

/** Keys per chunk of a row with n keys: at least minChunk, at most nct chunks (as attention_split.wgsl). */
fn chunkLen(n: u32) -> u32 { return max(p.minChunk, (n + p.nct - 1u) / p.nct); }

/** f32 -> u32 with the same order (negative floats flipped), so atomicMax takes a float max. */
fn orderKey(f: f32) -> u32 {
  let u = bitcast<u32>(f);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}

fn fromKey(u: u32) -> f32 {
  if (u == 0u) { return NEG; }
  return bitcast<f32>(select(~u, u & 0x7fffffffu, (u & 0x80000000u) != 0u));
}

/** Score-phase K loads of the block at j0: key j0 + slot, vec4s lane + i*S (zeros past c1 / HD4). */
fn loadK(kv0: u32, j0: u32, c1: u32, slot: u32, lane: u32) -> array<vec4<f32>, R> {
  var kr: array<vec4<f32>, R>;
  let j = j0 + slot;
  for (var i = 0u; i < VPL; i++) {
    let vv = lane + i * S;
    var x = vec4<f32>(0.0);
    if (j < c1 && vv < HD4) { x = kc[kv0 + j * p.kvDim4 + vv]; }
    kr[i] = x;
  }
  return kr;
}

/** Phase C V loads of the block at j0: keys j0 + jp + t*JP, vec4 v (zeros past c1). */
fn loadV(kv0: u32, j0: u32, c1: u32, jp: u32, v: u32) -> array<vec4<f32>, R> {
  var vr: array<vec4<f32>, R>;
  for (var t = 0u; t < NV; t++) {
    let jj = jp + t * JP;
    var x = vec4<f32>(0.0);
    if (jp < JP && jj < BK && j0 + jj < c1) { x = vc[kv0 + (j0 + jj) * p.kvDim4 + v]; }
    vr[t] = x;
  }
  return vr;
}

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

  // Phase A lane layout: the key slot (0..BK-1) of this thread's S-lane group, from the subgroup index
  // (an atomic: no assumption on how invocations map to subgroups) and the lane inside the subgroup.
  var si = 0u;
  if (sid == 0u) { si = atomicAdd(&slotCtr, 1u); }
  si = subgroupBroadcast(si, 0u);
  let slot = si * (sgs / S) + sid / S;
  let lane = sid % S;
  // Phase C layout: vec4 v of the head, key lane jp.
  let v = li % HD4;
  let jp = li / HD4;

  // Query heads of kv head k (as attention_split.wgsl): a contiguous range is listed directly, anything
  // else by one thread's scan.
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
  let kv0 = p.layerOff4 + base * p.kvDim4 + k * HD4; // vec4 index of cache row 0, this kv head

  for (var g0 = 0u; g0 < cnt; g0 += G) {
    // This pass's queries (scaled) in registers: qr[g*VPL + i] = vec4 lane + i*S of head g.
    var qr: array<vec4<f32>, R>;
    for (var g = 0u; g < G; g++) {
      let hh = heads[min(g0 + g, cnt - 1u)];
      for (var i = 0u; i < VPL; i++) {
        let vv = lane + i * S;
        var x = vec4<f32>(0.0);
        if (vv < HD4) { x = q[(b * p.nHeads + hh) * HD4 + vv] * p.scale; }
        qr[g * VPL + i] = x;
      }
    }
    var acc: array<vec4<f32>, R>; // [g] vec4 v of head g, keys jp + t*JP of every block so far
    var lsum: array<f32, R>; // [g] sum of those keys' weights
    var mrun: array<f32, R>; // [g] running max (the same in every thread)
    for (var g = 0u; g < G; g++) { acc[g] = vec4<f32>(0.0); lsum[g] = 0.0; mrun[g] = NEG; }
    if (li < G) { atomicStore(&bm[li], 0u); } // block 0's max buffer
    workgroupBarrier(); // also: the previous pass's reads of ss / bm / red are done

    // Block c0's K and V; later blocks' loads are issued one block ahead (PF = 1: before this block's
    // barrier and phase C, so they are in flight while it computes; PF = 0: after phase C).
    var kr = loadK(kv0, c0, c1, slot, lane);
    var vr = loadV(kv0, c0, c1, jp, v);
    var it = 0u;
    for (var j0 = c0; j0 < c1; j0 += BK) {
      let par = it % 2u;
      let tri = it % 3u;
      // ---- A: scores of key j0 + slot for the G heads.
      let j = j0 + slot;
      var d: array<f32, R>;
      for (var g = 0u; g < G; g++) {
        var x = 0.0;
        for (var i = 0u; i < VPL; i++) { x += dot(qr[g * VPL + i], kr[i]); }
        d[g] = x;
      }
      var vn: array<vec4<f32>, R>;
      if (PF == 1u) {
        kr = loadK(kv0, j0 + BK, c1, slot, lane);
        vn = loadV(kv0, j0 + BK, c1, jp, v);
      }
      // The buffer of block it + 1's max: last read in block it - 2's phase C, which every thread
      // finished before block it - 1's barrier.
      if (li < G) { atomicStore(&bm[((it + 1u) % 3u) * G + li], 0u); }
      for (var o = S / 2u; o > 0u; o >>= 1u) {
        for (var g = 0u; g < G; g++) { d[g] += subgroupShuffleXor(d[g], o); }
      }
      for (var g = 0u; g < G; g++) {
        let sc = select(NEG, d[g], j < c1);
        if (lane == g % S) { ss[(par * G + g) * BK + slot] = sc; }
        let mx = subgroupMax(sc);
        if (sid == 0u) { atomicMax(&bm[tri * G + g], orderKey(mx)); }
      }
      workgroupBarrier();
      // ---- C: rescale once per block, then weights x V for this thread's NV keys.
      for (var g = 0u; g < G; g++) {
        let mx = max(mrun[g], fromKey(atomicLoad(&bm[tri * G + g])));
        let corr = exp(mrun[g] - mx);
        var a = acc[g] * corr;
        var l = lsum[g] * corr;
        for (var t = 0u; t < NV; t++) {
          let jj = jp + t * JP;
          if (jj < BK) {
            let w = exp(ss[(par * G + g) * BK + jj] - mx); // 0 for masked keys (score NEG)
            l += w;
            a += w * vr[t];
          }
        }
        acc[g] = a;
        lsum[g] = l;
        mrun[g] = mx;
      }
      if (PF == 1u) {
        vr = vn;
      } else {
        kr = loadK(kv0, j0 + BK, c1, slot, lane);
        vr = loadV(kv0, j0 + BK, c1, jp, v);
      }
      it++;
    }

    // Sum the JP key lanes of each head in jp order, then write the final output (one chunk) or the
    // partial (m, l, acc) as attention_split.wgsl.
    for (var g = 0u; g < G; g++) {
      red[li] = acc[g];
      redl[li] = lsum[g];
      workgroupBarrier();
      if (li < HD4 && g0 + g < cnt) {
        var a = vec4<f32>(0.0);
        var l = 0.0;
        for (var t = 0u; t < JP; t++) {
          a += red[t * HD4 + li];
          l += redl[t * HD4]; // every v of key lane t holds the same sum
        }
        let hh = heads[g0 + g];
        if (nUsed == 1u) {
          out[(b * p.nHeads + hh) * HD4 + li] = a / l;
        } else {
          pacc[((b * p.nHeads + hh) * p.nct + c) * HD4 + li] = a;
          if (li == 0u) { pml[(b * p.nHeads + hh) * p.nct + c] = vec2<f32>(mrun[g], l); }
        }
      }
      workgroupBarrier(); // red is rewritten for the next head
    }
  }
}
