// DistriFusion displaced patch parallelism for fm-unet, alongside the ddpm-mnist runner in ./patch.ts
// and with the same modes, step protocol and PatchStepEvent. The runner owns the comms; a backend
// (plain TS here, WGSL in ./patch-unet-gpu.ts) runs this peer's share of the U-Net per step:
//  - every peer holds the full latent, runs the U-Net on its row patch at every level, and gathers
//    the eps rows synchronously for the (replicated) sampler update;
//  - each 3x3 conv needs one neighbour row above/below, each GroupNorm the global statistics, each
//    attention every position's K/V, exchanged as its normalised input x (half the bytes of [K; V])
//    and projected to K/V by every receiver with the layer's own weights. Synchronous steps
//    (full_sync, warm-up) gather them per layer;
//    async steps use the previous step's values from ONE flat buffer per peer (all layers'
//    segments, see ./patch-unet-plan.ts) whose allGather starts at the end of a step and is
//    awaited by the first layer that reads it at the next step. Attention then runs over fresh
//    local K/V rows + K/V projected from the stale remote x rows; GroupNorm per mode
//    (corrected_async_gn: stale global + fresh local - stale local, local statistics where that
//    variance goes negative).
//  - classifier-free guidance (w != 1) runs two branches per step with separate segments.
import type { Comm } from '../collectives/types';
import { conv2dReference } from '../kernels/diffusion/conv2d-ref';
import type { AttnW, Conv, GroupNormW, ResBlockW, UnetModel } from '../model/unet/config';
import { attentionCpu, linearCpu, tembActCpu, upsample2Cpu } from '../model/unet/reference';
import {
  unetInitialLatent, unetSamplerUpdate, unetStepNoise, unetTimesteps, type SamplerSpec,
} from '../model/unet/sampler';
import type { PatchStepEvent } from './patch';
import type { PatchMode, RowRange } from './patch-plan';
import { combineStats } from './patch-stats';
import { UnetAsyncExchange, unetPieces, type StaleFrom, type UnetStepDetail } from './patch-unet-exchange';
import { isWireEnc, type WireEnc } from './patch-unet-wire';
import {
  assembleRows, boundaryCount, branchKey, buildUnetPatchPlan, haloTile, packHalo, qkvSplit, type UnetPatchPlan,
} from './patch-unet-plan';

/** What a patch forward asks of the runner at each exchanging layer (keys as in the plan). */
export interface UnetExchange {
  /** Conv tile [C, rows_l + 2, W_l] of x [C, rows_l, W_l] with the neighbours' rows. */
  halo(key: string, x: Float32Array, C: number, level: number): Promise<Float32Array>;
  /** [mean, var] per group from this patch's [sum, sumsq] per group (float64). */
  stats(key: string, fresh: Float64Array, C: number, level: number): Promise<Float64Array>;
  /** The attention input x over the Lk positions attended to [c, Lk] (own rows: `local`, fresh) from this
   *  patch's normalised x [c, rows_l * W_l]; the caller projects it to K/V. */
  attnX(key: string, local: Float32Array, c: number, level: number): Promise<{ x: Float32Array; lk: number }>;
}

