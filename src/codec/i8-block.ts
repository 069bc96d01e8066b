// int8 with one f32 scale per block of 64 values: the host codec of the compressed wire formats (DistriFusion's
// async exchange, commDtype 'i8'; the tensor-parallel prefill all-reduce, reduceWire 'i8'). A leaf module
// (imports nothing) so that collectives, parallel plans and the kernels' references share one definition.
// Layout of a run of n floats: ceil(n / 64) words of block absmax (f32 bits), then ceil(n / 4) words of four
// snorm bytes each, value 4w in the low byte of word w. A value is q = floor(0.5 + 127 * clamp(x / absmax, -1, 1))
// (WGSL's pack4x8snorm of x / absmax, so shaders/diffusion/i8_pack.wgsl writes the same words) and decodes
// to max(q / 127, -1) * absmax (unpack4x8snorm * absmax): |x - decoded| <= absmax / 254. A block of zeros has
// absmax 0 and decodes to zeros. Finite values only (activations and partial sums).
// Why 64: a scale word then costs 1/16 of the values' bytes, and 64 consecutive values (a stretch of one
// channel's rows in a patch; a slice of one token's hidden vector in an all-reduce) share a magnitude.

export const I8_BLOCK = 64;

/** u32 words of the carrier of n floats: block maxima, then four values per word. */
export const i8Words = (n: number): number => Math.ceil(n / I8_BLOCK) + Math.ceil(n / 4);

const f32 = new Float32Array(1); // one f32 slot to take a float's bits
const f32Bits = new Uint32Array(f32.buffer);

/** dst words [dstBase, +i8Words(count)) = the carrier of src [srcBase, +count). f32 arithmetic as the shader's. */
export function encodeI8(src: Float32Array, srcBase: number, count: number, dst: Uint32Array, dstBase: number): void {
  const nb = Math.ceil(count / I8_BLOCK);
  for (let b = 0; b < nb; b++) {
    const lo = srcBase + b * I8_BLOCK;
    const hi = srcBase + Math.min(count, (b + 1) * I8_BLOCK);
    let m = 0;
    for (let i = lo; i < hi; i++) {
      const a = Math.abs(src[i]);
      if (a > m) m = a;
    }
    f32[0] = m;
    dst[dstBase + b] = f32Bits[0];
    for (let i = lo; i < hi; i += 4) {
      let word = 0;
      for (let k = 0; k < 4 && i + k < hi; k++) {
        const e = m > 0 ? Math.fround(src[i + k] / m) : 0;
        const q = Math.floor(Math.fround(0.5 + Math.fround(127 * Math.min(1, Math.max(-1, e))))); // pack4x8snorm
        word |= (q & 0xff) << (8 * k);
      }
      dst[dstBase + nb + ((i - srcBase) >> 2)] = word >>> 0;
    }
  }
}

/** dst [dstBase, +count) = the values of the carrier in src words [srcBase, +i8Words(count)). */
export function decodeI8(src: Uint32Array, srcBase: number, count: number, dst: Float32Array, dstBase: number): void {
  const nb = Math.ceil(count / I8_BLOCK);
  const maxima = new Float32Array(src.buffer, src.byteOffset + 4 * srcBase, nb); // [nb]
  const vals = srcBase + nb;
  for (let i = 0; i < count; i++) {
    const byte = (src[vals + (i >> 2)] >>> (8 * (i & 3))) & 0xff;
    const q = byte > 127 ? byte - 256 : byte;
    dst[dstBase + i] = Math.fround(Math.max(-1, Math.fround(q / 127)) * maxima[i >> 6]); // unpack4x8snorm * absmax
  }
}
