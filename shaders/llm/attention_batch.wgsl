// Batched decode attention: B query rows, one per sequence (slot), each against its own region of the
// KV cache (continuous batching). Row b is one token at position rows[b].pos of the sequence whose cache
// rows start at rows[b].base, and sees cache rows base..base+pos inclusive. GQA: local query head h reads
// kv head kvmap[h]. Same online-softmax algorithm and arithmetic order as attention.wgsl, so a row gives
// the same bits as a single-sequence decode of that token (a request's text must not depend on its
// batch companions).
//
// Bindings: 0 uniform Params {B, nHeads, headDim, kvDim, scale}
//           1 q: array<f32> [B, nHeads*headDim] (already rotated)
//           2 kc: array<f32> K cache of one layer [maxSlots*maxSeqLen, kvDim]
//           3 vc: array<f32> V cache, same layout
//           4 kvmap: array<u32> [nHeads]
//           5 rows: array<u32> [B, 2] = (first cache row of the row's slot, position of the token)
//           6 out: array<f32> [B, nHeads*headDim]
// Dispatch: one workgroup of 64 threads per (b, h), id = wg.x + wg.y * num_workgroups.x, b = id / nHeads.
// Keys stream through in chunks of 64 (one per thread) with a running max and sum; headDim <= 256.

const WG: u32 = 64u;
const NEG: f32 = -3.0e38;

struct Params { B: u32, nHeads: u32, headDim: u32, kvDim: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read> kvmap: array<u32>;
@group(0) @binding(5) var<storage, read> rows: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, 256>; // [headDim] scaled query
var<workgroup> sc: array<f32, WG>; // this chunk's probabilities
var<workgroup> red: array<f32, WG>; // reduction scratch

fn reduce(li: u32, isMax: bool) -> f32 {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] = select(red[li] + red[li + s], max(red[li], red[li + s]), isMax); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier(); // all have read red[0] before it is written again
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let id = wg.x + wg.y * nwg.x;
  if (id >= p.B * p.nHeads) { return; } // workgroup-uniform
  let b = id / p.nHeads;
  let h = id % p.nHeads;
  let hd = p.headDim;
  let kvBase = rows[2u * b] * p.kvDim + kvmap[h] * hd;
  let qBase = id * hd; // (b * nHeads + h) * hd
  for (var d = li; d < hd; d += WG) { qs[d] = q[qBase + d] * p.scale; }
  workgroupBarrier();
  let nKeys = rows[2u * b + 1u] + 1u;
  var m = NEG;
  var l = 0.0;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var c0 = 0u; c0 < nKeys; c0 += WG) {
    let j = c0 + li;
    var s = NEG;
    if (j < nKeys) {
      let kb = kvBase + j * p.kvDim;
      s = 0.0;
      for (var d = 0u; d < hd; d++) { s += qs[d] * kc[kb + d]; }
    }
    red[li] = s;
    workgroupBarrier();
    let mNew = max(m, reduce(li, true));
    let corr = exp(m - mNew);
    let e = select(0.0, exp(s - mNew), j < nKeys);
    sc[li] = e;
    red[li] = e;
    workgroupBarrier();
    l = l * corr + reduce(li, false);
    let n = min(WG, nKeys - c0);
    for (var k = 0u; k < 4u; k++) {
      let d = li + k * WG;
      if (d < hd) {
        var a = acc[k] * corr;
        for (var jj = 0u; jj < n; jj++) { a += sc[jj] * vc[kvBase + (c0 + jj) * p.kvDim + d]; }
        acc[k] = a;
      }
    }
    m = mNew;
    workgroupBarrier(); // sc is rewritten by the next chunk
  }
  for (var k = 0u; k < 4u; k++) {
    let d = li + k * WG;
    if (d < hd) { out[qBase + d] = acc[k] / l; }
  }
}
