// The trained fm-unet against PyTorch's fp32 outputs (golden.safetensors: x.N [1,1,32,32], t.N [1],
// y.N [1], eps.N [1,1,32,32], N = 0..3): the CPU reference and the GPU forward within 1e-4.
// The files are committed (web/public/fm-unet/, made by train/unet/run-gpu.sh): a missing file fails.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, type SafeTensorFile } from '../../src/model/ddpm/safetensors';
import { loadUnet } from '../../src/model/unet/config';
import { UnetGpu } from '../../src/model/unet/forward-gpu';
import { unetReference } from '../../src/model/unet/reference';
import { testGpu } from '../helpers/gpu';
import { maxAbsErr } from './helpers';

// FM_UNET_DIR: check another export (e.g. a fresh trainer run) without copying it into web/public
const dir = process.env.FM_UNET_DIR ?? new URL('../../web/public/fm-unet/', import.meta.url).pathname;
const weights = `${dir}/fm-unet.safetensors`;
const golden = `${dir}/golden.safetensors`;

/** Tensor N of the golden file as a flat array, whatever leading unit dims the exporter used. */
function flat(g: SafeTensorFile, name: string, numel: number): Float32Array {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`golden: missing '${name}'`);
  if (t.data.length !== numel) throw new Error(`golden: '${name}' has shape ${JSON.stringify(t.shape)}, expected ${numel} elements`);
  return t.data;
}

describe('fm-unet vs PyTorch golden eps', () => {
  it('CPU reference and GPU forward match eps.N within 1e-4 for N = 0..3', async () => {
    const model = loadUnet(readFileSync(weights));
    const g = parseSafetensors(readFileSync(golden));
    const n = model.config.inChannels * model.config.size ** 2;
    const gpu = await testGpu();
    const ug = UnetGpu.create(gpu, model);
    for (let N = 0; N < 4; N++) {
      const x = flat(g, `x.${N}`, n); // [1, 1, 32, 32]
      const t = flat(g, `t.${N}`, 1)[0];
      const y = flat(g, `y.${N}`, 1)[0]; // stored as F32 (the loader reads F32 only)
      const eps = flat(g, `eps.${N}`, n); // [1, 1, 32, 32]
      const errCpu = maxAbsErr(unetReference(model, x, t, y), eps);
      const errGpu = maxAbsErr(await ug.forward(x, t, y), eps);
      console.log(`golden ${N} (t=${t}, y=${y}): max |eps - torch| cpu ${errCpu.toExponential(2)} gpu ${errGpu.toExponential(2)}`);
      expect(errCpu).toBeLessThan(1e-4);
      expect(errGpu).toBeLessThan(1e-4);
    }
    ug.destroy();
  }, 900_000); // 4 CPU + 4 GPU forwards at 32x32
});