/** eps rows [inC, rows_0, W] of `rank`'s patch: the U-Net on a row patch, plain TS. */
export async function unetPatchForwardCpu(
  model: UnetModel, plan: UnetPatchPlan, rank: number, x: Float32Array /* [inC, S, S] full latent */,
  t: number, y: number, ex: UnetExchange,
): Promise<Float32Array> {
  const { size: S, groups, eps } = model.config;
  const rowsAt = (l: number) => plan.ranges[l][rank][1] - plan.ranges[l][rank][0];
  const tembAct = tembActCpu(model, t, y); // [T]

  const conv3 = async (key: string, xin: Float32Array, cv: Conv, l: number, stride: 1 | 2) => {
    const tile = await ex.halo(key, xin, cv.cin, l); // [cin, rows+2, W]
    return conv2dReference(tile, cv.w, cv.b, { cin: cv.cin, cout: cv.cout, inRows: rowsAt(l) + 2, width: S >> l, k: 3, stride, padW: 1 });
  };
  const conv1 = (xin: Float32Array, cv: Conv, l: number) =>
    conv2dReference(xin, cv.w, cv.b, { cin: cv.cin, cout: cv.cout, inRows: rowsAt(l), width: S >> l, k: 1, stride: 1, padW: 0 });
  const norm = async (key: string, xin: Float32Array, n: GroupNormW, l: number, silu: boolean) => {
    const plane = rowsAt(l) * (S >> l);
    const per = (n.c / groups) * plane;
    const fresh = new Float64Array(2 * groups); // [groups, 2] local sums
    for (let i = 0; i < xin.length; i++) {
      const g = Math.floor(i / per);
      fresh[2 * g] += xin[i];
      fresh[2 * g + 1] += xin[i] * xin[i];
    }
    const mv = await ex.stats(key, fresh, n.c, l); // [groups, 2] mean, var
    const out = new Float32Array(xin.length); // [C, rows, W]
    for (let i = 0; i < xin.length; i++) {
      const c = Math.floor(i / plane);
      const g = Math.floor(i / per);
      const v = ((xin[i] - mv[2 * g]) / Math.sqrt(mv[2 * g + 1] + eps)) * n.gamma[c] + n.beta[c];
      out[i] = silu ? v / (1 + Math.exp(-v)) : v;
    }
    return out;
  };
  const res = async (r: ResBlockW, xin: Float32Array, l: number) => {
    const plane = rowsAt(l) * (S >> l);
    let h = await conv3(`${r.name}.conv1`, await norm(`${r.name}.norm1`, xin, r.norm1, l, true), r.conv1, l, 1); // [cout, rows, W]
    const tp = linearCpu(tembAct, r.temb, false); // [cout]
    h = h.map((v, i) => v + tp[Math.floor(i / plane)]);
    h = await conv3(`${r.name}.conv2`, await norm(`${r.name}.norm2`, h, r.norm2, l, true), r.conv2, l, 1);
    const skip = r.skip ? conv1(xin, r.skip, l) : xin; // [cout, rows, W]
    return h.map((v, i) => v + skip[i]);
  };
  const attn = async (a: AttnW, xin: Float32Array, l: number) => {
    const n = rowsAt(l) * (S >> l);
    const c = a.c;
    const hn = await norm(`${a.name}.norm`, xin, a.norm, l, false); // [c, n]
    const { q: qw, kv: kvw } = qkvSplit(a); // rows of a.qkv: per output the same dot product as the full conv
    const q = conv1(hn, qw, l); // [c, n]
    const { x: xk, lk } = await ex.attnX(a.name, hn, c, l); // [c, lk] own rows fresh, the others stale or gathered
    // every position's K/V from its x, this patch's rows included (identical to projecting them alone)
    const kv = conv2dReference(xk, kvw.w, kvw.b, { cin: c, cout: 2 * c, inRows: 1, width: lk, k: 1, stride: 1, padW: 0 }); // [2c, lk]
    const o = attentionCpu(q, kv.subarray(0, c * lk), kv.subarray(c * lk, 2 * c * lk), c, n, lk); // [c, n]
    const p = conv1(o, a.proj, l); // [c, n]
    return xin.map((v, i) => v + p[i]);
  };

  // conv_in: the latent is replicated, so its halo is exact and free (rows outside the image are 0)
  const [r0, r1] = plan.ranges[0][rank];
  const C0 = model.convIn.cin;
  const tile0 = new Float32Array(C0 * (r1 - r0 + 2) * S); // [inC, rows+2, S]
  for (let c = 0; c < C0; c++) {
    const a = Math.max(0, r0 - 1);
    const b = Math.min(S, r1 + 1);
    tile0.set(x.subarray((c * S + a) * S, (c * S + b) * S), (c * (r1 - r0 + 2) + a - (r0 - 1)) * S);
  }
  let h = conv2dReference(tile0, model.convIn.w, model.convIn.b, { cin: C0, cout: model.convIn.cout, inRows: r1 - r0 + 2, width: S, k: 3, stride: 1, padW: 1 });
  const skips: Float32Array[] = [];
  for (let l = 0; l < model.down.length; l++) {
    const d = model.down[l];
    h = await res(d.res, h, l);
    if (d.attn) h = await attn(d.attn, h, l);
    skips.push(h);
    if (d.down) h = await conv3(`down.${l}.down`, h, d.down, l, 2); // [ch, rows/2, W/2]
  }
  const Lm = model.down.length - 1;
  h = await res(model.mid.res1, h, Lm);
  h = await attn(model.mid.attn, h, Lm);
  h = await res(model.mid.res2, h, Lm);
  for (let l = Lm; l >= 0; l--) {
    const u = model.up[l];
    const cat = new Float32Array(h.length + skips[l].length); // [hC + skipC, rows, W]: h first
    cat.set(h);
    cat.set(skips[l], h.length);
    h = await res(u.res, cat, l);
    if (u.attn) h = await attn(u.attn, h, l);
    if (u.up) h = await conv3(`up.${l}.up`, upsample2Cpu(h, u.res.cout, rowsAt(l), S >> l), u.up, l - 1, 1); // [ch, 2rows, 2W]
  }
  return conv3('out.conv', await norm('out.norm', h, model.outNorm, 0, true), model.outConv, 0, 1); // [inC, rows, S]
}

