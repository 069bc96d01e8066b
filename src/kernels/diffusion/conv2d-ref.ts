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
  for (let co = 0; co < cout; co++) {
    for (let oy = 0; oy < outRows; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let acc = bias[co];
        for (let ci = 0; ci < cin; ci++) {
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride + ky;
            const rowBase = (ci * inRows + iy) * W;
            const wBase = ((co * cin + ci) * k + ky) * k;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * stride + kx - s.padW;
              if (ix < 0 || ix >= W) continue;
              acc += weight[wBase + kx] * input[rowBase + ix];
            }
          }
        }
        out[(co * outRows + oy) * outW + ox] = acc;
      }
    }
  }
  return out;
}
