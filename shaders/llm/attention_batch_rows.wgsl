// Batched decode attention for CPU-backed adapters: one thread per (row b, head h), no workgroup memory
// or barriers (see matvec_rows.wgsl for why). Row b is one token at position rows[b].pos of the sequence
// whose cache rows start at rows[b].base; it sees cache rows base..base+pos inclusive. Same two-pass
// loop and arithmetic order as attention_rows.wgsl, so a row gives the same bits as a single-sequence
// decode of that token. GQA: local query head h reads kv head kvmap[h].
//
// Bindings: 0 uniform Params {B, nHeads, headDim, kvDim, scale}
//           1 q: array<f32> [B, nHeads*headDim] (already rotated)
//           2 kc: array<f32> K cache of one layer [maxSlots*maxSeqLen, kvDim]
//           3 vc: array<f32> V cache, same layout
//           4 kvmap: array<u32> [nHeads]
//           5 rows: array<u32> [B, 2] = (first cache row of the row's slot, position of the token)
//           6 out: array<f32> [B, nHeads*headDim] (written; used as the accumulator)
// Dispatch: ceil(B*nHeads / WG) workgroups of WG threads; id = b * nHeads + h = global index.

override WG: u32 = 64u;
const NEG: f32 = -3.0e38;

struct Params { B: u32, nHeads: u32, headDim: u32, kvDim: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read> kvmap: array<u32>;
@group(0) @binding(5) var<storage, read> rows: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

fn score(qBase: u32, kb: u32) -> f32 {
  var s = 0.0;
  for (var d = 0u; d < p.headDim; d++) { s += q[qBase + d] * kc[kb + d]; }
  return s * p.scale;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let id = (wg.x + wg.y * nwg.x) * WG + li;
  if (id >= p.B * p.nHeads) { return; }
  let b = id / p.nHeads;
  let h = id % p.nHeads;
  let hd = p.headDim;
  let kvBase = rows[2u * b] * p.kvDim + kvmap[h] * hd;
  let qBase = id * hd; // (b * nHeads + h) * hd
  let nKeys = rows[2u * b + 1u] + 1u;
  var m = NEG;
  for (var j = 0u; j < nKeys; j++) { m = max(m, score(qBase, kvBase + j * p.kvDim)); }
  for (var d = 0u; d < hd; d++) { out[qBase + d] = 0.0; }
  var l = 0.0;
  for (var j = 0u; j < nKeys; j++) {
    let e = exp(score(qBase, kvBase + j * p.kvDim) - m);
    l += e;
    let vb = kvBase + j * p.kvDim;
    for (var d = 0u; d < hd; d++) { out[qBase + d] += e * vc[vb + d]; }
  }
  for (var d = 0u; d < hd; d++) { out[qBase + d] /= l; }
}