/** What one step hands a backend: the run's fixed settings, the latent, and the comm primitives. */
export interface UnetStepIo {
  plan: UnetPatchPlan;
  model: UnetModel;
  rank: number;
  mode: PatchMode;
  k: number; // step index
  t: number; // model timestep (0..nT-1)
  label: number;
  guidance: number; // w; branch 0 = conditional, branch 1 = null class when w != 1
  branches: number;
  z: Float32Array; // [inC, S, S] the replicated latent
  /** Per-layer gathers this step (full_sync, warm-up); sync_gn also gathers stats in async steps. */
  syncStep: boolean;
  /**
   * Synchronous allGather of segment `seg` (this rank's values `mine`): every rank's values, in rank
   * order. Also records them as the next async step's stale values and, in an async step, in `send`.
   */
  gather(seg: number, mine: Float32Array, what: string): Promise<Float32Array[]>;
  /**
   * Every rank's flat buffer as sent at the previous step (f32, host). The async exchange travels in pieces
   * (whole segments, forward-layer order); this resolves once the piece holding segment `si` (every piece
   * when omitted) and all before it have arrived and are unpacked, so a layer waits only for its own data.
   */
  stale(si?: number): Promise<Float32Array[]>;
  /** The async exchange: pieces, where this step's stale values come from, raw received pieces (wire) and
   *  early sends (sendPiece), and the step's fine timers. */
  ex: UnetAsyncExchange;
  /** An async step whose stale values come from `staleFrom` (see StaleFrom); undefined in a sync step. */
  staleFrom: StaleFrom | undefined;
  /** This rank's fresh values go into a flat buffer this step (an async step of an exchanging mode). */
  sending: boolean;
  /** The host flat buffer (this rank's layout) for a backend that fills it on the host (hostSend); null otherwise. */
  send: Float32Array | null;
}

export { UNET_EXCHANGE_PIECES, unetPieces, type UnetPieces } from './patch-unet-exchange';

/** A step event with the exchange's fine timers (the bench reads them; the panel ignores them). */
export interface UnetStepEvent extends PatchStepEvent {
  detail: UnetStepDetail;
}

/** Runs this peer's share of the U-Net for one step. */
export interface UnetPatchBackend {
  /** Classifier-free guided eps rows [inC, rows_0, S] of this peer's patch for step io.k. */
  step(io: UnetStepIo): Promise<Float32Array>;
  /** True: fills io.send on the host and leaves the sends to the runner (end of step). False: sends each
   *  piece itself through io.ex.sendPiece as soon as it is computed, and never needs io.send. */
  readonly hostSend: boolean;
  /** Frees what the backend keeps across steps (after the run). */
  dispose?(): void;
}

