// The WGSL backend of the fm-unet DistriFusion runner over the real collectives (loopback), against
// independent references: the single-device CPU U-Net (full_sync), the plain-TS backend (async
// modes, same math from stale data), patch-stats.ts's combineStats (gn_combine kernel).
import { afterAll, describe, expect, it } from 'vitest';
import { loopbackComms } from '../../src/collectives/loopback';
import * as cs from '../../src/kernels/diffusion/copy-strided';
import * as hf from '../../src/kernels/diffusion/halo-fill';
import * as gnc from '../../src/kernels/diffusion/gn-combine';
import { gaussianNoise } from '../../src/model/ddpm/sampler';
import { FM_UNET_CONFIG, type UnetConfig, type UnetModel } from '../../src/model/unet/config';
import { unetReference } from '../../src/model/unet/reference';
import { unetTimesteps, type SamplerSpec } from '../../src/model/unet/sampler';
import type { PatchStepEvent } from '../../src/parallel/patch';
import type { PatchMode } from '../../src/parallel/patch-plan';
import { combineStats, toMeanRstd } from '../../src/parallel/patch-stats';
import { runUnetPatchParallel, type UnetPatchBackend, type UnetPatchRunResult } from '../../src/parallel/patch-unet';
import { unetGpuPatchBackend } from '../../src/parallel/patch-unet-gpu';
import { testGpu } from '../helpers/gpu';
import { maxAbsErr, maxRelErr, randomUnet, TINY_UNET } from './helpers';

const TINY16: UnetConfig = { ...TINY_UNET, size: 16 }; // levels of 16, 8, 4 rows: up to 4 peers
const tiny = randomUnet(5, TINY16);
const disposers: (() => void)[] = [];
afterAll(() => disposers.forEach((d) => d()));

type StepLog = { eps: Float32Array; z: Float32Array }[];

interface RunSpec {
  model: UnetModel;
  n: number;
  mode: PatchMode;
  sampler: SamplerSpec;
  guidance: number;
  warmupSteps: number;
  backend: (rank: number) => UnetPatchBackend | undefined; // undefined: the CPU backend
  log?: StepLog; // rank 0's per-step guided eps and latent
  events?: PatchStepEvent[][]; // per rank
}

async function runAll(r: RunSpec): Promise<UnetPatchRunResult[]> {
  const comms = loopbackComms(r.n);
  disposers.push(() => comms.forEach((c) => c.dispose()));
  return Promise.all(comms.map((comm, rank) => runUnetPatchParallel({
    comm, model: r.model, rank, nPeers: r.n, sampler: r.sampler, mode: r.mode, warmupSteps: r.warmupSteps, seed: 4, label: 2,
    // f32 on the wire: this file compares the GPU backend with the CPU one, and f16 rounding of the
    // exchange would turn their 1e-6 differences into occasional 1-ulp f16 flips (test/unet/patch-unet-wire.test.ts covers f16).
    guidance: r.guidance, backend: r.backend(rank), commDtype: 'f32',
    onEps: rank === 0 && r.log ? (_k, eps, z) => r.log!.push({ eps, z }) : undefined,
    onStep: r.events ? (ev) => r.events![rank].push(ev) : undefined,
  })));
}

/** Every step's gathered eps vs the CPU single-device guided eps on the same latent. */
function expectExactSteps(model: UnetModel, log: StepLog, ts: number[], w: number, tol: number): void {
  expect(log.length).toBe(ts.length);
  log.forEach(({ eps, z }, k) => {
    const cond = unetReference(model, z, ts[k], 2); // [1, S, S]
    const want = w === 1 ? cond : unetReference(model, z, ts[k], 10).map((u, i) => u + w * (cond[i] - u));
    expect(maxAbsErr(eps, want)).toBeLessThan(tol);
  });
}

