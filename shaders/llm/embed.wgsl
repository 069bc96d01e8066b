// Embedding gather: out[t, :] = table[tokens[t], :], dequantized to f32.
// Bindings: 0 uniform Params {T, dim, scaleOff}
//           1 tokens: array<i32> [T]
//           2 table: array<u32> [vocab, dim] in the weight layout of matmul.wgsl (WTYPE 0 f32, 1 f16,
//             2 q8_0 repacked: int8 quants then f32 block scales at word scaleOff)
//           3 out: array<f32> [T, dim]
// Dispatch: ceil(T*dim / 256) workgroups of 256 (2-D grid when large). Out-of-range ids give zeros.

override WTYPE: u32 = 0u;

struct Params { T: u32, dim: u32, scaleOff: u32, vocab: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn loadW(n: u32, k: u32) -> f32 {
  let i = n * p.dim + k;
  if (WTYPE == 0u) {
    return bitcast<f32>(table[i]);
  }
  if (WTYPE == 1u) {
    let h = unpack2x16float(table[i >> 1u]);
    return select(h.x, h.y, (i & 1u) == 1u);
  }
  let q = extractBits(bitcast<i32>(table[i >> 2u]), (i & 3u) * 8u, 8u);
  return f32(q) * bitcast<f32>(table[p.scaleOff + (i >> 5u)]);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let g = (wg.x + wg.y * nwg.x) * 256u + li;
  if (g >= p.T * p.dim) { return; }
  let t = g / p.dim;
  let tok = tokens[t];
  if (tok < 0 || u32(tok) >= p.vocab) { out[g] = 0.0; return; }
  out[g] = loadW(u32(tok), g % p.dim);
}