/** The plain-TS backend: unetPatchForwardCpu per CFG branch over the runner's exchanges. */
export function unetCpuPatchBackend(): UnetPatchBackend {
  return {
    hostSend: true,
    async step(io) {
      const { plan, model, rank, mode } = io;
      const reg = plan.registry;
      const nPeers = plan.nPeers;
      const { size: S, groups, numClasses } = model.config;
      const segOf = (key: string) => {
        const s = plan.seg.get(key);
        if (s === undefined) throw new Error(`unet patch-parallel: no segment '${key}' in the plan`);
        return s;
      };
      /** Every rank's segment `si` for this layer: gathered now (sync) or last received (async). */
      const exchange = async (si: number, mine: Float32Array, sync: boolean, what: string): Promise<ArrayLike<number>[]> => {
        if (sync) return io.gather(si, mine, what);
        reg.view(io.send!, si, rank).set(mine); // fresh, sent at the end of this step
        const st = await io.stale(si);
        return plan.ranges[0].map((_, p) => reg.view(st[p], si, p));
      };
      const exFor = (b: number): UnetExchange => ({
        halo: async (key, x, ch, l) => {
          const [a, e] = plan.ranges[l][rank];
          const rows = e - a;
          const W = S >> l;
          if (mode === 'no_sync') return haloTile(x, ch, rows, W, null, null);
          const mine = new Float32Array(boundaryCount(rows) * ch * W); // [nb, C, W]
          packHalo(x, ch, rows, W, mine);
          const segs = await exchange(segOf(branchKey(b, key)), mine, io.syncStep, `${key} halo allGather`);
          const get = (p: number) => (p >= 0 && p < nPeers ? Float32Array.from(segs[p]) : null);
          return haloTile(x, ch, rows, W, get(rank - 1), get(rank + 1));
        },
        stats: async (key, fresh, ch, l) => {
          const W = S >> l;
          const counts = plan.ranges[l].map(([a, e]) => (ch / groups) * (e - a) * W);
          const s = { groups, counts, rank, fresh, perRank: null as ArrayLike<number>[] | null };
          if (mode === 'no_sync') return combineStats(mode, false, s);
          const sync = io.syncStep || mode === 'sync_gn';
          s.perRank = await exchange(segOf(branchKey(b, key)), Float32Array.from(fresh), sync, `${key} stats allGather`);
          return combineStats(mode, sync, s);
        },
        attnX: async (key, local, c, l) => {
          const W = S >> l;
          const H = S >> l;
          if (mode === 'no_sync') return { x: local, lk: local.length / c }; // attend within the patch
          const parts = await exchange(segOf(branchKey(b, key)), local, io.syncStep, `${key} attn_x allGather`);
          parts[rank] = local; // always this step's own rows
          return { x: assembleRows(parts, plan.ranges[l], c, H, W), lk: H * W }; // [c, H*W]
        },
      });
      const epsCond = await unetPatchForwardCpu(model, plan, rank, io.z, io.t, io.label, exFor(0)); // [C, rows, S]
      if (io.branches === 1) return epsCond;
      const epsNull = await unetPatchForwardCpu(model, plan, rank, io.z, io.t, numClasses, exFor(1)); // [C, rows, S]
      return epsNull.map((u, i) => u + io.guidance * (epsCond[i] - u));
    },
  };
}

