// f32 <-> int8-with-block-scales carriers on the GPU (shaders/diffusion/i8_pack.wgsl, i8_unpack.wgsl) for the
// DistriFusion async exchange (commDtype 'i8'). reference() / referenceUnpack() are the host codec of the same
// layout (src/codec/i8-block.ts, which documents it): the plain-TS backend packs and unpacks with it, so a CPU
// peer and a GPU peer agree.
import packCode from '../../../shaders/diffusion/i8_pack.wgsl?raw';
import unpackCode from '../../../shaders/diffusion/i8_unpack.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { decodeI8, encodeI8Carrier, i8Words } from '../../codec/i8-block';
import { runCodec } from './add';

export { I8_BLOCK } from '../../codec/i8-block';

export interface I8PackShape {
  count: number; // floats
  srcBase: number; // pack: float offset; unpack: word offset
  dstBase: number; // pack: word offset; unpack: float offset
}

/** u32 words of an i8 carrier for n floats: block maxima, then four values per word. */
export const i8CarrierWords = i8Words;

/** The words i8_pack writes for src [srcBase, +count): [i8CarrierWords(count)] u32 (the host codec, src/codec/i8-block.ts). */
export function reference(src: Float32Array, s: Pick<I8PackShape, 'count' | 'srcBase'>): Uint32Array {
  return encodeI8Carrier(src.subarray(s.srcBase, s.srcBase + s.count)); // [i8CarrierWords(count)]
}

/** Floats dst [dstBase, +count) from carrier words src [srcBase, +i8CarrierWords(count)) (i8_unpack's values). */
export function referenceUnpack(src: Uint32Array, s: I8PackShape, dst: Float32Array): void {
  decodeI8(src, s.srcBase, s.count, dst, s.dstBase);
}

/** Encode dst (u32 words) [dstBase, +i8CarrierWords(count)) = the i8 carrier of src (f32) [srcBase, +count). */
export function i8Pack(gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, s: I8PackShape): void {
  runCodec(gpu, { code: packCode, file: 'shaders/diffusion/i8_pack.wgsl' }, src, dst, s, Math.ceil(s.count / 4)); // one thread per value word
}

/** Encode dst (f32) [dstBase, +count) = the values of the i8 carrier in src (u32 words) [srcBase, ...). */
export function i8Unpack(gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, s: I8PackShape): void {
  runCodec(gpu, { code: unpackCode, file: 'shaders/diffusion/i8_unpack.wgsl' }, src, dst, s, Math.ceil(s.count / 4));
}
