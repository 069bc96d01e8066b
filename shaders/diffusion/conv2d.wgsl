// conv2d over a HALO-PADDED input tile (patch parallelism: the tile of a patch with rows [r0, r1)
// holds rows [r0 - R, r1 + R) of the layer input, so rows are never padded here ("valid" in rows)
// and the kernel never needs data from another peer). Columns are zero-padded by padW ('same').
// Any square kernel size, stride 1 or 2 (in both dims).
//
// Bindings: 0 Params (uniform), 1 input [cin, inRows, width], 2 weight [cout, cin, k, k] (OIHW),
//           3 bias [cout], 4 output [cout, outRows, outW].
// Dispatch: x = ceil(outRows * outW / 64), y = cout; one invocation per output element.
//   out[co, oy, ox] = bias[co] + sum_{ci,ky,kx} w[co,ci,ky,kx] * in[ci, oy*stride + ky, ox*stride + kx - padW]

struct Params {
  cin: u32,
  cout: u32,
  inRows: u32,
  width: u32,
  k: u32,
  stride: u32,
  padW: u32,
  outRows: u32,
  outW: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> wgt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> outp: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let pix = gid.x;
  let co = gid.y;
  if (pix >= p.outRows * p.outW || co >= p.cout) {
    return;
  }
  let oy = pix / p.outW;
  let ox = pix % p.outW;
  var acc = bias[co];
  for (var ci = 0u; ci < p.cin; ci++) {
    for (var ky = 0u; ky < p.k; ky++) {
      let iy = oy * p.stride + ky;
      let rowBase = (ci * p.inRows + iy) * p.width;
      let wBase = ((co * p.cin + ci) * p.k + ky) * p.k;
      for (var kx = 0u; kx < p.k; kx++) {
        // signed column: ox*stride + kx - padW may fall left of column 0 (zero padding)
        let ix = i32(ox * p.stride + kx) - i32(p.padW);
        if (ix >= 0 && ix < i32(p.width)) {
          acc += wgt[wBase + kx] * inp[rowBase + u32(ix)];
        }
      }
    }
  }
  outp[(co * p.outRows + oy) * p.outW + ox] = acc;
}