describe('patch kernels: copy_strided and gn_combine', () => {
  it('copy_strided moves strided runs (tile rows -> segment) like its reference', async () => {
    const gpu = await testGpu();
    const src = gaussianNoise(3, 0, 5 * 9 * 7); // [5, 9, 7] a tile
    const dst0 = gaussianNoise(3, 1, 100); // [100] unrelated contents must survive
    const s = { count: 5, len: 7, srcBase: 8 * 7, srcStride: 9 * 7, dstBase: 13, dstStride: 7 }; // row 8 of each channel
    const d = gpu.upload(dst0);
    cs.copyStrided(gpu, gpu.upload(src), d, s);
    const got = new Float32Array(await gpu.read(d, 400));
    const want = dst0.slice();
    for (let c = 0; c < 5; c++) for (let w = 0; w < 7; w++) want[13 + c * 7 + w] = src[(c * 9 + 8) * 7 + w]; // written out here
    expect(got).toEqual(want);
    expect(cs.reference(src, dst0, s)).toEqual(want);
  });

  for (const [name, top, bottom, withSend, rows] of [
    ['both neighbours, send 2 rows', 17, 3, true, 4],
    ['image top edge (zero row), one-row patch', null, 40, true, 1],
    ['image bottom edge, no send (sync step)', 5, null, false, 3],
  ] as const) {
    it(`halo_fill: ${name}`, async () => {
      const gpu = await testGpu();
      const C = 3, W = 70; // W > 64: two workgroups along x
      const src = gaussianNoise(4, 0, 60 + 2 * C * W); // [60 + 2 C W] a flat buffer of segments
      const tile = gaussianNoise(4, 1, C * (rows + 2) * W); // [C, rows+2, W] halo rows garbage before
      const send = gaussianNoise(4, 2, 11 + 2 * C * W + 5); // unrelated contents must survive
      const s: hf.HaloFillShape = { C, W, rows, top, bottom, mineOff: 11, mineRows: rows >= 2 ? 2 : 1 };
      const [tb, sb] = [gpu.upload(tile), gpu.upload(send)];
      hf.haloFill(gpu, gpu.upload(src), tb, withSend ? sb : null, s);
      const want = hf.reference(src, tile, withSend ? send : null, s);
      expect(new Float32Array(await gpu.read(tb, tile.byteLength))).toEqual(want.tile);
      expect(new Float32Array(await gpu.read(sb, send.byteLength))).toEqual(withSend ? want.send : send);
      // the reference, written out: halo rows from src (or zero), the middle rows untouched
      const plane = (rows + 2) * W;
      for (let c = 0; c < C; c++) {
        for (let x = 0; x < W; x++) {
          expect(want.tile[c * plane + x]).toBe(top === null ? 0 : src[top + c * W + x]);
          expect(want.tile[c * plane + (rows + 1) * W + x]).toBe(bottom === null ? 0 : src[bottom + c * W + x]);
          expect(want.tile[c * plane + W + x]).toBe(tile[c * plane + W + x]);
          if (withSend) expect(want.send![11 + c * W + x]).toBe(tile[c * plane + W + x]);
        }
      }
    });
  }

  it('gn_combine matches combineStats for exact, stale_gn and corrected (incl. a negative extrapolated variance)', async () => {
    const gpu = await testGpu();
    const groups = 4;
    const counts = [96, 64, 64]; // uneven patches
    const rank = 1;
    // this patch's fresh values per group -> two-pass [mean, var] and float64 sums
    const localMv = new Float32Array(2 * groups); // [groups, 2]
    const fresh = new Float64Array(2 * groups); // [groups, 2]
    for (let g = 0; g < groups; g++) {
      const x = gaussianNoise(11, g, counts[rank]).map((v) => 0.7 * v + g - 1.5);
      const m = x.reduce((a, v) => a + v, 0) / x.length;
      localMv[2 * g] = m;
      localMv[2 * g + 1] = x.reduce((a, v) => a + (v - m) ** 2, 0) / x.length;
      fresh[2 * g] = x.reduce((a, v) => a + v, 0);
      fresh[2 * g + 1] = x.reduce((a, v) => a + v * v, 0);
    }
    // every rank's stale sums, at odd offsets in one buffer; group 3's stale local mean is far off so
    // the corrected variance goes negative and falls back to the local statistics
    const bases = [5, 40, 17];
    const ranks = new Float32Array(64);
    const perRank = counts.map((n, p) => {
      const s = new Float32Array(2 * groups); // [groups, 2]
      for (let g = 0; g < groups; g++) {
        const mean = 0.3 * p + g - 1.4 + (p === rank && g === 3 ? 6 : 0);
        s[2 * g] = mean * n;
        s[2 * g + 1] = (0.45 + mean * mean) * n;
      }
      ranks.set(s, bases[p]);
      return s;
    });
    const rb = gpu.upload(ranks);
    const mvb = gpu.upload(localMv);
    for (const [mode, km] of [['stale_gn', 'stale_gn'], ['corrected_async_gn', 'corrected']] as const) {
      const sums = gpu.alloc(64 * 4);
      const mr = gnc.gnCombine(gpu, mvb, rb, sums, km, { groups, rank, counts, bases, sumsOff: 9, eps: 1e-5 });
      const got = new Float32Array(await gpu.read(mr, 8 * groups));
      const want = toMeanRstd(combineStats(mode, false, { groups, counts, rank, fresh, perRank }), 1e-5);
      expect(maxRelErr(got, want)).toBeLessThan(1e-4);
      expect(maxRelErr(gnc.reference(localMv, ranks, km, { groups, rank, counts, bases, sumsOff: 9, eps: 1e-5 }).meanRstd, want)).toBeLessThan(1e-4);
      const gotSums = new Float32Array(await gpu.read(sums, 64 * 4)).subarray(9, 9 + 2 * groups);
      expect(maxRelErr(gotSums, Float32Array.from(fresh))).toBeLessThan(1e-5);
      gpu.free(mr);
      gpu.free(sums);
    }
    // exact: perRank = this step's sums of every rank, own included
    const ranksNow = ranks.slice();
    ranksNow.set(Float32Array.from(fresh), bases[rank]);
    const sums = gpu.alloc(64 * 4);
    const mr = gnc.gnCombine(gpu, mvb, gpu.upload(ranksNow), sums, 'exact', { groups, rank, counts, bases, sumsOff: 0, eps: 1e-5 });
    const now = perRank.map((s, p) => (p === rank ? Float32Array.from(fresh) : s));
    const want = toMeanRstd(combineStats('sync_gn', true, { groups, counts, rank, fresh, perRank: now }), 1e-5);
    expect(maxRelErr(new Float32Array(await gpu.read(mr, 8 * groups)), want)).toBeLessThan(1e-4);
  });
});

