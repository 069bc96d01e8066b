// Split-KV ("flash-decoding") decode attention for GQA (several query heads per kv head), block form:
// one workgroup per (row b, kv head k, chunk c), as attention_split.wgsl, with the same bindings, the same
// chunking (chunkLen) and the same partial output, so attention_combine.wgsl merges it unchanged.
// Why a second kernel: the lane-group kernel computes G dots per key with subgroup shuffles and rescales
// its online softmax after every key, a chain of dependent steps per key (latency-bound for G > 1).
// Here the chunk is walked in blocks of BK keys: the block's K and V rows are staged in workgroup memory
// with coalesced vec4 loads (all of them issued before any is used), then threads compute the G x BK
// scores from workgroup memory, one thread per head takes the block max, threads turn scores into
// weights, and threads owning (head, vec4 of headDim) outputs accumulate weights x V over the block.
// The softmax state is rescaled once per block, not once per key. No subgroup operations.
// A row whose keys fit one chunk writes its final output here (the combine skips it).
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
// Overrides: WG threads; BK keys per block; HD4 = headDim / 4 (sizes the workgroup arrays; must equal
//           p.hd4); G query heads per pass (G * HD4 <= RO * WG outputs, G * BK <= RO * WG scores).
//           Workgroup memory: (BK*(HD4+1) + BK*HD4 + G*HD4) * 16 + (G*BK + 3*G) * 4 bytes.

override WG: u32 = 128u;
override BK: u32 = 32u;
override HD4: u32 = 32u;
override G: u32 = 4u;
const RO: u32 = 8u; // outputs per thread, bound of the register array
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
// K rows of the block, row stride HD4 + 1 vec4s: the score threads of one subgroup read different keys at
// the same column, and the padding puts those reads in different banks.
var<workgroup> kb: array<vec4<f32>, BK * (HD4 + 1u)>; // [BK, HD4 + 1]
var<workgroup> vb: array<vec4<f32>, BK * HD4>; // [BK, HD4] V rows of the block
var<workgroup> qs: array<vec4<f32>, G * HD4>; // [G, HD4] this pass's queries, scaled
var<workgroup> ss: array<f32, G * BK>; // [G, BK] scores, then weights exp(s - m)
var<workgroup> mrun: array<f32, G>; // [G] running max
var<workgroup> lrun: array<f32, G>; // [G] running sum of weights
var<workgroup> corr: array<f32, G>; // [G] rescale of the running state for this block

/** Keys per chunk of a row with n keys: at least minChunk, at most nct chunks (as attention_split.wgsl). */
fn chunkLen(n: u32) -> u32 { return max(p.minChunk, (n + p.nct - 1u) / p.nct); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
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
  let nOut = (G * HD4 + WG - 1u) / WG; // outputs (head, vec4) per thread: entry li + o*WG

  for (var g0 = 0u; g0 < cnt; g0 += G) {
    for (var r = li; r < G * HD4; r += WG) {
      let hh = heads[min(g0 + r / HD4, cnt - 1u)];
      qs[r] = q[(b * p.nHeads + hh) * HD4 + r % HD4] * p.scale;
    }
    if (li < G) { mrun[li] = NEG; lrun[li] = 0.0; }
    var acc: array<vec4<f32>, RO>;
    for (var o = 0u; o < RO; o++) { acc[o] = vec4<f32>(0.0); }

    for (var j0 = c0; j0 < c1; j0 += BK) {
      // Stage the block's K and V rows (zeros past c1): consecutive threads read consecutive vec4s of a row.
      for (var r = li; r < BK * HD4; r += WG) {
        let j = r / HD4;
        let v = r % HD4;
        var kx = vec4<f32>(0.0);
        var vx = vec4<f32>(0.0);
        if (j0 + j < c1) {
          let o = kv0 + (j0 + j) * p.kvDim4 + v;
          kx = kc[o];
          vx = vc[o];
        }
        kb[j * (HD4 + 1u) + v] = kx;
        vb[r] = vx;
      }
      workgroupBarrier(); // also orders qs / mrun / lrun of a new pass before their first use
      // Scores: thread per (head g, key j), consecutive threads on consecutive keys of one head.
      for (var r = li; r < G * BK; r += WG) {
        let g = r / BK;
        let j = r % BK;
        var d = 0.0;
        for (var i = 0u; i < HD4; i++) { d += dot(qs[g * HD4 + i], kb[j * (HD4 + 1u) + i]); }
        ss[r] = select(NEG, d, j0 + j < c1);
      }
      workgroupBarrier();
      // Block max per head, in key order (one thread per head; BK reads of workgroup memory).
      if (li < G) {
        var mx = mrun[li];
        for (var j = 0u; j < BK; j++) { mx = max(mx, ss[li * BK + j]); }
        corr[li] = exp(mrun[li] - mx);
        mrun[li] = mx;
      }
      workgroupBarrier();
      for (var r = li; r < G * BK; r += WG) {
        let g = r / BK;
        ss[r] = select(0.0, exp(ss[r] - mrun[g]), j0 + r % BK < c1);
      }
      workgroupBarrier();
      // Running sums (thread per head) and weights x V (thread per (head, vec4)), keys in order.
      if (li < G) {
        var lg = lrun[li] * corr[li];
        for (var j = 0u; j < BK; j++) { lg += ss[li * BK + j]; }
        lrun[li] = lg;
      }
      for (var o = 0u; o < nOut; o++) {
        let r = li + o * WG;
        if (r < G * HD4) {
          let g = r / HD4;
          let v = r % HD4;
          var a = acc[o] * corr[g];
          for (var j = 0u; j < BK; j++) { a += ss[g * BK + j] * vb[j * HD4 + v]; }
          acc[o] = a;
        }
      }
      workgroupBarrier(); // kb / vb / ss / corr are rewritten by the next block
    }

    // Write: final output if the row has one chunk, else the partial (m, l, acc), as attention_split.wgsl.
    for (var o = 0u; o < nOut; o++) {
      let r = li + o * WG;
      let g = r / HD4;
      let v = r % HD4;
      if (r < G * HD4 && g0 + g < cnt) {
        let hh = heads[g0 + g];
        if (nUsed == 1u) {
          out[(b * p.nHeads + hh) * HD4 + v] = acc[o] / lrun[g];
        } else {
          pacc[((b * p.nHeads + hh) * p.nct + c) * HD4 + v] = acc[o];
        }
      }
    }
    if (li < G && nUsed > 1u) {
      if (g0 + li < cnt) { pml[(b * p.nHeads + heads[g0 + li]) * p.nct + c] = vec2<f32>(mrun[li], lrun[li]); }
    }
    workgroupBarrier(); // qs / mrun / lrun are reused by the next pass
  }
}
