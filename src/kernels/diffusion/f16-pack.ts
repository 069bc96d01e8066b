// f32 <-> half carriers on the GPU (shaders/diffusion/f16_pack.wgsl, f16_unpack.wgsl) for the DistriFusion
// async exchange: the send pieces are packed before their read-back (half the read-back bytes, no host
// loop over every float), and received pieces are written as is and expanded into the stale buffer.
import packCode from '../../../shaders/diffusion/f16_pack.wgsl?raw';
import unpackCode from '../../../shaders/diffusion/f16_unpack.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { runCodec } from './add';

export interface F16PackShape {
  count: number; // halves (= floats on the f32 side)
  srcBase: number; // pack: float offset; unpack: word offset
  dstBase: number; // pack: word offset; unpack: float offset
}

const HALF_MAX = 65504;

/** Round-to-nearest-even of v (v >= 0). */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

/** Half bits of x after the shader's clamp to +-65504, by arithmetic on the value (not on its f32 bits). */
export function halfOf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.min(Math.abs(x), HALF_MAX);
  if (a < 2 ** -14) return sign | roundEven(a * 2 ** 24); // subnormal; 1024 rounds up into the smallest normal
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 rounding near powers of two
  if (2 ** (e + 1) <= a) e++;
  let m = roundEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    e++;
    m = 0;
  }
  return sign | ((e + 15) << 10) | m;
}

/** The words f16_pack writes: [ceil(count / 2)] u32, src[srcBase + 2i] in the low half. */
export function reference(src: Float32Array, s: Pick<F16PackShape, 'count' | 'srcBase'>): Uint32Array {
  const out = new Uint32Array(Math.ceil(s.count / 2)); // [words]
  for (let i = 0; i < s.count; i++) out[i >> 1] |= halfOf(src[s.srcBase + i]) << (16 * (i & 1));
  return out;
}

/** Encode dst (u32 words) [dstBase, +ceil(count/2)) = halves of src (f32) [srcBase, +count). */
export function f16Pack(gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, s: F16PackShape): void {
  runCodec(gpu, { code: packCode, file: 'shaders/diffusion/f16_pack.wgsl' }, src, dst, s, Math.ceil(s.count / 2));
}

/** Encode dst (f32) [dstBase, +count) = the halves in src (u32 words) [srcBase, +ceil(count/2)). */
export function f16Unpack(gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, s: F16PackShape): void {
  runCodec(gpu, { code: unpackCode, file: 'shaders/diffusion/f16_unpack.wgsl' }, src, dst, s, Math.ceil(s.count / 2));
}
