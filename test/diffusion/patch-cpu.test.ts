// Patch-parallel runner on the CPU backend over the real collectives (loopback transport).
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loopbackComms, loopbackGroup } from '../../src/collectives/loopback';
import { loadDdpm } from '../../src/model/ddpm/config';
import { psnr, ssim } from '../../src/model/ddpm/metrics';
import { initialLatent, sampleImage, samplerTimesteps, type SamplerSpec } from '../../src/model/ddpm/sampler';
import { forwardReference } from '../../src/model/ddpm/reference';
import type { PatchStepEvent } from '../../src/parallel/patch';
import { runPatchParallel, type PatchMode, type PatchRunResult } from '../../src/parallel/patch';

const shared = process.env.TABMESH_SHARED ?? new URL('../../../shared/', import.meta.url).pathname;
const model = loadDdpm(readFileSync(`${shared}/models/ddpm-mnist-cnn/ddpm_mnist_starter.safetensors`));
const disposers: (() => void)[] = [];
afterAll(() => disposers.forEach((d) => d()));

async function runAll(n: number, mode: PatchMode, sampler: SamplerSpec, seed: number, warmupSteps = 2): Promise<PatchRunResult[]> {
  const comms = loopbackComms(n);
  disposers.push(() => comms.forEach((c) => c.dispose()));
  return Promise.all(
    comms.map((comm, rank) => runPatchParallel({ comm, model, rank, nPeers: n, steps: sampler.steps, sampler: sampler.kind, mode, warmupSteps, seed })),
  );
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('patch parallel (CPU runner)', () => {
  for (const [n, kind] of [[2, 'ddim'], [3, 'ddim'], [4, 'ddpm']] as const) {
    it(`full_sync with N=${n} (${kind}) equals single-device within 1e-4`, async () => {
      const sampler: SamplerSpec = { kind, steps: 4 };
      const ref = await sampleImage({ model, sampler, seed: 3 });
      const res = await runAll(n, 'full_sync', sampler, 3);
      let row = 0;
      for (const r of res) {
        expect(r.rows[0]).toBe(row); // contiguous cover of all 28 rows
        row = r.rows[1];
        expect(maxDiff(r.patch, ref.subarray(r.rows[0] * 28, r.rows[1] * 28))).toBeLessThan(1e-4);
        expect(maxDiff(r.image, ref)).toBeLessThan(1e-4);
      }
      expect(row).toBe(28);
    });
  }

  it('corrected_async_gn (N=2, DDIM 20, warmup 2) >= 20 dB vs single-device; no_sync clearly worse', async () => {
    const sampler: SamplerSpec = { kind: 'ddim', steps: 20 };
    const ref = await sampleImage({ model, sampler, seed: 1 });
    const out: Record<string, { psnr: number; ssim: number }> = {};
    for (const mode of ['corrected_async_gn', 'no_sync'] as PatchMode[]) {
      const [r0, r1] = await runAll(2, mode, sampler, 1);
      expect(r1.image).toEqual(r0.image); // every peer ends with the same latent
      out[mode] = { psnr: psnr(r0.image, ref), ssim: ssim(r0.image, ref, 28, 28) };
    }
    console.log('N=2 DDIM-20 seed 1 vs single-device:', JSON.stringify(out));
    expect(out.corrected_async_gn.psnr).toBeGreaterThanOrEqual(20);
    expect(out.no_sync.psnr).toBeLessThan(out.corrected_async_gn.psnr - 6);
    expect(out.no_sync.ssim).toBeLessThan(out.corrected_async_gn.ssim);
  }, 600_000); // ~25 s on an idle 2-core machine; CPU forward passes are slow when the box is shared

  it('rejects with a clear error, not a hang, when a link closes mid-run', async () => {
    const { comms, channel } = loopbackGroup(2, { timeoutMs: 10_000 });
    disposers.push(() => comms.forEach((c) => c.dispose()));
    const runs = comms.map((comm, rank) =>
      runPatchParallel({ comm, model, rank, nPeers: 2, steps: 50, sampler: 'ddim', mode: 'corrected_async_gn', warmupSteps: 1, seed: 2 }),
    );
    setTimeout(() => channel('p0', 'p1').close(), 400); // a few steps in
    for (const r of runs) await expect(r).rejects.toThrow(/patch-parallel rank \d step \d+ \(corrected_async_gn\): .* failed: .*(left|closed)/);
  });

  it('reports every step per peer with its rows of the predicted x0 (the live preview)', async () => {
    const comms = loopbackComms(3);
    disposers.push(() => comms.forEach((c) => c.dispose()));
    const events: PatchStepEvent[][] = [[], [], []];
    await Promise.all(comms.map((comm, rank) => runPatchParallel({
      comm, model, rank, nPeers: 3, steps: 3, sampler: 'ddim', mode: 'full_sync', warmupSteps: 1, seed: 5, onStep: (ev) => events[rank].push(ev),
    })));
    // Independent check of step 0: x0 = (z - sqrt(1 - aB) eps) / sqrt(aB) from the CPU reference denoiser.
    const t = samplerTimesteps(model.config.nT, 3)[0];
    const z = initialLatent(model, 5); // [1, 28, 28]
    const eps = forwardReference(model, z, t / model.config.nT); // [1, 28, 28]
    const ab = model.alphaBars[t];
    for (const evs of events) {
      expect(evs.map((e) => e.step)).toEqual([0, 1, 2]);
      const e0 = evs[0];
      expect(e0.sync).toBe(true);
      expect(e0.computeMs).toBeGreaterThanOrEqual(0);
      for (let i = 0; i < e0.preview.length; i++) {
        const j = e0.rows[0] * 28 + i;
        const want = Math.min(1, Math.max(0, (z[j] - Math.sqrt(1 - ab) * eps[j]) / Math.sqrt(ab) + 0.5));
        expect(Math.abs(e0.preview[i] - want)).toBeLessThan(1e-4);
      }
    }
    // the three peers' rows tile the image in rank order
    expect(events[0][0].rows[0]).toBe(0);
    expect(events[1][0].rows[0]).toBe(events[0][0].rows[1]);
    expect(events[2][0].rows[0]).toBe(events[1][0].rows[1]);
    expect(events[2][0].rows[1]).toBe(28);
    expect(events.reduce((n, e) => n + e[0].preview.length, 0)).toBe(28 * 28);
  });

  it('checks that the comm matches rank/nPeers', async () => {
    const comms = loopbackComms(2);
    disposers.push(() => comms.forEach((c) => c.dispose()));
    await expect(
      runPatchParallel({ comm: comms[0], model, rank: 0, nPeers: 3, steps: 2, sampler: 'ddim', mode: 'full_sync', warmupSteps: 1, seed: 0 }),
    ).rejects.toThrow(/comm is rank 0\/2, options say 0\/3/);
  });
});
