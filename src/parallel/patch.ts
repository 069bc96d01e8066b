// DistriFusion displaced patch parallelism for the ddpm-mnist-cnn denoiser.
//
// Every peer holds the full latent z (it is updated identically on all peers from the gathered
// eps), computes the denoiser on its rows [r0, r1) only, and per layer needs the neighbours'
// boundary rows (conv halos) and the norm statistics. In the async modes those come from the
// PREVIOUS step: the peer packs everything it must send during a step into ONE flat buffer, starts
// comm.allGather on it at the end of the step without awaiting, and awaits it only when the first
// layer that reads it runs at the next step, so the network overlaps a whole denoiser pass.
import type { Comm } from '../collectives/types';
import type { DdpmModel } from '../model/ddpm/config';
import {
  initialLatent, samplerTimesteps, samplerUpdate, stepNoise, type SamplerKind, type SamplerSpec,
} from '../model/ddpm/sampler';
import { cpuPatchBackend, type PatchBackend } from './patch-cpu';
import { buildPatchPlan, buildTile, packBoundary, type PatchMode, type PatchPlan, type RowRange } from './patch-plan';
import { combineStats, toMeanRstd } from './patch-stats';

export type { PatchMode } from './patch-plan';

export interface PatchRunOptions {
  comm: Comm;
  model: DdpmModel;
  rank: number;
  nPeers: number;
  steps: number;
  sampler: SamplerKind | SamplerSpec;
  mode: PatchMode;
  /** Synchronous (exact) steps before the async modes start; step 0 is always synchronous. */
  warmupSteps: number;
  seed: number;
  batch?: 1;
  backend?: PatchBackend; // default: CPU reference ops
  commTimeoutMs?: number; // a collective that takes longer rejects (default 60 s)
  /** Called after every step with this peer's rows of the predicted clean image (live preview). */
  onStep?: (ev: PatchStepEvent) => void;
}

/** One denoising step as one peer saw it: what the coordinator paints and puts on the timeline. */
export interface PatchStepEvent {
  step: number; // 0-based
  steps: number;
  rows: RowRange; // this peer's rows
  width: number;
  preview: Float32Array; // [C, r1-r0, W] pixels in [0, 1] of the predicted x0 = (z - sqrt(1-aB) eps) / sqrt(aB)
  startMs: number; // step start, ms since the run started
  computeMs: number; // the step's wall time minus its waits on collectives
  commWaitMs: number; // time blocked on collectives during this step
  sync: boolean; // a synchronous (warm-up or full_sync) step
}

export interface PatchTimings {
  totalMs: number;
  commWaitMs: number; // time blocked on collectives (sync gathers + awaiting the async buffer)
  steps: number;
  bytesSentPerStep: number; // the async flat buffer, floats * 4
}

export interface PatchRunResult {
  rows: RowRange;
  patch: Float32Array; // [C, r1-r0, W]: this peer's rows of the final latent
  image: Float32Array; // [C, H, W]: the full final latent (every peer has it)
  timings: PatchTimings;
}

