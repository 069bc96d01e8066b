// Merges the per-chunk partials of attention_split.wgsl into the attention output: for row b, head h,
// M = max_c m_c, L = sum_c l_c exp(m_c - M), out = (sum_c acc_c exp(m_c - M)) / L. Rows whose keys fit
// one chunk were finished by the split kernel and are skipped. Each subgroup merges one vec4 of the head
// at a time: lane i takes chunks i, i + sgs, ... with its own running max (loads independent of the
// running values), then an xor butterfly merges the lanes (every lane ends with the same bits: each
// merge is symmetric in its two operands). No workgroup barrier in main: the serial merge of 32 chunk
// lanes behind a barrier that this replaces cost ~2.5 us of the kernel's ~6 on an H200.
// The order depends only on the row's own chunks and the adapter's subgroup size, so a row gives the
// same bits alone or in a batch.
//
// Bindings: 0 uniform Params: the same struct and values as the attention_split.wgsl dispatch; cvb is the
//             vec4s of a head each workgroup covers (divides hd4; 8 or fewer)
//           1 rows: array<u32> [B, 2] = (first cache row, position); read iff useRows = 1, else pos = p.pos
//           2 pacc: array<vec4<f32>> [B, nHeads, nct, headDim]
//           3 pml: array<vec2<f32>> [B, nHeads, nct] (max, sum)
//           4 out: array<vec4<f32>> [B, nHeads*headDim]
//           5 outq: array<u32> [n/4 + n/32], n = B*nHeads*headDim (main_q8 only): out quantized for the q8_0
//             decode GEMV of wo, as shaders/gemm/quantize_q8.wgsl writes it (saves that kernel's dispatch)
// Dispatch: one workgroup of WG threads per (b, h, vec4 block), id = wg.x + wg.y * num_workgroups.x =
//           (b * nHeads + h) * (hd4 / cvb) + block. Subgroup si (an atomic hands out the indices) merges
//           vec4s block*cvb + si, + WG/sgs, ... of the block.
//           main_q8 needs cvb = 8 (a workgroup's 8 vec4s are one 32-value block) and is dispatched even when
//           the split kernel finished every row (one chunk): it then quantizes what that kernel wrote.

enable subgroups;
// The merge loop runs per subgroup index si, the same in every lane of a subgroup (subgroupBroadcast),
// which the uniformity analysis cannot prove subgroup-uniform.
diagnostic(off, subgroup_uniformity);

const WG: u32 = 256u;
const NEG: f32 = -3.0e38;