export interface UnetPatchRunOptions {
  comm: Comm;
  model: UnetModel;
  rank: number;
  nPeers: number;
  sampler: SamplerSpec;
  mode: PatchMode;
  warmupSteps: number; // synchronous steps before the async modes start (step 0 always is)
  seed: number;
  label: number; // class 0..9 (10 = unconditional)
  guidance: number; // CFG weight w; w = 1 runs one branch
  commTimeoutMs?: number;
  /** Wire format of the async flat buffer. 'f16' sends its halo rows and attention inputs as halves, about half
   *  the bytes; 'i8' (default) as int8 with one f32 absmax per 64 values (src/codec/i8-block.ts), 0.54x
   *  f16's bytes. Its GroupNorm [sum, sumsq] segments stay f32 either way (pieceCarrier in
   *  ./patch-unet-exchange.ts: sumsq overflows a half). Synchronous gathers (full_sync, warm-up, sync_gn's
   *  statistics) and the eps rows always travel as f32. Why i8 by default: on fm-unet over 32 seeds (DDIM 50,
   *  warm-up 4, one H200, bench/results/distrifusion-quality-fm-unet-ddim50-warmup4-{f16,i8}-nvidia-h200-*) it
   *  gave the same PSNR vs single-device as f16 (31.99 / 25.38 dB at N = 2 / 4, f16 likewise; f32 the same
   *  to 0.01 dB in the earlier H100 runs), and fewer bytes is what a browser swarm's links need (two peers
   *  on one H200: 104.0 -> 80.3 ms per 1024-px step, distrifusion-speed-i8-wire-1gpu-shared-*). */
  commDtype?: WireEnc;
  backend?: UnetPatchBackend; // default: unetCpuPatchBackend() (plain TS)
  /**
   * Benchmarking only, the DistriFusion speed bench's no-communication ideals: no eps allGather after the
   * synchronous warm-up steps (each peer advances the latent on its own rows only, the others see eps = 0; one allGather of the
   * final rows after the last step gives every peer the whole, meaningless for quality, image), and
   *  - no_sync: a step sends nothing at all (the old ideal: patch-local attention, zero halos, local GN);
   *  - corrected_async_gn / stale_gn: the honest ideal. The warm-up steps gather per layer as usual; after
   *    them nothing is sent or received and the stale values are never refreshed, but every async step
   *    runs the same kernels on the same shapes (attention over every position's K/V, halo-padded convs,
   *    corrected GN statistics) and writes its fresh values into the flat buffer as the real mode does.
   */
  commFree?: boolean;
  /** After each step (in the event's `detail`, see UnetStepEvent) the step's fine timers. */
  /** After each step: this peer's rows of the predicted x0 as pixels clip((x0+1)/2, 0, 1), and timings. */
  onStep?: (ev: UnetStepEvent) => void;
  /** After each step's eps gather: the full guided eps [C, S, S] and the latent it was computed from (tests, benches). */
  onEps?: (k: number, eps: Float32Array, z: Float32Array) => void;
}

export interface UnetPatchRunResult {
  rows: RowRange; // level-0 rows of this peer
  image: Float32Array; // [inC, S, S] the final sample (every peer has it)
  commWaitMs: number;
  totalMs: number;
  bytesSentPerStep: number; // the async flat buffer
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** This peer's rows of x0 = (z - sqrt(1 - aB) eps) / sqrt(aB) as pixels clip((x0 + 1) / 2, 0, 1): [C, rows, S]. */
export function unetPreviewRows(model: UnetModel, t: number, z: Float32Array, eps: Float32Array, [r0, r1]: RowRange): Float32Array {
  const { size: S, inChannels: C } = model.config;
  const ab = model.alphaBars[t];
  const rows = r1 - r0;
  const out = new Float32Array(C * rows * S); // [C, rows, S]
  const [s1, s] = [Math.sqrt(1 - ab), Math.sqrt(ab)];
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < rows * S; i++) {
      const e = (c * S + r0) * S + i;
      const x0 = (z[e] - s1 * eps[e]) / s;
      out[c * rows * S + i] = Math.min(1, Math.max(0, (x0 + 1) / 2));
    }
  }
  return out;
}

