// Activation quantization for the q8_0 decode GEMV (shaders/gemm/quantize_q8.wgsl): x [K] -> int8 quants and one
// f32 scale per 32 values, ggml's quantize_row_q8_0, in one buffer [K/4 quant words + K/32 scale words] that
// gemv_sg.wgsl (XQ) reads through its x binding. Why: see the shader header.
import code from '../../shaders/gemm/quantize_q8.wgsl?raw';
import type { Gpu } from '../gpu/gpu';

/** Words of the quantized form of x [K]: K/4 quant words, then K/32 scales. */
export function quantizedWords(K: number): number {
  return K / 4 + K / 32;
}

/** CPU reference: quants [K] (int8) and scales [K/32] (f32-rounded), the kernel's rule computed in f64. The
 * GPU's 1/d may differ in its last bit (WGSL allows 2.5 ulp), so a quant may differ by one at a rounding tie. */
export function reference(x: Float32Array): { q: Int8Array; d: Float32Array } {
  const K = x.length;
  const q = new Int8Array(K); // [K]
  const d = new Float32Array(K / 32); // [K/32]
  for (let b = 0; b < K / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]));
    d[b] = amax / 127;
    const id = d[b] > 0 ? 1 / d[b] : 0;
    for (let i = 0; i < 32; i++) {
      const v = x[b * 32 + i] * id;
      q[b * 32 + i] = Math.max(-127, Math.min(127, Math.sign(v) * Math.floor(Math.abs(v) + 0.5)));
    }
  }
  return { q, d };
}

/** Splits a read-back of the kernel's output [quantizedWords(K)] into quants [K] and scales [K/32]. */
export function unpackQuantized(words: ArrayBuffer, K: number): { q: Int8Array; d: Float32Array } {
  return { q: new Int8Array(words, 0, K), d: new Float32Array(words, K, K / 32) };
}

/** x as the int8 GEMV sees it: q * d per element [K]. */
export function dequantizeX(q: Int8Array, d: Float32Array): Float32Array {
  return Float32Array.from(q, (v, k) => v * d[k >> 5]); // [K]
}

/** Encodes the quantization of x [K] (K % 32 == 0) into `out` [quantizedWords(K)] u32. */
export function quantizeQ8(gpu: Gpu, x: GPUBuffer, out: GPUBuffer, K: number): void {
  if (K % 32 !== 0) throw new Error(`quantizeQ8: K % 32 != 0 (K=${K})`);
  gpu.run({ code, file: 'shaders/gemm/quantize_q8.wgsl' }, new Uint32Array([K, 0, 0, 0]), [x, out], [Math.ceil(K / 32 / 64), 1]);
}
