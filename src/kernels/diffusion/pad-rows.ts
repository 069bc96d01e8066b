// Halo-padded conv input tiles (shaders/diffusion/pad_rows.wgsl): zero halo rows for one device or
// the image edge, neighbour rows from a halo buffer for a patch.
import code from '../../../shaders/diffusion/pad_rows.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export interface PadRowsShape {
  channels: number;
  rows: number; // middle (local) rows
  width: number;
  top: number; // halo rows above
  bottom: number; // halo rows below
}

/**
 * dst [C, top+rows+bottom, W]: middle = src [C, rows, W] (or `dstIn`'s middle when src is null),
 * halo rows from halo [C, top+bottom, W] (top first) or zero when halo is null.
 */
export function reference(src: Float32Array | null, halo: Float32Array | null, s: PadRowsShape, dstIn?: Float32Array): Float32Array {
  const { channels: C, rows, width: W, top, bottom } = s;
  const R = top + rows + bottom;
  const dst = dstIn ? dstIn.slice() : new Float32Array(C * R * W); // [C, R, W]
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < R; r++) {
      for (let w = 0; w < W; w++) {
        const o = (c * R + r) * W + w;
        if (r >= top && r < top + rows) {
          if (src) dst[o] = src[(c * rows + r - top) * W + w];
        } else {
          const hr = r < top ? r : r - rows;
          dst[o] = halo ? halo[(c * (top + bottom) + hr) * W + w] : 0;
        }
      }
    }
  }
  return dst;
}

/**
 * Encode into `dst` [C, top+rows+bottom, W]. src null: the middle rows are already in dst (written in
 * place, e.g. by norm_apply with outRowOffset = top) and only the halo rows are written.
 */
export function padRowsInto(gpu: Gpu, src: GPUBuffer | null, halo: GPUBuffer | null, dst: GPUBuffer, s: PadRowsShape): void {
  const R = s.top + s.rows + s.bottom;
  gpu.run(
    { code, file: 'shaders/diffusion/pad_rows.wgsl', constants: { HALO: halo ? 1 : 0, MID: src ? 1 : 0 } },
    new Uint32Array([s.channels, s.rows, s.width, s.top, s.bottom]),
    [src ?? spare(gpu), halo ?? spare(gpu), dst],
    [Math.ceil((R * s.width) / 64), s.channels],
  );
}

// A read-only binding may not alias the read_write dst in one dispatch: bind a small spare buffer
// where src or halo is absent (the shader never reads it under those overrides).
const spares = new WeakMap<Gpu, GPUBuffer>();
function spare(gpu: Gpu): GPUBuffer {
  let b = spares.get(gpu);
  if (!b) {
    b = gpu.upload(new Float32Array(4), 'pad_rows.unused'); // [4]
    spares.set(gpu, b);
  }
  return b;
}

/** Allocate and fill a padded tile; returns a pooled buffer [C, top+rows+bottom, W]. */
export function padRows(gpu: Gpu, src: GPUBuffer, halo: GPUBuffer | null, s: PadRowsShape): GPUBuffer {
  const dst = gpu.alloc(s.channels * (s.top + s.rows + s.bottom) * s.width * 4, 'pad_rows.out'); // [C, R, W]
  padRowsInto(gpu, src, halo, dst, s);
  return dst;
}
