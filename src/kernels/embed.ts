// Token embedding gather from an f32 / f16 / q8_0 table.
import wgsl from '../../shaders/llm/embed.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params, WTYPE, type GpuWeight } from './common';

/** CPU reference: rows tokens[t] of the dequantized table [vocab, dim] (zeros for out-of-range ids). */
export function reference(table: Float32Array, vocab: number, dim: number, tokens: Int32Array): Float32Array {
  const out = new Float32Array(tokens.length * dim); // [T, dim]
  tokens.forEach((tok, t) => {
    if (tok >= 0 && tok < vocab) out.set(table.subarray(tok * dim, (tok + 1) * dim), t * dim);
  });
  return out;
}

/** out [T, dim] = table[tokens] with tokens an i32 [T] buffer; table from uploadWeight(). */
export function embed(gpu: Gpu, tokens: GPUBuffer, table: GpuWeight, out: GPUBuffer, T: number): void {
  const dim = table.cols;
  gpu.run({ code: wgsl, file: 'shaders/llm/embed.wgsl', constants: { WTYPE: WTYPE[table.type] } },
    params(T, dim, table.scaleOff, table.rows), [tokens, table.buf, out], grid(Math.ceil((T * dim) / 256)));
}