/** The plan for the ddpm-mnist-cnn blocks. */
export function ddpmPatchPlan(model: DdpmModel, nPeers: number): PatchPlan {
  const { height, width } = model.config;
  return buildPatchPlan(height, width, nPeers, model.blocks.map((b) => ({ ...b.spec, groups: 1 })));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export async function runPatchParallel(o: PatchRunOptions): Promise<PatchRunResult> {
  const { comm, model, rank, nPeers, mode } = o;
  if ((o.batch ?? 1) !== 1) throw new Error('patch-parallel: only batch 1 is supported');
  if (comm.size !== nPeers || comm.rank !== rank) {
    throw new Error(`patch-parallel: comm is rank ${comm.rank}/${comm.size}, options say ${rank}/${nPeers}`);
  }
  const spec: SamplerSpec = typeof o.sampler === 'string' ? { kind: o.sampler, steps: o.steps } : { ...o.sampler, steps: o.steps };
  const backend = o.backend ?? cpuPatchBackend(model);
  const timeoutMs = o.commTimeoutMs ?? 60_000;
  const plan = ddpmPatchPlan(model, nPeers);
  const reg = plan.registry;
  const { height: H, width: W, channels: C, lnEps, nT } = model.config;
  const [r0, r1] = plan.ranges[rank];
  const rows = r1 - r0;
  const ts = samplerTimesteps(nT, spec.steps);
  const t0 = performance.now();
  let commWaitMs = 0;

  const collect = async <T>(p: Promise<T>, what: string, k: number): Promise<T> => {
    const c0 = performance.now();
    try {
      return await withTimeout(p, timeoutMs, what);
    } catch (e) {
      throw new Error(`patch-parallel rank ${rank} step ${k} (${mode}): ${what} failed: ${(e as Error).message}`, { cause: e });
    } finally {
      commWaitMs += performance.now() - c0;
    }
  };

  // stale[p] = rank p's flat buffer as last received (from the async gather, or rebuilt from the
  // synchronous per-layer gathers of a warm-up step) -- what the async modes read this step
  let stale: Float32Array[] = plan.ranges.map((_, p) => new Float32Array(reg.total(p)));
  let pending: Promise<Float32Array[]> | null = null;
  let z = initialLatent(model, o.seed); // [C, H, W], replicated

  for (let k = 0; k < ts.length; k++) {
    const stepStart = performance.now();
    const waitBefore = commWaitMs;
    const syncStep = mode === 'full_sync' || (mode !== 'no_sync' && k < Math.max(1, o.warmupSteps));
    const asyncStep = !syncStep && mode !== 'no_sync';
    const send = asyncStep ? new Float32Array(reg.total(rank)) : null; // this step's flat buffer
    const getStale = async (): Promise<Float32Array[]> => {
      if (pending) {
        const p = pending;
        pending = null;
        const got = await collect(p, 'async flat-buffer allGather', k);
        got.forEach((g, r) => {
          if (g.length !== reg.total(r)) throw new Error(`patch-parallel: rank ${r} sent ${g.length} floats, plan says ${reg.total(r)}`);
        });
        stale = got;
      }
      return stale;
    };
    const temb = await backend.timeEmbedding(ts[k] / nT); // [16]
    let act: Float32Array | null = null; // [cin, rows, W] this peer's rows of the layer input
    let eps: Float32Array | null = null; // [1, rows, W]
    for (const L of plan.layers) {
      const R = L.radius;
      let tile: Float32Array; // [cin, rows + 2R, W]
      if (L.haloSeg < 0) {
        // first layer: the latent is replicated, so the exact halo is free (distrifuser's is_first_layer)
        tile = new Float32Array(L.cin * (rows + 2 * R) * W);
        for (let c = 0; c < L.cin; c++) {
          const a = Math.max(0, r0 - R);
          const b = Math.min(H, r1 + R);
          tile.set(z.subarray((c * H + a) * W, (c * H + b) * W), (c * (rows + 2 * R) + a - (r0 - R)) * W);
        }
      } else if (mode === 'no_sync') {
        tile = buildTile(plan, L, rank, act!, null); // zero halos: independent patches
      } else if (syncStep) {
        const mine = new Float32Array(L.boundary[rank].length * L.cin * W); // [nb, cin, W]
        packBoundary(plan, L, rank, act!, mine);
        const all = await collect(comm.allGather(mine), `block${L.block} halo allGather`, k);
        all.forEach((seg, p) => reg.view(stale[p], L.haloSeg, p).set(seg)); // keep for the next async step
        tile = buildTile(plan, L, rank, act!, all, true);
      } else {
        packBoundary(plan, L, rank, act!, reg.view(send!, L.haloSeg, rank)); // fresh rows, sent at step end
        tile = buildTile(plan, L, rank, act!, await getStale()); // previous step's neighbour rows
      }
      const y = await backend.conv(L.block, tile, rows); // [cout, rows, W]
      if (!L.norm) {
        eps = await backend.read(L.block, y, rows);
        backend.release?.(y);
        continue;
      }
      const fresh = await backend.stats(L.block, y, rows); // [groups, 2] local sums
      const counts = plan.ranges.map(([a, b]) => (L.cout / L.groups) * (b - a) * W);
      let mv: Float64Array; // [groups, 2] mean, var
      if (mode === 'no_sync') {
        mv = combineStats(mode, false, { groups: L.groups, counts, rank, fresh, perRank: null });
      } else if (syncStep || mode === 'sync_gn') {
        const all = await collect(comm.allGather(Float32Array.from(fresh)), `block${L.block} stats allGather`, k);
        all.forEach((s, p) => reg.view(stale[p], L.statsSeg, p).set(s));
        mv = combineStats(mode, true, { groups: L.groups, counts, rank, fresh, perRank: all });
        if (send) reg.view(send, L.statsSeg, rank).set(fresh);
      } else {
        reg.view(send!, L.statsSeg, rank).set(fresh);
        const st = await getStale();
        const perRank = plan.ranges.map((_, p) => reg.view(st[p], L.statsSeg, p));
        mv = combineStats(mode, false, { groups: L.groups, counts, rank, fresh, perRank });
      }
      act = await backend.apply(L.block, y, toMeanRstd(mv, lnEps), r0, rows, temb); // [cout, rows, W]
      backend.release?.(y);
    }
    if (send) {
      // start the step's one flat-buffer exchange; it is awaited by the next step's first reader
      const p = comm.allGather(send);
      p.catch(() => undefined); // a failure surfaces where it is awaited, never as an unhandled rejection
      pending = p;
    }
    // the denoiser output must be exact and complete for the sampler: synchronous gather
    const parts = await collect(comm.allGather(eps!), 'eps allGather', k);
    const full = new Float32Array(C * H * W); // [C, H, W], C = 1
    parts.forEach((part, p) => full.set(part, plan.ranges[p][0] * W));
    if (o.onStep) {
      const ab = model.alphaBars[ts[k]];
      const preview = new Float32Array(C * rows * W); // [C, rows, W]
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < rows * W; i++) {
          const e = (c * H + r0) * W + i;
          const x0 = (z[e] - Math.sqrt(1 - ab) * full[e]) / Math.sqrt(ab);
          preview[c * rows * W + i] = Math.min(1, Math.max(0, x0 + 0.5)); // the model's pixel = x + 0.5
        }
      }
      const wait = commWaitMs - waitBefore;
      o.onStep({ step: k, steps: ts.length, rows: [r0, r1], width: W, preview, startMs: stepStart - t0, computeMs: performance.now() - stepStart - wait, commWaitMs: wait, sync: syncStep });
    }
    z = samplerUpdate(model, spec, ts, k, z, full, stepNoise(model, spec, o.seed, k));
  }
  if (pending) await collect(pending, 'final async flat-buffer allGather', ts.length); // drain: keep the comm in lockstep
  return {
    rows: [r0, r1],
    patch: z.slice(r0 * W, r1 * W),
    image: z,
    timings: { totalMs: performance.now() - t0, commWaitMs, steps: ts.length, bytesSentPerStep: reg.total(rank) * 4 },
  };
}
