// CPU backend of the patch-parallel runner: the plain-TS reference ops over this peer's rows.
import { conv2dReference } from '../kernels/diffusion/conv2d-ref';
import { normApplyReference, normStatsReference } from '../kernels/diffusion/norm-ref';
import type { DdpmModel } from '../model/ddpm/config';
import { timeEmbedding } from '../model/ddpm/reference';

/** What the runner needs from a compute backend. T is the backend's tensor handle. */
export interface PatchBackend<T = unknown> {
  timeEmbedding(tIn: number): Promise<Float32Array>; // [16]
  /** conv of block over a halo-padded tile [cin, rows + 2R, W] -> [cout, rows, W] (kept on the backend). */
  conv(block: number, tile: Float32Array, rows: number): Promise<T>;
  /** Local [sum, sumsq] per group of a conv output. */
  stats(block: number, y: T, rows: number): Promise<Float64Array>;
  /** Norm apply + GELU (+ time embedding) -> this peer's rows of the next layer input [cout, rows, W]. */
  apply(block: number, y: T, meanRstd: Float32Array, rowStart: number, rows: number, temb: Float32Array): Promise<Float32Array>;
  /** The conv output of the last block (no norm) as [cout, rows, W]. */
  read(block: number, y: T, rows: number): Promise<Float32Array>;
  release?(y: T): void;
}

export function cpuPatchBackend(model: DdpmModel): PatchBackend<Float32Array> {
  const { width: W, height: H } = model.config;
  return {
    timeEmbedding: async (tIn) => timeEmbedding(model, tIn),
    conv: async (block, tile, rows) => {
      const { cin, cout, k } = model.blocks[block].spec;
      return conv2dReference(tile, model.blocks[block].convW, model.blocks[block].convB, {
        cin, cout, inRows: rows + k - 1, width: W, k, stride: 1, padW: (k - 1) / 2,
      }); // [cout, rows, W]
    },
    stats: async (block, y, rows) => normStatsReference(y, { channels: model.blocks[block].spec.cout, rows, width: W, groups: 1 }),
    apply: async (block, y, mr, rowStart, rows, temb) => {
      const b = model.blocks[block];
      return normApplyReference(y, mr, b.normW, b.normB, b.spec.addTime ? temb : null, {
        channels: b.spec.cout, rows, width: W, groups: 1, affine: 'element', fullHeight: H, rowStart,
        act: 'gelu', outRowOffset: 0, outRows: rows,
      }); // [cout, rows, W]
    },
    read: async (_block, y) => y,
  };
}
