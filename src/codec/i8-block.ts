// int8 with one f32 scale per block of 64 values: the host codec of the compressed wire formats (DistriFusion's
// async exchange, commDtype 'i8'; the tensor-parallel prefill all-reduce, reduceWire 'i8'). A leaf module
// (imports nothing) so that collectives, parallel plans and the kernels' references share one definition.
// Layout of a run of n floats: ceil(n / 64) words of block absmax (f32 bits), then ceil(n / 4) words of four
// snorm bytes each, value 4w in the low byte of word w. A value is q = floor(0.5 + 127 * clamp(x / absmax, -1, 1))
// (WGSL's pack4x8snorm of x / absmax: shaders/diffusion/i8_pack.wgsl writes the same words, up to one level on
// a value at a rounding boundary) and decodes to max(q / 127, -1) * absmax (unpack4x8snorm * absmax):
// |x - decoded| <= absmax / 254. A block of zeros has absmax 0 and decodes to zeros. Finite values only
// (activations and partial sums).
// Why 64: a scale word then costs 1/16 of the values' bytes, and 64 consecutive values (a stretch of one
// channel's rows in a patch; a slice of one token's hidden vector in an all-reduce) share a magnitude.

export const I8_BLOCK = 64;

/** u32 words of the carrier of n floats: block maxima, then four values per word. */
export const i8Words = (n: number): number => Math.ceil(n / I8_BLOCK) + Math.ceil(n / 4);

const f32 = new Float32Array(1); // one f32 slot to take a float's bits
const f32Bits = new Uint32Array(f32.buffer);
/** A value byte's level: max(q / 127, -1) as f32 (unpack4x8snorm), q the byte as a signed integer. */
const LEVELS = Float32Array.from({ length: 256 }, (_, b) => Math.max(-1, (b > 127 ? b - 256 : b) / 127)); // [256]

// Bytes are written and read through byte views of the words: value 4w + k is byte k of word w on a
// little-endian host, which every browser and Node platform is (WGSL reads the same u32 words).

/** dst words [dstBase, +i8Words(count)) = the carrier of src [srcBase, +count). The scale 127 / absmax is taken
 *  once per block (the shader divides each value by absmax in f32): the two can differ by one level on a value
 *  within an ulp of a rounding boundary, which every consumer's tolerance allows. */
export function encodeI8(src: Float32Array, srcBase: number, count: number, dst: Uint32Array, dstBase: number): void {
  const nb = Math.ceil(count / I8_BLOCK);
  const bytes = new Int8Array(dst.buffer, dst.byteOffset + 4 * (dstBase + nb), 4 * Math.ceil(count / 4)); // [4 * ceil(count/4)]
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
    const inv = m > 0 ? 127 / m : 0;
    for (let i = lo, j = lo - srcBase; i < hi; i++, j++) {
      let v = src[i] * inv; // |v| <= 127 but for rounding
      if (v > 127) v = 127;
      else if (v < -127) v = -127;
      bytes[j] = Math.floor(v + 0.5); // pack4x8snorm's round half up
    }
  }
  for (let j = count; j < bytes.length; j++) bytes[j] = 0; // the last word's unused bytes
}

/** src [n] as a new carrier [i8Words(n)]. */
export function encodeI8Carrier(src: Float32Array): Uint32Array {
  const dst = new Uint32Array(i8Words(src.length)); // [nb + ceil(n/4)]
  encodeI8(src, 0, src.length, dst, 0);
  return dst;
}

/** dst [dstBase, +count) = the values of the carrier in src words [srcBase, +i8Words(count)). */
export function decodeI8(src: Uint32Array, srcBase: number, count: number, dst: Float32Array, dstBase: number): void {
  const nb = Math.ceil(count / I8_BLOCK);
  const maxima = new Float32Array(src.buffer, src.byteOffset + 4 * srcBase, nb); // [nb]
  const bytes = new Uint8Array(src.buffer, src.byteOffset + 4 * (srcBase + nb), count); // [count]
  for (let b = 0; b < nb; b++) {
    const m = maxima[b];
    const hi = Math.min(count, (b + 1) * I8_BLOCK);
    for (let i = b * I8_BLOCK; i < hi; i++) dst[dstBase + i] = LEVELS[bytes[i]] * m; // the f32 store rounds the exact product once, as the shader's f32 multiply
  }
}

/** The n values of a whole carrier src [i8Words(n)] as a new array [n]. */
export function decodeI8Carrier(src: Uint32Array, n: number): Float32Array {
  const out = new Float32Array(n); // [n]
  decodeI8(src, 0, n, out, 0);
  return out;
}
