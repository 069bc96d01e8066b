// Samplers for fm-unet's schedule (docs/unet-spec.md): steps indexed i = 0..nT-1 (the model input
// t is i itself), DDPM ancestral (sigma^2 = beta of the jump) and DDIM eta = 0, with
// classifier-free guidance. The ddpm-mnist sampler (src/model/ddpm/sampler.ts) indexes 1..nT and
// feeds t/nT, so only its timestep spacing and seeded noise are reused here.
import { gaussianNoise, samplerTimesteps, type SamplerSpec } from '../ddpm/sampler';
import type { UnetModel } from './config';
import { unetReference } from './reference';

export type { SamplerSpec } from '../ddpm/sampler';

/** Descending steps nT-1 = i_0 > ... > i_{S-1} >= 0, evenly spaced: DDIM 20 gives 999, 949, ..., 49. */
export function unetTimesteps(nT: number, steps: number): number[] {
  return samplerTimesteps(nT, steps).map((t) => t - 1);
}

/**
 * One update z_i -> z_j for step k (j = ts[k+1]; after the last step alphaBar_j = 1, the clean image).
 * Elementwise, so a patch may apply it to its own rows with the matching slice of `noise`.
 */
export function unetSamplerUpdate(
  model: UnetModel,
  kind: SamplerSpec['kind'],
  ts: number[],
  k: number,
  z: Float32Array, // [n]
  eps: Float32Array, // [n]
  noise: Float32Array | null, // [n]; needed for ddpm before the last step
): Float32Array {
  const last = k + 1 >= ts.length;
  const abI = model.alphaBars[ts[k]];
  const abJ = last ? 1 : model.alphaBars[ts[k + 1]];
  const out = new Float32Array(z.length); // [n]
  if (kind === 'ddpm') {
    // jump i -> j has alpha = abI / abJ (= 1 - beta_i for consecutive steps); posterior-free form
    // x_j = (x_i - (1 - alpha)/sqrt(1 - abI) eps)/sqrt(alpha) + sqrt(1 - alpha) N, no noise at the end
    const alpha = abI / abJ;
    const c = (1 - alpha) / Math.sqrt(1 - abI);
    const sigma = Math.sqrt(1 - alpha);
    const sa = Math.sqrt(alpha);
    if (!last && !noise) throw new Error('unet sampler: ddpm step needs noise');
    for (let p = 0; p < z.length; p++) out[p] = (z[p] - c * eps[p]) / sa + (last ? 0 : sigma * noise![p]);
  } else {
    // the square roots once per step, not per element (the same values, so the same bits)
    const [s1I, sI, sJ, s1J] = [Math.sqrt(1 - abI), Math.sqrt(abI), Math.sqrt(abJ), Math.sqrt(1 - abJ)];
    for (let p = 0; p < z.length; p++) {
      const x0 = (z[p] - s1I * eps[p]) / sI;
      out[p] = sJ * x0 + s1J * eps[p];
    }
  }
  return out;
}

/** The starting latent x ~ N(0, I) for this seed: [inChannels * size * size]. */
export function unetInitialLatent(model: UnetModel, seed: number): Float32Array {
  const { inChannels, size } = model.config;
  return gaussianNoise(seed, 0, inChannels * size * size);
}

/** Full-image noise for step k (same on every peer), or null where the step adds none. */
export function unetStepNoise(model: UnetModel, spec: SamplerSpec, seed: number, k: number): Float32Array | null {
  if (spec.kind !== 'ddpm' || k + 1 >= spec.steps) return null;
  const { inChannels, size } = model.config;
  return gaussianNoise(seed, k + 1, inChannels * size * size);
}

export type UnetDenoiser = (x: Float32Array, t: number, y: number) => Float32Array | Promise<Float32Array>;

/** eps(x,t,null) + w (eps(x,t,y) - eps(x,t,null)); w = 1 is a single conditional call. */
export async function guidedEps(den: UnetDenoiser, nullClass: number, x: Float32Array, t: number, y: number, w: number): Promise<Float32Array> {
  const cond = await den(x, t, y); // [n]
  if (w === 1) return cond;
  const unc = await den(x, t, nullClass); // [n]
  return unc.map((u, i) => u + w * (cond[i] - u));
}

export interface UnetSampleOptions {
  model: UnetModel;
  sampler: SamplerSpec;
  seed: number;
  label: number; // 0..9, or 10 (null) for unconditional
  guidance: number; // CFG weight w (the app's default is 2)
  denoiser?: UnetDenoiser; // default: the CPU reference forward
  onStep?: (k: number, z: Float32Array) => void;
}

/** Single-device sampling (ground truth for patch-parallel runs). Returns x_0 [inChannels*size*size]. */
export async function sampleUnet(opts: UnetSampleOptions): Promise<Float32Array> {
  const { model, sampler, seed } = opts;
  const den: UnetDenoiser = opts.denoiser ?? ((x, t, y) => unetReference(model, x, t, y));
  const ts = unetTimesteps(model.config.nT, sampler.steps);
  let z = unetInitialLatent(model, seed); // [n]
  for (let k = 0; k < ts.length; k++) {
    const eps = await guidedEps(den, model.config.numClasses, z, ts[k], opts.label, opts.guidance); // [n]
    z = unetSamplerUpdate(model, sampler.kind, ts, k, z, eps, unetStepNoise(model, sampler, seed, k));
    opts.onStep?.(k, z);
  }
  return z;
}

/** Model space [-1, 1] -> pixels in [0, 1]: clip((x + 1) / 2, 0, 1). */
export function unetToPixels(z: Float32Array): Float32Array {
  return z.map((v) => Math.min(1, Math.max(0, (v + 1) / 2))); // same shape
}
