// DistriFusion's async flat buffer on the wire, host side: f32 <-> IEEE half (binary16; commDtype 'f16', about
// half the bytes, no shader-f16 needed, the GPU still sees f32) and f32 <-> int8 with a scale per 64 values
// (commDtype 'i8', about half of f16's bytes; codec in src/codec/i8-block.ts, the reference of its shader too).
// Carriers travel as Float32Arrays of packed words so the collectives (which move raw bytes, never reading the
// values) carry them unchanged.
import { decodeI8, encodeI8, i8Words } from '../codec/i8-block';

const f16ToF32Table = (() => {
  const t = new Float32Array(65536); // [65536] every half's value, built once (256 KiB)
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24; // subnormal (and zero)
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Half bits of one float32 given as its bit pattern: round to nearest even, overflow to +-inf. */
function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  let m = x & 0x7fffff;
  if (e === 255) return sign | 0x7c00 | (m ? 0x200 : 0);
  const e16 = e - 112; // e - 127 + 15
  if (e16 >= 31) return sign | 0x7c00;
  if (e16 <= 0) {
    if (e16 < -10) return sign; // below half the smallest subnormal: +-0
    m |= 0x800000;
    const shift = 14 - e16; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = sign | (e16 << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent rounds up correctly (to inf at the top)
  return h;
}

/** Floats of the f32 carrier for n halves (two per slot). */
export const f16CarrierLen = (n: number): number => Math.ceil(n / 2);

/** `src` [n] as halves packed into a new Float32Array carrier [ceil(n/2)] (its bits, not its values, matter). */
export function packF16(src: Float32Array): Float32Array {
  const carrier = new Float32Array(f16CarrierLen(src.length)); // [ceil(n/2)]
  packF16Into(src, carrier, 0);
  return carrier;
}

/** `src` [n] as halves into carrier words [word, word + ceil(n/2)) (an odd n leaves the last high half 0). */
export function packF16Into(src: Float32Array, carrier: Float32Array, word: number): void {
  const h = new Uint16Array(carrier.buffer, carrier.byteOffset + 4 * word, src.length); // [n] little-endian halves
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length); // [n] f32 bit patterns (src is 4-aligned)
  for (let i = 0; i < bits.length; i++) h[i] = halfBits(bits[i]);
}

/** How a run of a piece travels: raw f32, halves (two per word) or int8 with block scales. */
export type WireEnc = 'f32' | 'f16' | 'i8';
export const WIRE_ENCS: readonly WireEnc[] = ['f32', 'f16', 'i8'];
export const isWireEnc = (w: unknown): w is WireEnc => WIRE_ENCS.includes(w as WireEnc);

/** Carrier words of a run of n floats in encoding enc. */
export function encWords(enc: WireEnc, n: number): number {
  return enc === 'f32' ? n : enc === 'f16' ? f16CarrierLen(n) : i8Words(n);
}

/**
 * One block of a mixed carrier (patch-unet-exchange.ts's pieceCarrier): `count` floats of the piece from
 * float `from`, at carrier word `word`, in encoding `enc`: raw f32 for GroupNorm sums (whose sumsq passes
 * the half range and whose E[x^2] - mean^2 cancellation neither f16 nor i8 can afford), halves or int8
 * blocks for activations (encWords(enc, count) words).
 */
export interface CarrierBlock {
  from: number;
  count: number;
  word: number;
  enc: WireEnc;
}

/** Piece floats `src` [n] into a new carrier [words] laid out by `blocks`. */
export function packBlocks(src: Float32Array, blocks: CarrierBlock[], words: number): Float32Array {
  const carrier = new Float32Array(words); // [words]
  for (const b of blocks) {
    const part = src.subarray(b.from, b.from + b.count); // [count]
    if (b.enc === 'f32') carrier.set(part, b.word);
    else if (b.enc === 'f16') packF16Into(part, carrier, b.word);
    else encodeI8(part, 0, b.count, new Uint32Array(carrier.buffer, carrier.byteOffset, words), b.word);
  }
  return carrier;
}

/** The piece floats dst [n] from a carrier laid out by `blocks` (the inverse of packBlocks). */
export function unpackBlocks(carrier: Float32Array, blocks: CarrierBlock[], dst: Float32Array): void {
  for (const b of blocks) {
    const out = dst.subarray(b.from, b.from + b.count); // [count]
    if (b.enc === 'f32') out.set(carrier.subarray(b.word, b.word + b.count));
    else if (b.enc === 'f16') unpackF16(carrier.subarray(b.word), out);
    else decodeI8(new Uint32Array(carrier.buffer, carrier.byteOffset, carrier.length), b.word, b.count, out, 0);
  }
}

/** Unpacks the first dst.length halves of `carrier` into dst (f32). */
export function unpackF16(carrier: Float32Array, dst: Float32Array): void {
  if (carrier.length < f16CarrierLen(dst.length)) throw new Error(`unpackF16: carrier of ${carrier.length} floats holds < ${dst.length} halves`);
  const h = new Uint16Array(carrier.buffer, carrier.byteOffset, dst.length); // [n]
  const t = f16ToF32Table;
  for (let i = 0; i < dst.length; i++) dst[i] = t[h[i]];
}
