// Plain-TS reference of the halo-padded conv2d (used by the CPU forward and by the kernel tests).
//
// Rows are "valid": the input tile already holds the halo rows a patch needs (rows
// [r0 - radius, r1 + radius) of the layer input, zeros outside the image), so no row padding is
// applied here. Columns are 'same'-padded with zeros (padW), because patches split rows only.

export interface Conv2dShape {
  cin: number;
  cout: number;
  inRows: number; // rows of the (halo-padded) input tile
  width: number; // input width
  k: number; // square kernel size
  stride: number; // 1 or 2 (applies to rows and columns)
  padW: number; // zero padding on the left/right columns
}

export function conv2dOutSize(s: Conv2dShape): { outRows: number; outW: number } {
  return {
    outRows: Math.floor((s.inRows - s.k) / s.stride) + 1,
    outW: Math.floor((s.width + 2 * s.padW - s.k) / s.stride) + 1,
  };
}

/** out[co, oy, ox] = b[co] + sum w[co,ci,ky,kx] * in[ci, oy*s+ky, ox*s+kx-padW]. */
export function conv2dReference(
  input: Float32Array, // [cin, inRows, width]
  weight: Float32Array, // [cout, cin, k, k]
  bias: Float32Array, // [cout]
  s: Conv2dShape,
): Float32Array {
  const { outRows, outW } = conv2dOutSize(s);
  const { cin, cout, inRows, width: W, k, stride } = s;
  const out = new Float32Array(cout * outRows * outW); // [cout, outRows, outW]
  // loop order (co, oy, ci, ky, kx, ox): the innermost loop is a contiguous axpy over output
  // columns, with the valid ox range for this kx computed once instead of a test per tap
  for (let co = 0; co < cout; co++) {
    for (let oy = 0; oy < outRows; oy++) {
      const oBase = (co * outRows + oy) * outW;
      out.fill(bias[co], oBase, oBase + outW);
      for (let ci = 0; ci < cin; ci++) {
        for (let ky = 0; ky < k; ky++) {
          const rowBase = (ci * inRows + oy * stride + ky) * W;
          const wBase = ((co * cin + ci) * k + ky) * k;
          for (let kx = 0; kx < k; kx++) {
            const wv = weight[wBase + kx];
            const off = kx - s.padW; // ix = ox*stride + off must lie in [0, W)
            const oxLo = Math.max(0, Math.ceil(-off / stride));
            const oxHi = Math.min(outW, Math.floor((W - 1 - off) / stride) + 1);
            for (let ox = oxLo; ox < oxHi; ox++) out[oBase + ox] += wv * input[rowBase + ox * stride + off];
          }
        }
      }
    }
  }
  return out;
}