export async function runUnetPatchParallel(o: UnetPatchRunOptions): Promise<UnetPatchRunResult> {
  const { comm, model, rank, nPeers, mode, sampler } = o;
  if (comm.size !== nPeers || comm.rank !== rank) throw new Error(`unet patch-parallel: comm is rank ${comm.rank}/${comm.size}, options say ${rank}/${nPeers}`);
  if (o.commFree && mode !== 'no_sync' && mode !== 'corrected_async_gn' && mode !== 'stale_gn') {
    throw new Error(`unet patch-parallel: commFree needs mode no_sync, corrected_async_gn or stale_gn, not ${mode}`);
  }
  if (o.commDtype !== undefined && !isWireEnc(o.commDtype)) throw new Error(`unet patch-parallel: commDtype must be f32, f16 or i8, got ${JSON.stringify(o.commDtype)}`);
  const backend = o.backend ?? unetCpuPatchBackend();
  const branches = o.guidance === 1 ? 1 : 2;
  const plan = buildUnetPatchPlan(model, nPeers, branches);
  const reg = plan.registry;
  const { size: S, inChannels: C } = model.config;
  const [r0, r1] = plan.ranges[0][rank];
  const ts = unetTimesteps(model.config.nT, sampler.steps);
  const timeoutMs = o.commTimeoutMs ?? 60_000;
  const t0 = performance.now();
  let commWaitMs = 0;
  let k = 0;
  const collect = async <T>(p: Promise<T>, what: string): Promise<T> => {
    const c0 = performance.now();
    try {
      return await withTimeout(p, timeoutMs, what);
    } catch (e) {
      throw new Error(`unet patch-parallel rank ${rank} step ${k} (${mode}): ${what} failed: ${(e as Error).message}`, { cause: e });
    } finally {
      commWaitMs += performance.now() - c0;
    }
  };
  const ex = new UnetAsyncExchange(comm, reg, unetPieces(reg), rank, o.commDtype ?? 'i8', !o.commFree, collect);
  // the host flat buffers of a hostSend backend, two so that the previous step's (own stale values) survives
  const hostSend = backend.hostSend && mode !== 'no_sync' ? [0, 1].map(() => new Float32Array(reg.total(rank))) : null;
  // The latent. z is Z_j, exact on every row, for the last step j whose eps every peer has; zIn is what a
  // step reads. A synchronous step gathers its eps at once, so zIn = z = Z_k. An async step does NOT wait
  // for the others' eps: it sends its own (an allGather that nobody awaits until the end of the NEXT step,
  // by when it has long arrived behind that step's pieces) and advances only its own rows; the next step
  // reads own rows of Z_{k+1} and the other peers' rows of Z_k. Those other rows matter only as conv_in's
  // halo (one row each side), which is therefore one step stale, exactly as every other conv's halo is in
  // DistriFusion (distrifuser's conv_in is a patch-parallel conv with stale halos too). Measured on 4
  // H100s at 1024 px the synchronous eps gather cost 102 ms (N=2) and 204 ms (N=4) per step: it waited
  // behind the step's bulk pieces on the same link.
  let z = unetInitialLatent(model, o.seed); // [C, S, S] Z_j, exact on every row
  let zIn = z; // [C, S, S] the next step's input
  let lagged: { k: number; parts: Promise<(Float32Array | null)[]> } | null = null; // an async step's eps allGather
  const assemble = (parts: (Float32Array | null)[]) => assembleRows(parts, plan.ranges[0], C, S, S); // [C, S, S]
  const ownOnly = (epsLocal: Float32Array) => plan.ranges[0].map((_, p) => (p === rank ? epsLocal : null));
  /** Awaits the lagged eps allGather of step j and advances z from Z_j to Z_{j+1} on every row. */
  const settle = async (): Promise<void> => {
    if (!lagged) return;
    const { k: j, parts } = lagged;
    lagged = null;
    const e0 = performance.now();
    const full = assemble(o.commFree ? await parts : await collect(parts, 'eps allGather')); // [C, S, S] (commFree: local, no wait)
    ex.detail.epsGatherMs += performance.now() - e0;
    o.onEps?.(j, full, z);
    z = unetSamplerUpdate(model, sampler.kind, ts, j, z, full, unetStepNoise(model, sampler, o.seed, j));
  };

  try {
    for (k = 0; k < ts.length; k++) {
      const stepStart = performance.now();
      const waitBefore = commWaitMs;
      const syncStep = mode === 'full_sync' || (mode !== 'no_sync' && k < Math.max(1, o.warmupSteps));
      const sending = !syncStep && mode !== 'no_sync';
      if (syncStep && lagged) {
        await settle(); // a synchronous step after async ones reads the exact latent
        zIn = z;
      }
      const staleFrom = ex.beginStep(syncStep);
      const send = sending && hostSend ? hostSend[k % 2] : null; // this step's host flat buffer
      const io: UnetStepIo = {
        plan, model, rank, mode, k, t: ts[k], label: o.label, guidance: o.guidance, branches, z: zIn, syncStep, send, sending, ex,
        staleFrom: sending ? staleFrom : undefined,
        stale: (si) => ex.hostStale(si === undefined ? ex.pieces.count - 1 : ex.pieces.of(si)),
        gather: async (si, mine, what) => {
          const g0 = performance.now();
          await ex.sendsCalled(); // collectives match by call order: the pieces already handed over go first
          const all = await collect(comm.allGather(mine), what);
          ex.detail.syncGatherMs += performance.now() - g0;
          all.forEach((seg, p) => reg.view(ex.stale[p], si, p).set(seg)); // the next async step's stale values
          if (send) reg.view(send, si, rank).set(mine);
          return all;
        },
      };
      const b0 = performance.now();
      const epsLocal = await backend.step(io); // [C, rows, S]
      ex.detail.backendMs = performance.now() - b0;
      await ex.endStep(send, sending); // sends what the backend did not, awaits the last step's pieces
      const noise = unetStepNoise(model, sampler, o.seed, k); // [C, S, S] or null
      let preview: { z: Float32Array; eps: Float32Array };
      if (sending) {
        // Called now on every rank (collectives match by call order), awaited at the end of the next step.
        // commFree (the honest ideal): nothing is gathered; the other rows see eps = 0.
        const parts: Promise<(Float32Array | null)[]> = o.commFree ? Promise.resolve(ownOnly(epsLocal)) : comm.allGather(epsLocal);
        parts.catch(() => undefined); // a failure surfaces where it is awaited (settle), not as unhandled
        await settle(); // the previous async step's eps: z becomes Z_k
        lagged = { k, parts };
        const own = assemble(ownOnly(epsLocal)); // [C, S, S] this peer's rows of eps_k, zeros elsewhere
        const next = unetSamplerUpdate(model, sampler.kind, ts, k, z, own, noise); // [C, S, S] valid on own rows
        preview = { z, eps: own };
        zIn = new Float32Array(z); // [C, S, S] own rows Z_{k+1}, the others Z_k
        for (let c = 0; c < C; c++) zIn.set(next.subarray((c * S + r0) * S, (c * S + r1) * S), (c * S + r0) * S);
      } else {
        // no_sync gathers too: naive patches still share one latent (only their layers see no neighbours)
        const e0 = performance.now();
        const parts = o.commFree && !syncStep ? ownOnly(epsLocal) : await collect(comm.allGather(epsLocal), 'eps allGather');
        ex.detail.epsGatherMs += performance.now() - e0;
        const full = assemble(parts); // [C, S, S]
        o.onEps?.(k, full, z);
        preview = { z, eps: full };
        z = unetSamplerUpdate(model, sampler.kind, ts, k, z, full, noise);
        zIn = z;
      }
      if (o.onStep) {
        const wait = commWaitMs - waitBefore;
        o.onStep({
          step: k, steps: ts.length, rows: [r0, r1], width: S, preview: unetPreviewRows(model, ts[k], preview.z, preview.eps, [r0, r1]),
          startMs: stepStart - t0, computeMs: performance.now() - stepStart - wait, commWaitMs: wait, sync: syncStep, detail: ex.detail,
        });
      }
    }
    await settle(); // the last async step's eps: z is the final sample on every row
    await ex.drain(); // keep the comms in lockstep
  } finally {
    backend.dispose?.();
  }
  if (o.commFree && nPeers > 1) {
    // every peer's own final rows [C, rows, S] into the image (after the timed steps)
    const mine = new Float32Array(C * (r1 - r0) * S); // [C, rows, S]
    for (let c = 0; c < C; c++) mine.set(z.subarray((c * S + r0) * S, (c * S + r1) * S), c * (r1 - r0) * S);
    z = assemble(await collect(comm.allGather(mine), 'final rows allGather')); // [C, S, S]
  }
  return { rows: [r0, r1], image: z, commWaitMs, totalMs: performance.now() - t0, bytesSentPerStep: mode === 'no_sync' || o.commFree ? 0 : ex.carrierFloats() * 4 };
}
