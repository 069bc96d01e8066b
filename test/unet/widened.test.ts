// The widened (SD-like) U-Net path of the DistriFusion speed bench at toy sizes: the config carried in
// the safetensors metadata through the image engine's loader, the GPU forward and the GPU patch
// backend at channel counts past attention.wgsl's limits (the big-shape attention kernels) against the CPU
// reference, the 2D-dispatch add, and the comm-free no_sync ideal that sends nothing per step.
import { afterAll, describe, expect, it } from 'vitest';
import { loopbackComms } from '../../src/collectives/loopback';
import type { Comm } from '../../src/collectives/types';
import { isUnetSafetensors, loadUnetModel } from '../../src/engines/unet-image';
import * as addK from '../../src/kernels/diffusion/add';
import * as attn from '../../src/kernels/diffusion/attention';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { FM_UNET_CONFIG, UNET_CONFIG_METADATA_KEY, type UnetConfig } from '../../src/model/unet/config';
import { UnetGpu } from '../../src/model/unet/forward-gpu';
import { unetReference } from '../../src/model/unet/reference';
import { randomUnetSafetensorsBytes, sdLikeUnetConfig } from '../../src/model/unet/widened';
import { runUnetPatchParallel } from '../../src/parallel/patch-unet';
import { unetGpuPatchBackend } from '../../src/parallel/patch-unet-gpu';
import { testGpu } from '../helpers/gpu';
import { maxAbsErr, maxRelErr, randomUnetTensors, writeSafetensors } from './helpers';

const disposers: (() => void)[] = [];
afterAll(() => disposers.forEach((d) => d()));

/** SD-like layout at toy size: 4 latent channels, GroupNorm(32), and 544 channels at the deepest level (> 512: the online attention kernel). */
const WIDE_TOY: UnetConfig = {
  ...sdLikeUnetConfig(64, 0.1), // latent 8x8
  baseCh: 32,
  levels: [
    { ch: 32, attn: false },
    { ch: 64, attn: true },
    { ch: 544, attn: true },
  ],
  timeFreqDim: 32,
  tembDim: 128,
};

describe('widened U-Net: config in the safetensors metadata', () => {
  it('round-trips through the image engine loader; fm-unet files without metadata keep FM_UNET_CONFIG', () => {
    const bytes = randomUnetSafetensorsBytes(WIDE_TOY, 3);
    expect(isUnetSafetensors(bytes)).toBe(true);
    const m = loadUnetModel(bytes);
    expect(m.config).toEqual(WIDE_TOY);
    expect(m.down[2].attn!.c).toBe(544);
    expect(m.convIn.cin).toBe(4);
    const fm = writeSafetensors(randomUnetTensors(1));
    expect(isUnetSafetensors(fm)).toBe(true);
    expect(loadUnetModel(fm).config).toEqual(FM_UNET_CONFIG);
  });

  it('rejects a malformed metadata config with its reason', () => {
    const bytes = randomUnetSafetensorsBytes(WIDE_TOY, 3);
    const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + len));
    const bad = text.replace('\\"groups\\":32', '\\"groups\\":-1'); // inside the JSON-string metadata value
    expect(bad).not.toBe(text);
    expect(bad.length).toBe(text.length);
    const b2 = bytes.slice();
    b2.set(new TextEncoder().encode(bad), 8);
    expect(() => loadUnetModel(b2)).toThrow(new RegExp(`${UNET_CONFIG_METADATA_KEY}: 'groups' = -1 is not a positive integer`));
  });

  it('sd-like config: latent px/8, 4 channels, 320/640/1280, GroupNorm 32', () => {
    const c = sdLikeUnetConfig(1024);
    expect(c.size).toBe(128);
    expect(c.levels.map((l) => [l.ch, l.attn])).toEqual([[320, false], [640, true], [1280, true]]);
    expect([c.inChannels, c.baseCh, c.groups, c.tembDim, c.timeFreqDim]).toEqual([4, 320, 32, 1280, 320]);
    expect(() => sdLikeUnetConfig(100)).toThrow(/multiple of 32/);
  });
});

