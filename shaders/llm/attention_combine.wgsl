// Merges the per-chunk partials of attention_split.wgsl into the attention output: for row b, head h,
// M = max_c m_c, L = sum_c l_c exp(m_c - M), out = (sum_c acc_c exp(m_c - M)) / L. Rows whose keys fit
// one chunk were finished by the split kernel and are skipped. Chunk lane cl takes chunks cl, cl + nLanes,
// ... with its own running max (one pass over the partials, loads independent of the running values);
// the lanes are then merged in order, so the result does not depend on the batch.
//
// Bindings: 0 uniform Params: the same struct and values as the attention_split.wgsl dispatch; cvb is the
//             vec4s of a head each workgroup covers (divides hd4; 8 or fewer so each vec4 gets >= 32 lanes)
//           1 rows: array<u32> [B, 2] = (first cache row, position); read iff useRows = 1, else pos = p.pos
//           2 pacc: array<vec4<f32>> [B, nHeads, nct, headDim]
//           3 pml: array<vec2<f32>> [B, nHeads, nct] (max, sum)
//           4 out: array<vec4<f32>> [B, nHeads*headDim]
//           5 outq: array<u32> [n/4 + n/32], n = B*nHeads*headDim (main_q8 only): out quantized for the q8_0
//             decode GEMV of wo, as shaders/gemm/quantize_q8.wgsl writes it (saves that kernel's dispatch)
// Dispatch: one workgroup of WG threads per (b, h, vec4 block), id = wg.x + wg.y * num_workgroups.x =
//           (b * nHeads + h) * (hd4 / cvb) + block. Thread li: chunk lane li / cvb, vec4 block*cvb + li % cvb.
//           main_q8 needs cvb = 8 (a workgroup's 8 vec4s are one 32-value block) and is dispatched even when
//           the split kernel finished every row (one chunk): it then quantizes what that kernel wrote.

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

var<workgroup> rm: array<f32, WG>; // per-lane running max
var<workgroup> rl: array<f32, WG>; // per-lane sum of exp
var<workgroup> racc: array<vec4<f32>, WG>; // per-lane partial outputs
var<workgroup> amaxS: array<f32, 8>; // main_q8: the block's 8 vec4 maxima

// The merged vec4 of thread li < cvb (its vec4 v of head row id, over nUsed > 1 chunks); other threads
// return zeros. Call from workgroup-uniform control flow (it has a barrier).
fn merge(li: u32, id: u32, v: u32, nUsed: u32) -> vec4<f32> {
  let base = id * p.nct; // first chunk of (b, h)
  let nLanes = WG / p.cvb;
  let lane = li / p.cvb;
  var m = NEG;
  var l = 0.0;
  var a = vec4<f32>(0.0);
  if (lane < nLanes) {
    for (var c = lane; c < nUsed; c += nLanes) {
      let ml = pml[base + c];
      let x = pacc[(base + c) * p.hd4 + v];
      let mNew = max(m, ml.x);
      let sc = exp(m - mNew);
      let w = exp(ml.x - mNew);
      a = a * sc + x * w;
      l = l * sc + ml.y * w;
      m = mNew;
    }
  }
  rm[li] = m;
  rl[li] = l;
  racc[li] = a;
  workgroupBarrier();
  if (li >= p.cvb) { return vec4<f32>(0.0); }
  var M = NEG;
  for (var k = 0u; k < nLanes; k++) { M = max(M, rm[k * p.cvb + li]); }
  var t = vec4<f32>(0.0);
  var L = 0.0;
  for (var k = 0u; k < nLanes; k++) {
    let w = exp(rm[k * p.cvb + li] - M);
    t += racc[k * p.cvb + li] * w;
    L += rl[k * p.cvb + li] * w;
  }
  return t / L;
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
        @builtin(local_invocation_index) li: u32) {
  let blocks = p.hd4 / p.cvb;
  let wid = wg.x + wg.y * nwg.x;
  let id = wid / blocks; // b * nHeads + h
  if (id >= p.B * p.nHeads) { return; } // workgroup-uniform
  let nUsed = usedChunks(id / p.nHeads);
  if (nUsed <= 1u) { return; } // written by the split kernel
  let v = (wid % blocks) * p.cvb + li % p.cvb; // vec4 index inside the head
  let r = merge(li, id, v, nUsed);
  if (li < p.cvb) { out[id * p.hd4 + v] = r; }
}

// main, then the block's 8 vec4s quantized with quantize_q8.wgsl's operations (the same bits as that kernel
// on this out; WGSL has no includes). cvb = 8: the workgroup's vec4s are one 32-value block of out.
@compute @workgroup_size(WG)
fn main_q8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let blocks = p.hd4 / 8u;
  let wid = wg.x + wg.y * nwg.x;
  let id = wid / blocks; // b * nHeads + h
  if (id >= p.B * p.nHeads) { return; } // workgroup-uniform
  let nUsed = usedChunks(id / p.nHeads);
  let v = (wid % blocks) * 8u + li % 8u; // vec4 index inside the head
  let o = id * p.hd4 + v; // vec4 index into out
  var r = vec4<f32>(0.0);
  if (nUsed > 1u) { // workgroup-uniform
    r = merge(li, id, v, nUsed);
    if (li < 8u) { out[o] = r; }
  } else if (li < 8u) {
    r = out[o]; // the split kernel's result
  }
  let a = abs(r);
  if (li < 8u) { amaxS[li] = max(max(a.x, a.y), max(a.z, a.w)); }
  workgroupBarrier();
  if (li >= 8u) { return; }
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) { amax = max(amax, amaxS[i]); }
  let d = amax / 127.0;
  let inv = select(0.0, 1.0 / d, d > 0.0);
  let s = r * inv;
  let q = clamp(sign(s) * floor(abs(s) + 0.5), vec4<f32>(-127.0), vec4<f32>(127.0));
  let u = bitcast<vec4<u32>>(vec4<i32>(q)) & vec4<u32>(0xffu); // pack4xI8 by hand (no language feature needed)
  outq[o] = u.x | (u.y << 8u) | (u.z << 16u) | (u.w << 24u);
  if (li == 0u) { outq[p.B * p.nHeads * p.hd4 + o / 8u] = bitcast<u32>(d); }
}
