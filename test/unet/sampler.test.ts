// fm-unet samplers: timestep spacing, exactness of DDIM/DDPM with an oracle denoiser (the true eps
// of a known x0), classifier-free guidance, and GPU-denoiser sampling vs the CPU on a tiny U-Net
// of the same architecture (the spec-size CPU forward is too slow for a multi-step test here).
import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { UnetGpu } from '../../src/model/unet/forward-gpu';
import {
  guidedEps, sampleUnet, unetInitialLatent, unetTimesteps, unetToPixels, type SamplerSpec,
} from '../../src/model/unet/sampler';
import { testGpu } from '../helpers/gpu';
import { maxAbsErr, randomUnet, TINY_UNET } from './helpers';

describe('fm-unet samplers', () => {
  it('timesteps: DDIM 20 is 999, 949, ..., 49; 1000 steps is 999..0', () => {
    const ts = unetTimesteps(1000, 20);
    expect(ts).toEqual(Array.from({ length: 20 }, (_, k) => 999 - 50 * k));
    const all = unetTimesteps(1000, 1000);
    expect(all[0]).toBe(999);
    expect(all[999]).toBe(0);
  });

  for (const spec of [{ kind: 'ddim', steps: 7 }, { kind: 'ddpm', steps: 5 }, { kind: 'ddpm', steps: 1000 }] as SamplerSpec[]) {
    it(`${spec.kind} ${spec.steps} steps with the oracle eps of a fixed x0 returns x0`, async () => {
      const model = randomUnet(3, TINY_UNET); // only the schedule is used
      const x0 = gaussianNoise(11, 0, 64).map((v) => Math.tanh(v)); // [1, 8, 8], the "data"
      let calls = 0;
      const oracle = (x: Float32Array, t: number, y: number) => {
        calls++;
        expect(y).toBe(4);
        const ab = model.alphaBars[t];
        return x.map((v, i) => (v - Math.sqrt(ab) * x0[i]) / Math.sqrt(1 - ab)); // exact eps
      };
      const out = await sampleUnet({ model, sampler: spec, seed: 5, label: 4, guidance: 1, denoiser: oracle });
      expect(calls).toBe(spec.steps); // w = 1: one forward per step
      expect(maxAbsErr(out, x0)).toBeLessThan(2e-4);
    });
  }

  it('guided eps = eps_null + w (eps_y - eps_null), two calls per step when w != 1', async () => {
    const seen: number[] = [];
    const den = (x: Float32Array, _t: number, y: number) => {
      seen.push(y);
      return x.map((v) => v * (y + 1)); // class-dependent
    };
    const x = Float32Array.of(1, -2);
    const e = await guidedEps(den, 10, x, 3, 2, 2.5);
    // null: x * 11, cond: x * 3 -> 11x + 2.5 (3x - 11x) = -9x
    expect(Array.from(e)).toEqual([-9, 18]);
    expect(seen.sort()).toEqual([10, 2]);
  });

  it('pixels: clip((x + 1) / 2, 0, 1)', () => {
    expect(Array.from(unetToPixels(Float32Array.of(-1, 0, 1, 3, -2)))).toEqual([0, 0.5, 1, 1, 0]);
  });

  it('DDPM 4 steps with CFG w=2: GPU denoiser equals the CPU reference (tiny U-Net)', async () => {
    const gpu = await testGpu();
    const model = randomUnet(8, TINY_UNET);
    const ug = UnetGpu.create(gpu, model);
    const opts = { model, sampler: { kind: 'ddpm', steps: 4 } as SamplerSpec, seed: 21, label: 6, guidance: 2 };
    const cpu = await sampleUnet(opts);
    const gpuOut = await sampleUnet({ ...opts, denoiser: (x, t, y) => ug.forward(x, t, y) });
    expect(maxAbsErr(cpu, unetInitialLatent(model, 21))).toBeGreaterThan(0.1); // it moved
    expect(maxAbsErr(gpuOut, cpu)).toBeLessThan(1e-3);
    ug.destroy();
  });
});