describe('big-shape kernels vs their references', () => {
  it('add over more than 65535 x 64 floats (2D dispatch)', async () => {
    const gpu = await testGpu();
    const n = 65535 * 64 + 777;
    expect(addK.grid1d(n).y).toBe(2);
    const a = gaussianNoise(9, 1, n), b = gaussianNoise(9, 2, n); // [n]
    const y = addK.add(gpu, gpu.upload(a), gpu.upload(b), n);
    const got = new Float32Array(await gpu.read(y, n * 4));
    const want = addK.reference(a, b);
    let bad = 0; // element-wise (toEqual on 4M floats is slow)
    for (let i = 0; i < n; i++) if (got[i] !== want[i]) bad++;
    expect(bad).toBe(0);
    expect(got[n - 1]).toBe(a[n - 1] + b[n - 1]); // the last element sits in the second dispatch row
    gpu.free(y);
  }, 120_000);

  for (const s of [
    { c: 130, lq: 7, lk: 150 }, // keys not a multiple of the 64-key block; 3 accumulators per thread
    { c: 640, lq: 5, lk: 1100 }, // past attention.wgsl's channel and key limits
    { c: 8, lq: 70, lk: 70 }, // small: the same result as attention.wgsl's shapes
    { c: 4, lq: 65600, lk: 6 }, // more queries than one dispatch dimension holds
  ]) {
    it(`attention_online c${s.c} lq${s.lq} lk${s.lk}`, async () => {
      const gpu = await testGpu();
      const qHost = new Float32Array(3 + s.c * s.lq); // q after 3 junk floats: offsets honoured
      qHost.set(gaussianNoise(11, s.c, s.c * s.lq), 3);
      const kvHost = gaussianNoise(12, s.lk, 2 * s.c * s.lk).map((v) => 2 * v); // [2c, lk], peaked softmax
      const shape = { c: s.c, lq: s.lq, lk: s.lk, qBase: 3, kBase: 0, vBase: s.c * s.lk };
      const out = attn.attention(gpu, gpu.upload(qHost), gpu.upload(kvHost), shape, 'online'); // [c, lq]
      const got = new Float32Array(await gpu.read(out, s.c * s.lq * 4));
      expect(maxRelErr(got, attn.reference(qHost, kvHost, shape))).toBeLessThan(5e-5);
      gpu.free(out);
    }, 120_000);
  }
});

describe('widened U-Net on the GPU vs the CPU reference (toy size)', () => {
  const model = loadUnetModel(randomUnetSafetensorsBytes(WIDE_TOY, 5));
  const x = gaussianNoise(6, 0, 4 * 8 * 8); // [4, 8, 8]

  it('single-device forward: max |eps_gpu - eps_cpu| < 1e-4', async () => {
    const gpu = await testGpu();
    const ug = UnetGpu.shared(gpu, model);
    const want = unetReference(model, x, 500, 3); // [4, 8, 8]
    const got = await ug.forward(x, 500, 3);
    expect(maxAbsErr(got, want)).toBeLessThan(1e-4);
  }, 300_000);

  it('patch parallel full_sync N=2, one DDIM step: the gathered eps equals the CPU eps', async () => {
    const gpu = await testGpu();
    const comms = loopbackComms(2);
    disposers.push(() => comms.forEach((c) => c.dispose()));
    const epsLog: { eps: Float32Array; z: Float32Array }[] = [];
    await Promise.all(comms.map((comm, rank) => runUnetPatchParallel({
      comm, model, rank, nPeers: 2, sampler: { kind: 'ddim', steps: 1 }, mode: 'full_sync', warmupSteps: 1, seed: 4, label: 2, guidance: 1,
      backend: unetGpuPatchBackend(gpu, model), onEps: rank === 0 ? (_k, eps, z) => epsLog.push({ eps, z }) : undefined,
    })));
    expect(epsLog.length).toBe(1);
    expect(maxAbsErr(epsLog[0].eps, unetReference(model, epsLog[0].z, 999, 2))).toBeLessThan(1e-4);
  }, 300_000);

  it('commFree no_sync sends nothing during the steps (one final rows gather) and computes the same first-step patches', async () => {
    const gpu = await testGpu();
    const run = async (commFree: boolean) => {
      const comms = loopbackComms(2);
      disposers.push(() => comms.forEach((c) => c.dispose()));
      const calls: string[][] = [[], []];
      const stepsDone = [false, false]; // per rank: its last step's event came (the final gather follows it)
      const eps0: Float32Array[] = [];
      const res = await Promise.all(comms.map((c, rank) => {
        const counted: Comm = {
          rank: c.rank, size: c.size,
          allGather: (d) => (calls[rank].push(stepsDone[rank] ? 'after' : 'step'), c.allGather(d)),
          allReduce: (d) => (calls[rank].push('allReduce'), c.allReduce(d)),
          broadcast: (d, root) => (calls[rank].push('broadcast'), c.broadcast(d, root)),
        };
        return runUnetPatchParallel({
          comm: counted, model, rank, nPeers: 2, sampler: { kind: 'ddim', steps: 3 }, mode: 'no_sync', warmupSteps: 1, seed: 4, label: 2, guidance: 1,
          backend: unetGpuPatchBackend(gpu, model), commFree,
          onEps: (k, eps) => { if (k === 0) eps0[rank] = eps.slice(); },
          onStep: (ev) => { if (ev.step === 2) stepsDone[rank] = true; },
        });
      }));
      return { calls, res, eps0 };
    };
    const free = await run(true);
    expect(free.calls).toEqual([['after'], ['after']]); // no traffic during the steps, one gather of the final rows
    expect(free.res[0].bytesSentPerStep).toBe(0);
    expect(free.res[1].image).toEqual(free.res[0].image);
    const gathered = await run(false);
    expect(gathered.calls[0].length).toBe(3); // plain no_sync: one eps allGather a step
    // the first step's latent is the same, so each peer's own eps rows agree (rows 0..3 / 4..7 of 8)
    for (let rank = 0; rank < 2; rank++) {
      for (let c = 0; c < 4; c++) {
        const rows = (e: Float32Array) => e.subarray((c * 8 + 4 * rank) * 8, (c * 8 + 4 * rank + 4) * 8);
        expect(rows(free.eps0[rank])).toEqual(rows(gathered.eps0[rank]));
      }
    }
  }, 300_000);
});
