// Host-side pieces of the fm-unet conditioning shared by the CPU reference and the GPU forward:
// the sinusoidal time features (64 floats, computed in float32 steps as PyTorch does) and the
// class-embedding row lookup.
import type { UnetModel } from './config';

/**
 * emb = concat(sin(t f), cos(t f)), f_k = exp(-ln(10000) k / half), k = 0..half-1 -> [2*half].
 * Every step is rounded to f32 like the trainer's `torch.exp(-math.log(10000) * arange(half) / half)`
 * and `t[:, None] * f[None]` on f32 tensors, so phases up to 999 rad agree to the last f32 bit.
 */
export function timeFeatures(t: number, dim: number): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(dim); // [dim]
  const c = Math.fround(-Math.log(10000));
  for (let k = 0; k < half; k++) {
    const f = Math.fround(Math.exp(Math.fround(Math.fround(c * k) / half)));
    const ph = Math.fround(Math.fround(t) * f);
    out[k] = Math.sin(ph);
    out[half + k] = Math.cos(ph);
  }
  return out;
}

/** class_emb[y] as its own array [tembDim]; y in 0..numClasses (numClasses = the CFG null class). */
export function classRow(model: UnetModel, y: number): Float32Array {
  const { numClasses, tembDim } = model.config;
  if (!Number.isInteger(y) || y < 0 || y > numClasses) throw new Error(`unet: class ${y} is not in 0..${numClasses}`);
  return model.classEmb.slice(y * tembDim, (y + 1) * tembDim); // [tembDim]
}