describe('fm-unet patch parallel, GPU backend (toy 16x16, loopback comms)', () => {
  for (const [n, kind, w] of [[2, 'ddim', 2], [3, 'ddpm', 1]] as const) {
    it(`full_sync N=${n} ${kind} 3 steps w=${w}: every step's eps equals the single-device eps within 1e-4`, async () => {
      const gpu = await testGpu();
      const sampler: SamplerSpec = { kind, steps: 3 }; // N=3: uneven patches of 8, 4, 4 rows
      const log: StepLog = [];
      const res = await runAll({ model: tiny, n, mode: 'full_sync', sampler, guidance: w, warmupSteps: 1, backend: () => unetGpuPatchBackend(gpu, tiny), log });
      expectExactSteps(tiny, log, unetTimesteps(1000, 3), w, 1e-4);
      for (const r of res) expect(r.image).toEqual(res[0].image);
    }, 300_000);
  }

  for (const [mode, n, w] of [['corrected_async_gn', 2, 1], ['corrected_async_gn', 3, 2], ['stale_gn', 2, 1], ['sync_gn', 4, 1], ['no_sync', 2, 1]] as const) {
    it(`${mode} N=${n} w=${w}: per-step eps equals the CPU backend's within 1e-4 (DDIM 4, warm-up 1)`, async () => {
      const gpu = await testGpu();
      const sampler: SamplerSpec = { kind: 'ddim', steps: 4 };
      const cpuLog: StepLog = [];
      const gpuLog: StepLog = [];
      const cpu = await runAll({ model: tiny, n, mode, sampler, guidance: w, warmupSteps: 1, backend: () => undefined, log: cpuLog });
      const res = await runAll({ model: tiny, n, mode, sampler, guidance: w, warmupSteps: 1, backend: () => unetGpuPatchBackend(gpu, tiny), log: gpuLog });
      gpuLog.forEach(({ eps }, k) => expect(maxAbsErr(eps, cpuLog[k].eps)).toBeLessThan(1e-4));
      for (const r of res) expect(r.image).toEqual(res[0].image); // peers agree
      expect(maxAbsErr(res[0].image, cpu[0].image)).toBeLessThan(1e-3);
      if (mode !== 'no_sync') {
        // it really ran on stale values: the async steps' eps differ from the exact eps on the same latent
        const exact = unetReference(tiny, gpuLog[3].z, unetTimesteps(1000, 4)[3], 2);
        if (w === 1) expect(maxAbsErr(gpuLog[3].eps, exact)).toBeGreaterThan(1e-5);
      }
    }, 300_000);
  }

  it('onStep: PatchStepEvents with this peer\'s rows of the predicted x0 as pixels, sync flags and timings', async () => {
    const gpu = await testGpu();
    const steps = 4;
    const log: StepLog = [];
    const events: PatchStepEvent[][] = [[], [], []];
    await runAll({
      model: tiny, n: 3, mode: 'corrected_async_gn', sampler: { kind: 'ddim', steps }, guidance: 1, warmupSteps: 2,
      backend: () => unetGpuPatchBackend(gpu, tiny), log, events,
    });
    const ts = unetTimesteps(1000, steps);
    const S = 16;
    events.forEach((evs, rank) => {
      expect(evs.map((e) => e.step)).toEqual([0, 1, 2, 3]);
      expect(evs.map((e) => e.sync)).toEqual([true, true, false, false]); // warm-up 2
      for (const e of evs) {
        expect(e.steps).toBe(steps);
        expect(e.width).toBe(S);
        expect(e.rows).toEqual([[0, 8], [8, 12], [12, 16]][rank]);
        expect(e.preview.length).toBe((e.rows[1] - e.rows[0]) * S);
        expect(e.computeMs).toBeGreaterThanOrEqual(0);
        expect(e.commWaitMs).toBeGreaterThanOrEqual(0);
        expect(e.startMs).toBeGreaterThanOrEqual(0);
        // x0 from the gathered eps and the step's latent, written out here
        const { eps, z } = log[e.step];
        const ab = tiny.alphaBars[ts[e.step]];
        const want = new Float32Array(e.preview.length);
        for (let i = 0; i < want.length; i++) {
          const g = e.rows[0] * S + i;
          want[i] = Math.min(1, Math.max(0, ((z[g] - Math.sqrt(1 - ab) * eps[g]) / Math.sqrt(ab) + 1) / 2));
        }
        expect(maxAbsErr(e.preview, want)).toBeLessThan(1e-6);
      }
      for (let k = 1; k < steps; k++) expect(evs[k].startMs).toBeGreaterThanOrEqual(evs[k - 1].startMs);
    });
  }, 300_000);
});

describe('fm-unet patch parallel, GPU backend at the spec shapes', () => {
  it('full_sync N=2, 32x32, one DDIM step: eps equals the single-device CPU eps within 1e-4', async () => {
    const gpu = await testGpu();
    const model = randomUnet(42, FM_UNET_CONFIG);
    const log: StepLog = [];
    const res = await runAll({ model, n: 2, mode: 'full_sync', sampler: { kind: 'ddim', steps: 1 }, guidance: 1, warmupSteps: 1, backend: () => unetGpuPatchBackend(gpu, model), log });
    expectExactSteps(model, log, [999], 1, 1e-4);
    expect(res[1].image).toEqual(res[0].image);
  }, 600_000);
});
