// Element-wise kernels of the Llama block: SwiGLU activation (in place, or over the fused gate|up rows) and the residual add.
import addWgsl from '../../shaders/llm/add.wgsl?raw';
import siluWgsl from '../../shaders/llm/silu_mul.wgsl?raw';
import swigluWgsl from '../../shaders/llm/swiglu.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params } from './common';

/** CPU reference of siluMul: silu(g) * u. */
export function siluMulReference(g: Float32Array, u: Float32Array): Float32Array {
  return g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]); // [n]
}

/** CPU reference of add: x + y. */
export function addReference(x: Float32Array, y: Float32Array): Float32Array {
  return x.map((v, i) => v + y[i]); // [n]
}

/** CPU reference of swiglu: gu [rows, 2*hid] (row = gate | up) -> silu(gate) * up [rows, hid], in f64. */
export function swigluReference(gu: Float32Array, rows: number, hid: number): Float32Array {
  const h = new Float32Array(rows * hid); // [rows, hid]
  for (let t = 0; t < rows; t++) {
    for (let j = 0; j < hid; j++) {
      const g = gu[t * 2 * hid + j];
      h[t * hid + j] = (g / (1 + Math.exp(-g))) * gu[t * 2 * hid + hid + j];
    }
  }
  return h;
}

/** One reference() per module as the kernel rule asks; here it is the three above. */
export const reference = { siluMul: siluMulReference, add: addReference, swiglu: swigluReference };

/** g [n] <- silu(g) * u [n]. */
export function siluMul(gpu: Gpu, g: GPUBuffer, u: GPUBuffer, n: number): void {
  gpu.run({ code: siluWgsl, file: 'shaders/llm/silu_mul.wgsl' }, params(n), [g, u], grid(Math.ceil(n / 256)));
}

/** x [n] <- x + y [n]. */
export function add(gpu: Gpu, x: GPUBuffer, y: GPUBuffer, n: number): void {
  gpu.run({ code: addWgsl, file: 'shaders/llm/add.wgsl' }, params(n), [x, y], grid(Math.ceil(n / 256)));
}

/**
 * h [rows, hid] = silu(gu[:, :hid]) * gu[:, hid:] for the fused gate|up projection gu [rows, 2*hid]. With `hq`
 * (hid % 32 == 0) h is also quantized into it as quantize_q8 would, for w_down's int8-x decode GEMV.
 */
export function swiglu(gpu: Gpu, gu: GPUBuffer, h: GPUBuffer, rows: number, hid: number, hq?: GPUBuffer): void {
  if (!hq) {
    gpu.run({ code: swigluWgsl, file: 'shaders/llm/swiglu.wgsl' }, params(rows, hid), [gu, h], grid(Math.ceil((rows * hid) / 256)));
    return;
  }
  if (hid % 32 !== 0) throw new Error(`swiglu: int8 output needs hid % 32 == 0 (hid ${hid})`);
  gpu.run({ code: swigluWgsl, file: 'shaders/llm/swiglu.wgsl', entryPoint: 'main_q8' }, params(rows, hid), [gu, h, hq],
    grid(Math.ceil((rows * hid) / 4 / 64)));
}
