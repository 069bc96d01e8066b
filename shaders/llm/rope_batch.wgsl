// Rotary position embedding with one position per row (batched decode: every row is a different
// sequence at its own position), llama.cpp "normal" mode: within each head, adjacent pairs
// (x[2i], x[2i+1]) rotate by angle pos[t] * theta^(-2i/headDim). In place. Same table and arithmetic
// as rope.wgsl, so a row rotates to the same bits as a single-sequence decode.
// Bindings: 0 uniform Params {T, nHeads, headDim}
//           1 x: array<f32> [T, nHeads*headDim] (read-write)
//           2 tab: array<f32> [maxSeqLen, headDim/2, 2] = (cos, sin) per position and pair (see rope.wgsl)
//           3 pos: array<u32> [T] position of each row
// Dispatch: ceil(T*nHeads*headDim/2 / 256) workgroups of 256 (one thread per pair; 2-D grid if large).

struct Params { T: u32, nHeads: u32, headDim: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = (wg.x + wg.y * nwg.x) * 256u + li; // pair index over [T, nHeads, headDim/2]
  let half = p.headDim / 2u;
  let pairsPerTok = p.nHeads * half;
  if (g >= p.T * pairsPerTok) { return; }
  let t = g / pairsPerTok;
  let i = g % half; // pair index within the head
  let ti = (pos[t] * half + i) * 2u;
  let c = tab[ti];
  let s = tab[ti + 1u];
  let a = x[2u * g];
  let b = x[2u * g + 1u];
  x[2u * g] = a * c - b * s;
  x[2u * g + 1u] = a * s + b * c;
}
