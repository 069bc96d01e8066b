// Small linear layer with fused activation, for the time-embedding MLP (shaders/diffusion/linear.wgsl).
import code from '../../../shaders/diffusion/linear.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { linearReference } from './misc-ref';
import { ACT_CODE, type Act } from './norm-ref';

export const reference = linearReference;

/** Encode y = act(W x + b) for `batch` rows; returns a pooled buffer [batch, nOut]. */
export function linear(gpu: Gpu, x: GPUBuffer, w: GPUBuffer, b: GPUBuffer, nIn: number, nOut: number, batch: number, act: Act): GPUBuffer {
  if (nOut > gpu.device.limits.maxComputeWorkgroupsPerDimension) throw new Error(`linear: ${nOut} outputs exceed the ${gpu.device.limits.maxComputeWorkgroupsPerDimension} workgroups of one dispatch dimension`);
  const y = gpu.alloc(batch * nOut * 4, 'linear.out'); // [batch, nOut]
  gpu.run(
    { code, file: 'shaders/diffusion/linear.wgsl', constants: { ACT: ACT_CODE[act] } },
    new Uint32Array([nIn, nOut, batch, 0]),
    [x, w, b, y],
    [nOut, batch], // a workgroup per output
  );
  return y;
}
