// Splits the fused q|k|v projection of T token rows and finishes it in one dispatch: RoPE on q and k
// (llama.cpp "normal" mode: adjacent pairs (x[2i], x[2i+1]) of each head rotate by pos * theta^(-2i/headDim)),
// q to its own buffer, rotated k and plain v straight into their KV-cache rows. Replaces two rope
// dispatches and two cache copies per layer (a copy also ends the shared compute pass).
// Same table and arithmetic as rope.wgsl / rope_batch.wgsl, so rows rotate to the same bits.
// Bindings: 0 uniform Params {T, qDim, kvDim, headDim}
//           1 qkv: array<f32> [T, qDim + 2*kvDim]   row t = [q_t | k_t | v_t] (one GEMV over concatenated weights)
//           2 tab: array<f32> [maxSeqLen, headDim/2, 2] = (cos, sin) per position and pair (see rope.wgsl)
//           3 rows: array<u32> [T, 2] = (first cache row of the row's sequence, position of the row)
//           4 q: array<f32> [T, qDim] rotated queries
//           5 kc: array<f32> K cache [cacheRows, kvDim]: row base+pos gets the rotated key
//           6 vc: array<f32> V cache [cacheRows, kvDim]: row base+pos gets the value
// Dispatch: ceil(T*(qDim+2*kvDim)/2 / 256) workgroups of 256 (one thread per pair; 2-D grid if large).

struct Params { T: u32, qDim: u32, kvDim: u32, headDim: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<f32>;
@group(0) @binding(3) var<storage, read> rows: array<u32>;
@group(0) @binding(4) var<storage, read_write> q: array<f32>;
@group(0) @binding(5) var<storage, read_write> kc: array<f32>;
@group(0) @binding(6) var<storage, read_write> vc: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = (wg.x + wg.y * nwg.x) * 256u + li; // pair index over [T, (qDim + 2*kvDim)/2]
  let width = p.qDim + 2u * p.kvDim;
  let rowPairs = width / 2u;
  if (g >= p.T * rowPairs) { return; }
  let t = g / rowPairs;
  let e = 2u * (g % rowPairs); // first element of the pair within the row
  let src = t * width + e;
  let a = qkv[src];
  let b = qkv[src + 1u];
  let cacheRow = rows[2u * t] + rows[2u * t + 1u];
  if (e >= p.qDim + p.kvDim) { // value: stored as is
    let o = cacheRow * p.kvDim + (e - p.qDim - p.kvDim);
    vc[o] = a;
    vc[o + 1u] = b;
    return;
  }
  let half = p.headDim / 2u;
  let i = (e % p.headDim) / 2u; // pair index within the head (qDim is a multiple of headDim)
  let ti = (rows[2u * t + 1u] * half + i) * 2u;
  let c = tab[ti];
  let s = tab[ti + 1u];
  let ra = a * c - b * s;
  let rb = a * s + b * c;
  if (e < p.qDim) {
    q[t * p.qDim + e] = ra;
    q[t * p.qDim + e + 1u] = rb;
  } else {
    let o = cacheRow * p.kvDim + (e - p.qDim);
    kc[o] = ra;
    kc[o + 1u] = rb;
  }
}
