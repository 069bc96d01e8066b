// The fm-unet architecture widened to Stable-Diffusion-like channel counts (the DistriFusion speed
// bench, issue 5 section 6), and a random-weight .safetensors for any UnetConfig that carries its
// config in the metadata (UNET_CONFIG_METADATA_KEY), so the normal loader path reads it.
//  - "px" is the image size as in Stable Diffusion: the U-Net runs on the latent at px / 8 with 4
//    channels (SD's VAE factor), so 256 / 512 / 1024 px are latents of 32 / 64 / 128.
//  - channels 320 / 640 / 1280 with attention at the two deeper levels and GroupNorm(32) as in SD
//    1.x/2.x, tembDim 1280 = 4 x 320 as SD's time_embed; timeFreqDim 320 as SD's time_proj (the
//    320 -> 1280 linear is ~0.4M MACs: negligible next to the convolutions, and it keeps SD's shape).
//  - one ResBlock per level, as fm-unet (SD has two plus cross-attention transformers: our FLOPs per
//    pixel are lower, the layer mix of convs + spatial attention + GroupNorm is the same).
// Random weights (timing only): conv/linear weights uniform with variance 1 / fan_in (PyTorch's
// kaiming-uniform scale, so activations stay O(1) through the residual stack), GroupNorm gamma 1,
// beta 0, biases 0, class embedding N-like with variance 1/4. Seeded, per tensor (mulberry32).
import { mulberry32 } from '../prng';
import { FM_UNET_CONFIG, unetConfigMetadata, unetTensorShapes, type UnetConfig } from './config';

export const SD_LATENT_FACTOR = 8; // SD's VAE downsampling: latent size = px / 8
export const SD_LATENT_CHANNELS = 4;

/**
 * The SD-like widened U-Net for a px x px image (latent px / 8). width scales every channel count
 * (1 = SD's 320/640/1280; local smoke runs use e.g. 0.1 -> 32/64/128), rounded to multiples of 32 groups.
 */
export function sdLikeUnetConfig(px: number, width = 1): UnetConfig {
  const size = px / SD_LATENT_FACTOR;
  if (!Number.isInteger(size) || size < 4 || size % 4 !== 0) throw new Error(`sd-like unet: ${px} px is not a multiple of 32 (latent px/8 must split into 3 levels)`);
  const ch = (n: number) => Math.max(32, Math.round((n * width) / 32) * 32);
  return {
    ...FM_UNET_CONFIG,
    size,
    inChannels: SD_LATENT_CHANNELS,
    baseCh: ch(320),
    levels: [
      { ch: ch(320), attn: false },
      { ch: ch(640), attn: true },
      { ch: ch(1280), attn: true },
    ],
    timeFreqDim: ch(320),
    tembDim: ch(1280),
    groups: 32,
  };
}

export interface SafetensorsLayout {
  header: Uint8Array; // 8-byte little-endian length + JSON header (padded to 8 bytes)
  tensors: { name: string; shape: number[]; index: number; numel: number; byteOffset: number }[]; // in file order
  dataBytes: number;
}

/** Every tensor of `c` (unetTensorShapes order) laid out back to back, config in the metadata. */
export function unetSafetensorsLayout(c: UnetConfig): SafetensorsLayout {
  const header: Record<string, unknown> = { __metadata__: unetConfigMetadata(c) };
  const tensors: SafetensorsLayout['tensors'] = [];
  let off = 0;
  unetTensorShapes(c).forEach(([name, shape], index) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [off, off + numel * 4] };
    tensors.push({ name, shape, index, numel, byteOffset: off });
    off += numel * 4;
  });
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' '; // keep the data section 8-byte aligned
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return { header: out, tensors, dataBytes: off };
}

/** Elements [start, start + out.length) of tensor `t`'s random init (chunks of one tensor continue its stream). */
export function fillRandomTensor(t: { name: string; shape: number[]; index: number }, seed: number, out: Float32Array, rng?: () => number): () => number {
  const r = rng ?? mulberry32((seed * 0x9e3779b1 + t.index * 0x85ebca6b) >>> 0);
  const isNormW = /norm\d?\.weight$/.test(t.name);
  if (isNormW) return (out.fill(1), r);
  if (t.name === 'class_emb.weight') {
    for (let i = 0; i < out.length; i++) out[i] = (r() - 0.5) * Math.sqrt(3); // variance 1/4
    return r;
  }
  if (t.shape.length < 2) return (out.fill(0), r); // biases and norm betas
  const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const a = 2 * Math.sqrt(3 / fanIn); // uniform(-b, b) with b = sqrt(3 / fan_in): variance 1 / fan_in
  for (let i = 0; i < out.length; i++) out[i] = (r() - 0.5) * a;
  return r;
}

/** The whole random-weight file in memory (tests and small configs; the bench streams it in chunks). */
export function randomUnetSafetensorsBytes(c: UnetConfig, seed: number): Uint8Array {
  const lay = unetSafetensorsLayout(c);
  const out = new Uint8Array(lay.header.length + lay.dataBytes);
  out.set(lay.header, 0);
  for (const t of lay.tensors) {
    const data = new Float32Array(out.buffer, lay.header.length + t.byteOffset, t.numel); // [numel], 4-aligned (8-aligned header)
    fillRandomTensor(t, seed, data);
  }
  return out;
}

/** Parameters of a config (every tensor's element count). */
export function unetParamCount(c: UnetConfig): number {
  return unetTensorShapes(c).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
}
