// Patch-parallel runner on the GPU backend (the diffusion WGSL kernels) over loopback collectives.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loopbackComms } from '../../src/collectives/loopback';
import { loadDdpm } from '../../src/model/ddpm/config';
import { DdpmGpu } from '../../src/model/ddpm/forward-gpu';
import { psnr } from '../../src/model/ddpm/metrics';
import { sampleImage, type SamplerSpec } from '../../src/model/ddpm/sampler';
import { runPatchParallel, type PatchMode } from '../../src/parallel/patch';
import { gpuPatchBackend } from '../../src/parallel/patch-gpu';
import { testGpu } from '../helpers/gpu';

const shared = process.env.TABMESH_SHARED ?? new URL('../../../shared/', import.meta.url).pathname;
const model = loadDdpm(readFileSync(`${shared}/models/ddpm-mnist-cnn/ddpm_mnist_starter.safetensors`));

async function runGpu(n: number, mode: PatchMode, sampler: SamplerSpec, seed: number) {
  const dg = DdpmGpu.create(await testGpu(), model);
  const comms = loopbackComms(n);
  try {
    return await Promise.all(
      comms.map((comm, rank) =>
        runPatchParallel({ comm, model, rank, nPeers: n, steps: sampler.steps, sampler: sampler.kind, mode, warmupSteps: 2, seed, backend: gpuPatchBackend(dg) }),
      ),
    );
  } finally {
    comms.forEach((c) => c.dispose());
  }
}

describe('patch parallel (GPU runner)', () => {
  it('full_sync with N=2 equals the single-device CPU sample within 1e-4', async () => {
    const sampler: SamplerSpec = { kind: 'ddim', steps: 3 };
    const ref = await sampleImage({ model, sampler, seed: 5 }); // CPU reference, single device
    const res = await runGpu(2, 'full_sync', sampler, 5);
    for (const r of res) {
      let worst = 0;
      for (let i = 0; i < 784; i++) worst = Math.max(worst, Math.abs(r.image[i] - ref[i]));
      expect(worst).toBeLessThan(1e-4);
    }
  });

  it('corrected_async_gn with N=2 stays close to single-device (>= 20 dB)', async () => {
    const sampler: SamplerSpec = { kind: 'ddim', steps: 8 };
    const ref = await sampleImage({ model, sampler, seed: 5 });
    const [r] = await runGpu(2, 'corrected_async_gn', sampler, 5);
    const p = psnr(r.image, ref);
    console.log(`GPU N=2 corrected_async_gn DDIM-8 seed 5: ${p.toFixed(2)} dB`);
    expect(p).toBeGreaterThanOrEqual(20);
  });
});