struct Params {
  B: u32, nHeads: u32, hd4: u32, kvDim4: u32, nKv: u32, nct: u32, minChunk: u32, layerOff4: u32,
  pos: u32, useRows: u32, scale: f32, nch: u32, cvb: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> pacc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> pml: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> outq: array<u32>;

var<workgroup> sgCtr: atomic<u32>; // hands each subgroup its index (no layout assumption)
var<workgroup> rv: array<vec4<f32>, 8>; // main_q8: the block's 8 merged vec4s
var<workgroup> amaxS: array<f32, 8>; // main_q8: the block's 8 vec4 maxima

/** This subgroup's index in the workgroup. */
fn subgroupIndex(sid: u32) -> u32 {
  var si = 0u;
  if (sid == 0u) { si = atomicAdd(&sgCtr, 1u); }
  return subgroupBroadcast(si, 0u);
}

/** The merged vec4 v of head row id over its nUsed > 1 chunks, in every lane of the calling subgroup. */
fn merge(sid: u32, sgs: u32, id: u32, v: u32, nUsed: u32) -> vec4<f32> {
  let base = id * p.nct; // first chunk of (b, h)
  var m = NEG;
  var l = 0.0;
  var a = vec4<f32>(0.0);
  for (var c = sid; c < nUsed; c += sgs) {
    let ml = pml[base + c];
    let x = pacc[(base + c) * p.hd4 + v];
    let mNew = max(m, ml.x);
    let sc = exp(m - mNew);
    let w = exp(ml.x - mNew);
    a = a * sc + x * w;
    l = l * sc + ml.y * w;
    m = mNew;
  }
  for (var o = sgs / 2u; o > 0u; o >>= 1u) {
    let m2 = subgroupShuffleXor(m, o);
    let l2 = subgroupShuffleXor(l, o);
    let a2 = subgroupShuffleXor(a, o);
    let mNew = max(m, m2);
    let w1 = exp(m - mNew);
    let w2 = exp(m2 - mNew);
    a = a * w1 + a2 * w2;
    l = l * w1 + l2 * w2;
    m = mNew;
  }
  return a / l;
}

// Chunks of row b's keys (the same as chunkLen() of the split kernel), with its position.
fn usedChunks(b: u32) -> u32 {
  var pos = p.pos;
  if (p.useRows == 1u) { pos = rows[2u * b + 1u]; }
  let nKeys = pos + 1u;
  let cl = max(p.minChunk, (nKeys + p.nct - 1u) / p.nct);
  return (nKeys + cl - 1u) / cl;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) sgs: u32) {
  let blocks = p.hd4 / p.cvb;
  let wid = wg.x + wg.y * nwg.x;
  let id = wid / blocks; // b * nHeads + h
  if (id >= p.B * p.nHeads) { return; } // workgroup-uniform
  let nUsed = usedChunks(id / p.nHeads);
  if (nUsed <= 1u) { return; } // written by the split kernel
  for (var j = subgroupIndex(sid); j < p.cvb; j += WG / sgs) {
    let v = (wid % blocks) * p.cvb + j; // vec4 index inside the head
    let r = merge(sid, sgs, id, v, nUsed);
    if (sid == 0u) { out[id * p.hd4 + v] = r; }
  }
}

// main, then the block's 8 vec4s quantized with quantize_q8.wgsl's operations (the same bits as that kernel
// on this out; WGSL has no includes). cvb = 8: the workgroup's vec4s are one 32-value block of out.
@compute @workgroup_size(WG)
fn main_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) sid: u32,
           @builtin(subgroup_size) sgs: u32) {
  let blocks = p.hd4 / 8u;
  let wid = wg.x + wg.y * nwg.x;
  let id = wid / blocks; // b * nHeads + h
  if (id >= p.B * p.nHeads) { return; } // workgroup-uniform
  let nUsed = usedChunks(id / p.nHeads);
  let o0 = id * p.hd4 + (wid % blocks) * 8u; // vec4 index into out of the block's first vec4
  if (nUsed > 1u) { // workgroup-uniform
    for (var j = subgroupIndex(sid); j < 8u; j += WG / sgs) {
      let r = merge(sid, sgs, id, (wid % blocks) * 8u + j, nUsed);
      if (sid == 0u) { out[o0 + j] = r; rv[j] = r; }
    }
  } else if (li < 8u) {
    rv[li] = out[o0 + li]; // the split kernel's result
  }
  workgroupBarrier();
  var r = vec4<f32>(0.0);
  if (li < 8u) {
    r = rv[li];
    let a = abs(r);
    amaxS[li] = max(max(a.x, a.y), max(a.z, a.w));
  }
  workgroupBarrier();
  if (li >= 8u) { return; }
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) { amax = max(amax, amaxS[i]); }
  let d = amax / 127.0;
  let inv = select(0.0, 1.0 / d, d > 0.0);
  let s = r * inv;
  let q = clamp(sign(s) * floor(abs(s) + 0.5), vec4<f32>(-127.0), vec4<f32>(127.0));
  let u = bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu); // pack4xI8 by hand (no language feature needed)
  let o = o0 + li;
  outq[o] = u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u);
  if (li == 0u) { outq[p.B * p.nHeads * p.hd4 + o / 8u] = bitcast<u32>(d); }
}
