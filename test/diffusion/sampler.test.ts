import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadDdpm } from '../../src/model/ddpm/config';
import { gaussianNoise, sampleImage, samplerTimesteps, samplerUpdate } from '../../src/model/ddpm/sampler';
import { psnr, ssim } from '../../src/model/ddpm/metrics';

const shared = process.env.TABMESH_SHARED ?? new URL('../../../shared/', import.meta.url).pathname;
const model = loadDdpm(readFileSync(`${shared}/models/ddpm-mnist-cnn/ddpm_mnist_starter.safetensors`));

describe('samplers', () => {
  it('timesteps are a descending subsequence ending >= 1; S = 1000 is every step', () => {
    expect(samplerTimesteps(1000, 4)).toEqual([1000, 750, 500, 250]);
    expect(samplerTimesteps(1000, 1000).slice(-3)).toEqual([3, 2, 1]);
    expect(() => samplerTimesteps(1000, 0)).toThrow(/steps must be/);
  });

  it('seeded Gaussian noise is deterministic and ~N(0,1)', () => {
    const a = gaussianNoise(7, 3, 20000);
    expect(gaussianNoise(7, 3, 20000)).toEqual(a);
    expect(gaussianNoise(7, 4, 8)).not.toEqual(a.subarray(0, 8));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
  });

  it('a full-length DDPM step is PROVENANCE.md\'s update, computed independently here', () => {
    const ts = samplerTimesteps(1000, 1000);
    const z = gaussianNoise(1, 0, 16);
    const eps = gaussianNoise(2, 0, 16);
    const noise = gaussianNoise(3, 0, 16);
    const k = 500; // i = 500
    const i = ts[k];
    const out = samplerUpdate(model, { kind: 'ddpm', steps: 1000 }, ts, k, z, eps, noise);
    const b = model.betas[i];
    const ab = model.alphaBars[i];
    for (let p = 0; p < 16; p++) {
      const want = (z[p] - (b / Math.sqrt(1 - ab)) * eps[p]) / Math.sqrt(1 - b) + Math.sqrt(b) * noise[p];
      expect(out[p]).toBeCloseTo(want, 5);
    }
  });

  it('DDIM with eta 0 recovers x0 exactly when eps is the true noise', () => {
    const x0 = gaussianNoise(5, 0, 32).map((v) => 0.3 * v);
    const n = gaussianNoise(6, 0, 32);
    const ts = samplerTimesteps(1000, 10);
    const ab = model.alphaBars[ts[9]];
    const z = x0.map((v, p) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * n[p]);
    const out = samplerUpdate(model, { kind: 'ddim', steps: 10 }, ts, 9, z, n, null); // last step: clean x0
    for (let p = 0; p < 32; p++) expect(out[p]).toBeCloseTo(x0[p], 4);
  });

  it('sampleImage is deterministic per seed; metrics behave', async () => {
    const a = await sampleImage({ model, sampler: { kind: 'ddim', steps: 3 }, seed: 11 });
    const b = await sampleImage({ model, sampler: { kind: 'ddim', steps: 3 }, seed: 11 });
    const c = await sampleImage({ model, sampler: { kind: 'ddim', steps: 3 }, seed: 12 });
    expect(b).toEqual(a);
    expect(psnr(a, b)).toBe(Infinity);
    expect(ssim(a, b, 28, 28)).toBeCloseTo(1, 10);
    expect(psnr(a, c)).toBeLessThan(20);
    expect(ssim(a, c, 28, 28)).toBeLessThan(0.9);
  });
});
