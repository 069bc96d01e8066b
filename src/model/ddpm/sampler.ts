// Samplers for the ddpm-mnist-cnn schedule: DDPM ancestral (PROVENANCE.md's loop, generalised to
// a subsequence of the 1000 training steps) and DDIM with eta = 0. Noise is from a seeded PRNG
// + Box-Muller so every peer of a patch-parallel run draws the same full-image noise without
// any communication.
import type { DdpmModel } from './config';
import { forwardReference } from './reference';

export type SamplerKind = 'ddpm' | 'ddim';
export interface SamplerSpec {
  kind: SamplerKind;
  steps: number; // number of denoiser calls, 1..nT
}

/** Descending timesteps i_0 = nT > i_1 > ... > i_{S-1} >= 1, evenly spaced (S = nT gives nT..1). */
export function samplerTimesteps(nT: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > nT) throw new Error(`sampler: steps must be an integer in [1, ${nT}], got ${steps}`);
  const ts: number[] = [];
  for (let k = 0; k < steps; k++) ts.push(Math.floor(((steps - k) * nT) / steps));
  return ts;
}

import { mulberry32 } from '../prng';

export { mulberry32 };

/** n standard normals from stream (seed, stream) via Box-Muller. */
export function gaussianNoise(seed: number, stream: number, n: number): Float32Array {
  // mix seed and stream so neighbouring seeds/steps give unrelated streams
  const rnd = mulberry32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35));
  const out = new Float32Array(n); // [n]
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rnd(); // (0, 1], avoids log(0)
    const u2 = rnd();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** The starting latent z ~ N(0, I) for this seed: [C*H*W]. */
export function initialLatent(model: DdpmModel, seed: number): Float32Array {
  const { channels, height, width } = model.config;
  return gaussianNoise(seed, 0, channels * height * width);
}

/**
 * One sampler update z_i -> z_j for step k of timesteps `ts` (j = ts[k+1], or 0 after the last).
 * Elementwise, so a peer may apply it to any slice as long as `noise` is the same slice.
 */
export function samplerUpdate(
  model: DdpmModel,
  spec: SamplerSpec,
  ts: number[],
  k: number,
  z: Float32Array, // [n] (full image or a row slice)
  eps: Float32Array, // [n], same slice
  noise: Float32Array | null, // [n], same slice; required for ddpm when k < S-1
): Float32Array {
  const i = ts[k];
  const j = k + 1 < ts.length ? ts[k + 1] : 0;
  const abI = model.alphaBars[i];
  const out = new Float32Array(z.length); // [n]
  if (spec.kind === 'ddpm') {
    // PROVENANCE: z = (z - beta_i/sqrt(1-ab_i) eps)/sqrt(1-beta_i) + sqrt(beta_i) N; over a jump i -> j the
    // "beta" of the jump is 1 - ab_i/ab_j (equals beta_i when j = i-1, so S = nT is the exact loop)
    const alphaIJ = j === i - 1 ? 1 - model.betas[i] : abI / model.alphaBars[j];
    const betaIJ = 1 - alphaIJ;
    const c = betaIJ / Math.sqrt(1 - abI);
    const sigma = Math.sqrt(betaIJ);
    const last = k + 1 >= ts.length;
    if (!last && !noise) throw new Error('sampler: ddpm step needs noise');
    for (let p = 0; p < z.length; p++) out[p] = (z[p] - c * eps[p]) / Math.sqrt(alphaIJ) + (last ? 0 : sigma * noise![p]);
  } else {
    // DDIM eta=0: predict x0, then move deterministically to ab_j (ab = 1 after the last step: clean x0)
    const abJ = k + 1 < ts.length ? model.alphaBars[j] : 1;
    for (let p = 0; p < z.length; p++) {
      const x0 = (z[p] - Math.sqrt(1 - abI) * eps[p]) / Math.sqrt(abI);
      out[p] = Math.sqrt(abJ) * x0 + Math.sqrt(1 - abJ) * eps[p];
    }
  }
  return out;
}

/** Noise for step k (full image), identical on every peer; null where the step adds none. */
export function stepNoise(model: DdpmModel, spec: SamplerSpec, seed: number, k: number): Float32Array | null {
  if (spec.kind !== 'ddpm' || k + 1 >= spec.steps) return null;
  const { channels, height, width } = model.config;
  return gaussianNoise(seed, k + 1, channels * height * width);
}

export type Denoiser = (z: Float32Array, tIn: number) => Float32Array | Promise<Float32Array>;

export interface SampleOptions {
  model: DdpmModel;
  sampler: SamplerSpec;
  seed: number;
  denoiser?: Denoiser; // default: the CPU reference forward
}

/** Single-device sampling: the ground truth for patch-parallel runs. Returns the final latent [C*H*W]. */
export async function sampleImage(opts: SampleOptions): Promise<Float32Array> {
  const { model, sampler, seed } = opts;
  const den: Denoiser = opts.denoiser ?? ((z, t) => forwardReference(model, z, t));
  const ts = samplerTimesteps(model.config.nT, sampler.steps);
  let z = initialLatent(model, seed); // [C*H*W]
  for (let k = 0; k < ts.length; k++) {
    const eps = await den(z, ts[k] / model.config.nT); // [C*H*W]
    z = samplerUpdate(model, sampler, ts, k, z, eps, stepNoise(model, sampler, seed, k));
  }
  return z;
}

/** Latent -> pixels in [0, 1] (the model was trained on pixel - 0.5). */
export function toPixels(z: Float32Array): Float32Array {
  return z.map((v) => Math.min(1, Math.max(0, v + 0.5))); // same shape
}
