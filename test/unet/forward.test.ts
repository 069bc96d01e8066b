// fm-unet forwards on random weights with the spec's exact names and shapes: the loader (through
// real safetensors bytes), the CPU reference's building blocks against direct formulas, and the
// GPU forward against the CPU reference within 1e-4.
import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { FM_UNET_CONFIG, loadUnet, unetTensorShapes } from '../../src/model/unet/config';
import { timeFeatures } from '../../src/model/unet/embed';
import { UnetGpu } from '../../src/model/unet/forward-gpu';
import { attentionCpu, convCpu, groupNormCpu, unetReference } from '../../src/model/unet/reference';
import { testGpu } from '../helpers/gpu';
import { maxAbsErr, randomUnet, randomUnetTensors, writeSafetensors } from './helpers';

const model = randomUnet(42);
const S = FM_UNET_CONFIG.size;

describe('fm-unet loader', () => {
  it('has the spec parameter count and rejects a wrong shape or a wrong schedule by name', () => {
    const n = unetTensorShapes().reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
    expect(n).toBeGreaterThan(3.0e6); // "about 3.4M parameters"
    expect(n).toBeLessThan(3.8e6);
    const t = randomUnetTensors(1);
    t.set('up.1.res.skip.weight', { shape: [128, 255, 1, 1], data: new Float32Array(128 * 255) });
    expect(() => loadUnet(writeSafetensors(t))).toThrow(/up\.1\.res\.skip\.weight.*expected \[128,256,1,1\]/);
    const t2 = randomUnetTensors(1);
    const betas = Float32Array.from(model.betas);
    betas[500] *= 1.01;
    t2.set('sched.betas', { shape: [1000], data: betas });
    expect(() => loadUnet(writeSafetensors(t2))).toThrow(/sched\.betas\[500\]/);
    t2.set('sched.betas', { shape: [1000], data: Float32Array.from(model.betas) });
    expect(() => loadUnet(writeSafetensors(t2))).not.toThrow();
  });

  it('schedule: linear betas 1e-4..0.02 and their cumulative product', () => {
    expect(model.betas[0]).toBeCloseTo(1e-4, 9);
    expect(model.betas[999]).toBeCloseTo(0.02, 9);
    expect(model.alphaBars[0]).toBeCloseTo(1 - 1e-4, 7); // stored f32
    expect(model.alphaBars[999]).toBeCloseTo(4.03583e-5, 9); // numpy: cumprod(1 - linspace(1e-4, 0.02, 1000))[-1]
  });
});

describe('fm-unet CPU reference building blocks', () => {
  it('time features: sin/cos of t * 10000^(-k/32)', () => {
    const e = timeFeatures(999, 64);
    expect(e[0]).toBeCloseTo(Math.sin(999), 5);
    expect(e[32]).toBeCloseTo(Math.cos(999), 5);
    expect(e[31]).toBeCloseTo(Math.sin(999 * 10000 ** (-31 / 32)), 5);
    expect(e[63]).toBeCloseTo(Math.cos(999 * 10000 ** (-31 / 32)), 5);
  });

  it('conv (stride 2, pad 1) and GroupNorm match hand-computed values', () => {
    // 1 -> 1 channel 3x3 all-ones kernel over a 4x4 ramp, stride 2 pad 1: sums of clipped windows
    const x = Float32Array.from({ length: 16 }, (_, i) => i); // [1, 4, 4]
    const y = convCpu(x, { w: new Float32Array(9).fill(1), b: Float32Array.of(0.5), cin: 1, cout: 1, k: 3 }, 4, 4, 2, 1); // [1, 2, 2]
    // out(0,0): rows -1..1, cols -1..1 -> x[0,0]+x[0,1]+x[1,0]+x[1,1] = 0+1+4+5
    expect(Array.from(y)).toEqual([10.5, 0.5 + (1 + 2 + 3 + 5 + 6 + 7), 0.5 + (4 + 5 + 8 + 9 + 12 + 13), 0.5 + (5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15)]);
    const g = groupNormCpu(Float32Array.of(1, 3, 10, 12), { gamma: Float32Array.of(2, 1), beta: Float32Array.of(0, 5), c: 2 }, 2, 0, false);
    expect(Array.from(g)).toEqual([-2, 2, 4, 6]); // group 0: mean 2, std 1, gamma 2; group 1: mean 11, std 1, beta 5
  });

  it('attention with identical keys averages the values', () => {
    const c = 2, lq = 1, lk = 3;
    const k = new Float32Array(c * lk).fill(0.3); // [c, lk] all keys equal
    const v = Float32Array.of(1, 2, 6, 0, 3, 3); // [c, lk]
    const o = attentionCpu(Float32Array.of(1, -1), k, v, c, lq, lk);
    expect(o[0]).toBeCloseTo(3, 6);
    expect(o[1]).toBeCloseTo(2, 6);
  });
});

describe('fm-unet GPU forward vs CPU reference (random weights, spec shapes)', () => {
  it('t=999 y=3: max |eps_gpu - eps_cpu| < 1e-4', async () => {
    const gpu = await testGpu();
    const ug = UnetGpu.create(gpu, model);
    const x = gaussianNoise(1, 0, S * S); // [1, 32, 32]
    const want = unetReference(model, x, 999, 3); // [1, 32, 32]
    const got = await ug.forward(x, 999, 3); // [1, 32, 32]
    const rms = Math.sqrt(want.reduce((a, v) => a + v * v, 0) / want.length);
    expect(rms).toBeGreaterThan(0.05); // a live network, not a collapsed one
    expect(maxAbsErr(got, want)).toBeLessThan(1e-4);
    ug.destroy();
  }, 600_000); // ~40 s on a loaded 2-core box (CPU forward ~0.8 GMAC + lavapipe)

  it('classifier-free guidance w=2 (conditional + null-class forwards) on the GPU equals the CPU', async () => {
    const gpu = await testGpu();
    const ug = UnetGpu.create(gpu, model);
    const x = gaussianNoise(9, 0, S * S); // [1, 32, 32]
    const cond = unetReference(model, x, 17, 7); // [1, 32, 32]
    const unc = unetReference(model, x, 17, 10); // [1, 32, 32], null class
    expect(maxAbsErr(cond, unc)).toBeGreaterThan(1e-3); // the class embedding matters
    const want = unc.map((u, i) => u + 2 * (cond[i] - u)); // the spec's formula, written out here
    expect(maxAbsErr(await ug.forwardGuided(x, 17, 7, 2), want)).toBeLessThan(2e-4);
    ug.destroy();
  }, 600_000);
});
