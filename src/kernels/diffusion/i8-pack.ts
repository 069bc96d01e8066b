// f32 <-> int8-with-block-scales carriers on the GPU (shaders/diffusion/i8_pack.wgsl, i8_unpack.wgsl) for the
// DistriFusion async exchange (commDtype 'i8'), and the host codec of the same layout (reference(),
// referenceUnpack()): the plain-TS backend packs and unpacks with these, so a CPU peer and a GPU peer agree.
// Layout of a run of n floats: ceil(n / 64) words of block absmax (f32 bits), then ceil(n / 4) words of four
// snorm bytes each (value 4w in the low byte of word w). Why 64: a block is a stretch of one channel's rows
// in the channel-major halo and attention-input segments (similar magnitudes), and its scale word costs
// 1/16 of the values' bytes.
import packCode from '../../../shaders/diffusion/i8_pack.wgsl?raw';
import unpackCode from '../../../shaders/diffusion/i8_unpack.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { grid1d } from './add';

export const I8_BLOCK = 64;

export interface I8PackShape {
  count: number; // floats
  srcBase: number; // pack: float offset; unpack: word offset
  dstBase: number; // pack: word offset; unpack: float offset
}

/** u32 words of an i8 carrier for n floats: block maxima, then four values per word. */
export const i8CarrierWords = (n: number): number => Math.ceil(n / I8_BLOCK) + Math.ceil(n / 4);

/** The words i8_pack writes for src [srcBase, +count): [i8CarrierWords(count)] u32. f32 arithmetic as the shader's. */
export function reference(src: Float32Array, s: Pick<I8PackShape, 'count' | 'srcBase'>, out?: Uint32Array, outBase = 0): Uint32Array {
  const n = s.count;
  const nb = Math.ceil(n / I8_BLOCK);
  const dst = out ?? new Uint32Array(i8CarrierWords(n)); // [nb + ceil(n/4)]
  const f = new Float32Array(1); // one f32 slot to take a float's bits
  const bits = new Uint32Array(f.buffer);
  for (let b = 0; b < nb; b++) {
    const lo = s.srcBase + b * I8_BLOCK;
    const hi = s.srcBase + Math.min(n, (b + 1) * I8_BLOCK);
    let m = 0;
    for (let i = lo; i < hi; i++) m = Math.max(m, Math.abs(src[i]));
    f[0] = m;
    dst[outBase + b] = bits[0];
    for (let i = lo; i < hi; i += 4) {
      let word = 0;
      for (let k = 0; k < 4 && i + k < hi; k++) {
        const e = m > 0 ? Math.fround(src[i + k] / m) : 0;
        const q = Math.floor(Math.fround(0.5 + Math.fround(127 * Math.min(1, Math.max(-1, e))))); // pack4x8snorm
        word |= (q & 0xff) << (8 * k);
      }
      dst[outBase + nb + ((i - s.srcBase) >> 2)] = word >>> 0;
    }
  }
  return dst;
}

/** Floats dst [dstBase, +count) from carrier words src [srcBase, +i8CarrierWords(count)) (i8_unpack's values). */
export function referenceUnpack(src: Uint32Array, s: I8PackShape, dst: Float32Array): void {
  const nb = Math.ceil(s.count / I8_BLOCK);
  const f = new Float32Array(src.buffer, src.byteOffset + 4 * s.srcBase, nb); // [nb] block maxima
  for (let i = 0; i < s.count; i++) {
    const byte = (src[s.srcBase + nb + (i >> 2)] >>> (8 * (i & 3))) & 0xff;
    const q = byte > 127 ? byte - 256 : byte;
    dst[s.dstBase + i] = Math.fround(Math.max(-1, Math.fround(q / 127)) * f[i >> 6]); // unpack4x8snorm * absmax
  }
}

/** Encode dst (u32 words) [dstBase, +i8CarrierWords(count)) = the i8 carrier of src (f32) [srcBase, +count). */
export function i8Pack(gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, s: I8PackShape): void {
  if (src === dst) throw new Error('i8_pack: src and dst must differ');
  const g = grid1d(Math.ceil(s.count / 4));
  gpu.run({ code: packCode, file: 'shaders/diffusion/i8_pack.wgsl' }, new Uint32Array([s.count, s.srcBase, s.dstBase, g.rowLen]), [src, dst], [g.x, g.y]);
}

/** Encode dst (f32) [dstBase, +count) = the values of the i8 carrier in src (u32 words) [srcBase, ...). */
export function i8Unpack(gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, s: I8PackShape): void {
  if (src === dst) throw new Error('i8_unpack: src and dst must differ');
  const g = grid1d(Math.ceil(s.count / 4));
  gpu.run({ code: unpackCode, file: 'shaders/diffusion/i8_unpack.wgsl' }, new Uint32Array([s.count, s.srcBase, s.dstBase, g.rowLen]), [src, dst], [g.x, g.y]);
}
