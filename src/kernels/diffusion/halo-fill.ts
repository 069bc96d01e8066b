// A DistriFusion conv tile's halo rows (and, in async steps, this patch's boundary rows into its send
// segment) in one dispatch (shaders/diffusion/halo_fill.wgsl); see the shader for the layouts.
import code from '../../../shaders/diffusion/halo_fill.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';

export interface HaloFillShape {
  C: number;
  W: number;
  rows: number; // the patch's rows: the tile is [C, rows + 2, W]
  top: number | null; // float offset in src of the previous peer's last row [C, W]; null: zero halo (image edge)
  bottom: number | null; // float offset in src of the next peer's first row [C, W]; null: zero halo
  mineOff: number; // float offset in send of this patch's boundary segment [mineRows, C, W] (send only)
  mineRows: 1 | 2;
}

const NONE = 0xffffffff;

/** The tile and send buffer after the kernel (modified copies; send null: not written). */
export function reference(src: Float32Array, tile: Float32Array, send: Float32Array | null, s: HaloFillShape): { tile: Float32Array; send: Float32Array | null } {
  const t = tile.slice(); // [C, rows+2, W]
  const o = send?.slice() ?? null; // send's layout: [.., mineOff + mineRows C W ..]
  const plane = (s.rows + 2) * s.W;
  for (let c = 0; c < s.C; c++) {
    for (let x = 0; x < s.W; x++) {
      t[c * plane + x] = s.top === null ? 0 : src[s.top + c * s.W + x];
      t[c * plane + (s.rows + 1) * s.W + x] = s.bottom === null ? 0 : src[s.bottom + c * s.W + x];
      if (!o) continue;
      o[s.mineOff + c * s.W + x] = t[c * plane + s.W + x];
      if (s.mineRows === 2) o[s.mineOff + (s.C + c) * s.W + x] = t[c * plane + s.rows * s.W + x];
    }
  }
  return { tile: t, send: o };
}

/** Encode the fill; with `send`, also this patch's boundary rows into it (three different buffers). */
export function haloFill(gpu: Gpu, src: GPUBuffer, tile: GPUBuffer, send: GPUBuffer | null, s: HaloFillShape): void {
  if (src === tile || send === tile || send === src) throw new Error('halo_fill: src, tile and send must be different buffers');
  if (s.mineRows === 2 && s.rows < 2) throw new Error(`halo_fill: ${s.rows} row(s) have one boundary row, not 2`);
  gpu.run(
    { code, file: 'shaders/diffusion/halo_fill.wgsl', entryPoint: send ? 'fill_send' : 'fill' },
    new Uint32Array([s.C, s.W, s.rows, s.top ?? NONE, s.bottom ?? NONE, s.mineOff, s.mineRows, 0]),
    send ? [src, tile, send] : [src, tile],
    [Math.ceil(s.W / 64), s.C],
  );
}
