// Norm apply + affine + activation + per-channel add into a (halo-padded) output tile
// (shaders/diffusion/norm_apply.wgsl).
import code from '../../../shaders/diffusion/norm_apply.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { ACT_CODE, normApplyReference, type NormApplyShape } from './norm-ref';

export { meanRstd, type NormApplyShape } from './norm-ref';
export const reference = normApplyReference;
const FILE = 'shaders/diffusion/norm_apply.wgsl';
const AFFINE_CODE = { none: 0, channel: 1, element: 2 } as const;

/**
 * Encode the apply. `out` is [C, outRows, W] (rows outRowOffset..+rows written); gamma/beta/chanAdd
 * may be null, in which case `dummy` (any small buffer) is bound in their place.
 */
export function normApply(
  gpu: Gpu,
  x: GPUBuffer, // [C, rows, W]
  meanRstd: GPUBuffer, // [groups, 2]
  gamma: GPUBuffer | null,
  beta: GPUBuffer | null,
  chanAdd: GPUBuffer | null, // [C]
  out: GPUBuffer,
  s: NormApplyShape,
): void {
  const kernel = {
    code,
    file: FILE,
    constants: { AFFINE: AFFINE_CODE[s.affine], ACT: ACT_CODE[s.act], ADD: chanAdd ? 1 : 0 },
  };
  const params = new Uint32Array([s.channels, s.rows, s.width, s.groups, s.fullHeight, s.rowStart, s.outRowOffset, s.outRows]);
  const dummy = meanRstd; // any bound buffer: the shader reads it only when the matching override is on
  gpu.run(kernel, params, [x, meanRstd, gamma ?? dummy, beta ?? dummy, chanAdd ?? dummy, out], [Math.ceil((s.rows * s.width) / 64), s.channels]);
}
