// WGSL backend of the fm-unet DistriFusion runner (./patch-unet.ts): this peer's row patch of the
// U-Net on the diffusion kernels, activations on the GPU for the whole step.
//
// The kernels never wait on the network:
//  - async steps: the other peers' previous-step flat buffers are in one GPU buffer (`stale`, ranks
//    back to back, kept across steps: ./patch-unet-gpu-exchange.ts), refreshed piece by piece (see
//    UnetPieces) as the first layer reading a piece needs it, so the step's early layers run while later
//    pieces are still on the wire; halo rows (copy_strided into the conv tile), attention input rows
//    (copy_strided into the full x buffer, then projected to K/V by the layer's K/V rows of its qkv
//    conv: half the bytes of sending K/V) and GroupNorm sums (gn_combine) are read from it by the
//    kernels. This peer's fresh halo rows, GroupNorm sums and attention input rows are written by the
//    kernels into a GPU-side send
//    buffer laid out as the plan's flat buffer; each piece of it is read back (f16-packed on the GPU) and
//    sent the moment its last segment's kernels are encoded, while the GPU goes on with the step.
//  - synchronous steps (full_sync, warm-up) and sync_gn's statistics read this peer's segment back
//    per layer, all-gather it, and upload every rank's values before the layer's kernels run.
// GroupNorm correction (corrected_async_gn / stale_gn) runs on the GPU (gn_combine.wgsl): on the
// host it would cost a read-back per norm, i.e. ~50 GPU round trips per step that an async step
// otherwise avoids entirely; the kernel is 8 threads of arithmetic.
import type { Gpu } from '../gpu/gpu';
import { attention } from '../kernels/diffusion/attention';
import { conv2d, type Conv2dOptions } from '../kernels/diffusion/conv2d';
import { copyStrided } from '../kernels/diffusion/copy-strided';
import { gnCombine, type GnCombineShape } from '../kernels/diffusion/gn-combine';
import { haloFill } from '../kernels/diffusion/halo-fill';
import { groupNormStats } from '../kernels/diffusion/group-norm-stats';
import { normApply } from '../kernels/diffusion/norm-apply';
import { padRows, padRowsInto } from '../kernels/diffusion/pad-rows';
import { upsampleNearest } from '../kernels/diffusion/upsample';
import type { AttnW, Conv, GroupNormW, ResBlockW, UnetModel } from '../model/unet/config';
import { UnetGpu } from '../model/unet/forward-gpu';
import type { UnetPatchBackend, UnetStepIo } from './patch-unet';
import { GpuExchangeBuffers } from './patch-unet-gpu-exchange';
import { boundaryCount, branchKey, qkvSplit } from './patch-unet-plan';

/** Knobs of the GPU backend (benches set them; the defaults are the measured choice). */
export const unetPatchTuning = {
  /** Longest stretch (ms) the forward encodes without a macrotask turn; Infinity: turn only after a piece's read-back. */
  turnEveryMs: 0.5,
};

/**
 * The GPU backend for runUnetPatchParallel({ ..., backend: unetGpuPatchBackend(gpu, model) }).
 * Weights are uploaded once per (gpu, model) and shared by every backend made for them (several
 * peers of one process, successive runs).
 */
export function unetGpuPatchBackend(gpu: Gpu, model: UnetModel): UnetPatchBackend {
  const ug = UnetGpu.shared(gpu, model);
  const xb = new GpuExchangeBuffers(gpu); // kept across the run's steps
  return { hostSend: false, step: (io) => new GpuPatchStep(ug, io, xb).run(), dispose: () => xb.dispose() };
}

/** Where every rank's values of one segment are on the GPU: rank p's at float offset base(p) of buf. */
interface SegSource {
  buf: GPUBuffer;
  base: (p: number) => number;
}

/** One step of one peer: the stale upload, the forward per CFG branch, the one final read-back. */
class GpuPatchStep {
  private readonly gpu: Gpu;
  private readonly model: UnetModel;
  private readonly S: number;
  private readonly temps: GPUBuffer[] = []; // freed at the end of the step
  private uploaded = 0; // pieces 0..uploaded-1 of every rank are in the stale buffer
  private readonly written: Uint8Array; // [segments] written into the send buffer this step
  private sentPieces = 0; // pieces 0..sentPieces-1 handed to the comm
  private branch = 0;

  constructor(
    private readonly ug: UnetGpu,
    private readonly io: UnetStepIo,
    private readonly xb: GpuExchangeBuffers,
  ) {
    this.written = new Uint8Array(io.plan.registry.segments.length);
    this.gpu = ug.gpu;
    this.model = ug.model;
    this.S = ug.model.config.size;
  }

  private rows(l: number): number {
    const [a, e] = this.io.plan.ranges[l][this.io.rank];
    return e - a;
  }

  private temp(floats: number): GPUBuffer {
    const b = this.gpu.alloc(Math.max(1, floats) * 4, 'unet.patch.temp');
    this.temps.push(b);
    return b;
  }

  private segIndex(key: string): number {
    const si = this.io.plan.seg.get(branchKey(this.branch, key));
    if (si === undefined) throw new Error(`unet patch gpu: no segment '${branchKey(this.branch, key)}' in the plan`);
    return si;
  }

  /** Where this rank's values of segment si go: its slot in the send buffer (async) or a scratch buffer (sync). */
  private mineTarget(si: number, sync: boolean): { buf: GPUBuffer; off: number } {
    const seg = this.io.plan.registry.segments[si];
    return sync ? { buf: this.temp(seg.sizes[this.io.rank]), off: 0 } : { buf: this.xb.sendBuf, off: seg.offsets[this.io.rank] };
  }

  /** Segment si of the send buffer has its kernels encoded: send every piece that is now complete. */
  private wrote(si: number): void {
    const { io } = this;
    if (!io.sending) return;
    this.written[si] = 1;
    const P = io.ex.pieces;
    while (io.ex.exchange && this.sentPieces < P.count) {
      const j = this.sentPieces;
      const [first, last] = [j === 0 ? 0 : P.lastSeg(j - 1) + 1, P.lastSeg(j)];
      for (let s = first; s <= last; s++) if (!this.written[s]) return;
      this.xb.sendPiece(io, j);
      this.sentPieces++;
      this.yieldDue = true;
    }
  }

  private yieldDue = false; // a piece was submitted since the forward last gave the event loop a turn
  private lastTurn = performance.now();

  /**
   * A macrotask turn after a piece's read-back was submitted, and at least every
   * unetPatchTuning.turnEveryMs while the forward encodes: its awaits on ready pieces are microtasks,
   * so without turns (1) a read-back's map promise, so the send, settles only at the end of the step
   * (pieces left 48-118 ms into a 50 ms step on an H200), and (2) the socket moves only what fits its
   * kernel buffer (~200 KB on a Unix socket) per turn of each side's event loop, which held a same-host
   * link to ~25 MB/s during the steps (the pieces of step k arrived well into step k+1).
   */
  private async turn(): Promise<void> {
    const now = performance.now();
    if (!this.yieldDue && now - this.lastTurn < unetPatchTuning.turnEveryMs) return;
    this.yieldDue = false;
    await new Promise<void>((resolve) => {
      const ch = new MessageChannel(); // no 4 ms clamp, unlike nested setTimeout(0)
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
    this.lastTurn = performance.now();
  }

  /**
   * Every rank's values of segment si. Async: the stale upload. Sync: read back this rank's values
   * from `mine`, all-gather them, upload every rank's, and put ours in the send buffer if one is sent.
   */
  private async sources(si: number, sync: boolean, mine: { buf: GPUBuffer; off: number }, what: string): Promise<SegSource> {
    const { gpu, io } = this;
    const seg = io.plan.registry.segments[si];
    if (!sync) {
      await this.turn();
      await this.uploadStale(si);
      return { buf: this.xb.staleBuf, base: (p) => this.xb.staleOff[p] + seg.offsets[p] };
    }
    const len = seg.sizes[io.rank];
    const host = new Float32Array(await gpu.read(mine.buf, len * 4, mine.off * 4)); // [len] this rank's segment
    const all = await io.gather(si, host, what);
    const bases: number[] = [];
    let n = 0;
    for (const a of all) {
      bases.push(n);
      n += a.length;
    }
    const cat = new Float32Array(n); // every rank's segment back to back
    all.forEach((a, p) => cat.set(a, bases[p]));
    const buf = this.temp(n);
    gpu.write(buf, cat);
    if (io.sending) {
      gpu.copy(mine.buf, mine.off * 4, this.xb.sendBuf, seg.offsets[io.rank] * 4, len * 4); // sync_gn stats in an async step
      this.wrote(si);
    }
    return { buf, base: (p) => bases[p] };
  }

  /** Waits for the piece holding segment si (and those before it) and puts every rank's into the stale buffer. */
  private async uploadStale(si: number): Promise<void> {
    const { io } = this;
    const j = io.ex.pieces.of(si);
    for (; this.uploaded <= j; this.uploaded++) {
      const jj = this.uploaded;
      if (io.staleFrom === 'kept') continue; // exchange off: the values of the last upload stay
      // the async step's only waits on the network, one per piece at most
      const got = io.staleFrom === 'wire' ? await io.ex.wire(jj) : await io.stale(io.ex.pieces.lastSeg(jj));
      const u0 = performance.now();
      if (io.staleFrom === 'wire') this.xb.upload(io, jj, got);
      else this.xb.uploadHost(io, jj, got);
      io.ex.detail.uploadMs += performance.now() - u0;
    }
  }

  async run(): Promise<Float32Array> {
    const { gpu, io, model } = this;
    if (io.sending) this.xb.ensure(io);
    const d0 = gpu.stats.dispatches;
    const epsLen = model.config.inChannels * this.rows(0) * this.S;
    const epsAll = this.temp(io.branches * epsLen); // [branches, inC, rows, S]
    for (let b = 0; b < io.branches; b++) {
      this.branch = b;
      const eps = await this.forward(b === 0 ? io.label : model.config.numClasses); // [inC, rows, S]
      gpu.copy(eps, 0, epsAll, b * epsLen * 4, epsLen * 4);
      gpu.free(eps);
    }
    if (io.sending) this.xb.keepOwn(io); // after every kernel of this step that reads the stale values
    io.ex.detail.dispatches = gpu.stats.dispatches - d0;
    const r0 = performance.now();
    const host = new Float32Array(await gpu.read(epsAll, io.branches * epsLen * 4)); // waits for the step's GPU work
    io.ex.detail.readWaitMs += performance.now() - r0;
    for (const t of this.temps) gpu.free(t);
    const cond = host.slice(0, epsLen); // [inC, rows, S]
    if (io.branches === 1) return cond;
    const unc = host.subarray(epsLen, 2 * epsLen); // [inC, rows, S]
    return cond.map((c, i) => unc[i] + io.guidance * (c - unc[i]));
  }

  /**
   * Fill the halo rows of a conv tile [C, rows+2, W] (middle = this patch's rows) with the neighbours'
   * boundary rows of layer `key`, zeros at the image's edges; no_sync keeps the tile's zero halo rows.
   * Async steps: one halo_fill dispatch also writes this patch's boundary rows into the send buffer,
   * after the stale piece is on the GPU (it was four copy_strided dispatches and a pad_rows per conv).
   * Sync steps: this patch's rows go to a scratch buffer first, to be read back and gathered.
   */
  private async halo(key: string, tile: GPUBuffer, C: number, l: number): Promise<void> {
    const { gpu, io } = this;
    if (io.mode === 'no_sync') return;
    const rows = this.rows(l);
    const W = this.S >> l;
    const R = rows + 2;
    const si = this.segIndex(key);
    const sync = io.syncStep;
    const mine = this.mineTarget(si, sync);
    const mineRows = boundaryCount(rows) as 1 | 2;
    if (sync) {
      // this patch's first and last rows -> [nb, C, W], read back by sources()
      copyStrided(gpu, tile, mine.buf, { count: C, len: W, srcBase: W, srcStride: R * W, dstBase: mine.off, dstStride: W });
      if (mineRows === 2) copyStrided(gpu, tile, mine.buf, { count: C, len: W, srcBase: rows * W, srcStride: R * W, dstBase: mine.off + C * W, dstStride: W });
    }
    const src = await this.sources(si, sync, mine, `${key} halo allGather`);
    const { rank, plan } = io;
    const [a, e] = rank > 0 ? plan.ranges[l][rank - 1] : [0, 0];
    haloFill(gpu, src.buf, tile, sync ? null : mine.buf, {
      C, W, rows, mineOff: mine.off, mineRows,
      top: rank > 0 ? src.base(rank - 1) + (boundaryCount(e - a) - 1) * C * W : null, // the previous rank's last row
      bottom: rank + 1 < plan.nPeers ? src.base(rank + 1) : null, // the next rank's first row
    });
    if (!sync) this.wrote(si);
  }

  /** 3x3 conv (pad 1) of a tile [cin, rows+2, W] whose halo rows are filled here: pooled [cout, rows/stride, W/stride]. */
  private async conv3(key: string, tile: GPUBuffer, cv: Conv, l: number, stride: 1 | 2, plus?: Conv2dOptions['add']): Promise<GPUBuffer> {
    await this.halo(key, tile, cv.cin, l);
    return conv2d(this.gpu, tile, this.ug.buf(cv.w), this.ug.buf(cv.b), {
      cin: cv.cin, cout: cv.cout, inRows: this.rows(l) + 2, width: this.S >> l, k: 3, stride, padW: 1,
    }, 'auto', { add: plus });
  }

  /** Zero-halo tile [C, rows+2, W] of x [C, rows, W] (pooled; x not freed). */
  private tile(x: GPUBuffer, C: number, l: number): GPUBuffer {
    return padRows(this.gpu, x, null, { channels: C, rows: this.rows(l), width: this.S >> l, top: 1, bottom: 1 });
  }

  /**
   * GroupNorm (+ SiLU) of x [C, rows, W] with statistics combined per mode. pad: into a zero-halo conv
   * tile [C, rows+2, W], else [C, rows, W]. Pooled buffer.
   */
  private async norm(key: string, x: GPUBuffer, n: GroupNormW, l: number, silu: boolean, pad: boolean): Promise<GPUBuffer> {
    const { gpu, io } = this;
    const { groups, eps } = this.model.config;
    const C = n.c;
    const rows = this.rows(l);
    const W = this.S >> l;
    const noSync = io.mode === 'no_sync';
    const mv = groupNormStats(gpu, x, { channels: C, plane: rows * W, groups, eps }, noSync); // [groups, 2]: no_sync [mean, rstd], else local [mean, var]
    let mr = mv; // [groups, 2] mean, rstd
    if (!noSync) {
      const si = this.segIndex(key);
      const sync = io.syncStep || io.mode === 'sync_gn';
      const shape: GnCombineShape = {
        groups, rank: io.rank, eps, sumsOff: 0, bases: [],
        counts: io.plan.ranges[l].map(([a, e]) => (C / groups) * (e - a) * W),
      };
      const mine = this.mineTarget(si, sync);
      if (sync) {
        gpu.free(gnCombine(gpu, mv, null, mine.buf, 'local', shape)); // only this patch's sums, to gather
        const src = await this.sources(si, true, mine, `${key} stats allGather`);
        mr = gnCombine(gpu, mv, src.buf, mine.buf, 'exact', { ...shape, bases: shape.counts.map((_, p) => src.base(p)) });
      } else {
        const src = await this.sources(si, false, mine, '');
        const mode = io.mode === 'stale_gn' ? 'stale_gn' : 'corrected';
        mr = gnCombine(gpu, mv, src.buf, mine.buf, mode, { ...shape, sumsOff: mine.off, bases: shape.counts.map((_, p) => src.base(p)) });
        this.wrote(si); // gn_combine wrote this patch's sums into the send buffer
      }
      gpu.free(mv);
    }
    const off = pad ? 1 : 0;
    const out = gpu.alloc(C * (rows + 2 * off) * W * 4, 'unet.patch.norm'); // [C, rows+2off, W]
    normApply(gpu, x, mr, this.ug.buf(n.gamma), this.ug.buf(n.beta), null, out, {
      channels: C, rows, width: W, groups, affine: 'channel', fullHeight: rows, rowStart: 0,
      act: silu ? 'silu' : 'none', outRowOffset: off, outRows: rows + 2 * off,
    });
    // zero halo rows for no_sync; otherwise conv3's halo() writes both (neighbour rows or image-edge zeros)
    if (pad && noSync) padRowsInto(gpu, null, null, out, { channels: C, rows, width: W, top: 1, bottom: 1 });
    gpu.free(mr);
    return out;
  }

  /** ResBlock on x [cin, rows, W]: pooled [cout, rows, W] (x not freed). */
  private async resBlock(r: ResBlockW, x: GPUBuffer, l: number, temb: GPUBuffer): Promise<GPUBuffer> {
    const { gpu } = this;
    const plane = this.rows(l) * (this.S >> l);
    const t1 = await this.norm(`${r.name}.norm1`, x, r.norm1, l, true, true); // [cin, rows+2, W]
    const tp = this.ug.tembProj(r, temb); // [cout]
    // the time projection and the residual ride on the convs' split-K reductions (conv2d's `add`)
    const h2 = await this.conv3(`${r.name}.conv1`, t1, r.conv1, l, 1, { buf: tp, per: 'channel' }); // [cout, rows, W]
    const t2 = await this.norm(`${r.name}.norm2`, h2, r.norm2, l, true, true); // [cout, rows+2, W]
    const skip = r.skip ? this.ug.conv1(x, r.skip, plane) : x; // [cout, rows, W]
    const out = await this.conv3(`${r.name}.conv2`, t2, r.conv2, l, 1, { buf: skip, per: 'element' }); // [cout, rows, W]
    for (const b of [t1, tp, h2, t2]) gpu.free(b);
    if (skip !== x) gpu.free(skip);
    return out;
  }

  /** Attention on x [c, rows, W]: this patch's queries over every position's K/V. Pooled [c, rows, W]. */
  private async attn(a: AttnW, x: GPUBuffer, l: number): Promise<GPUBuffer> {
    const { gpu, io } = this;
    const W = this.S >> l;
    const n = this.rows(l) * W;
    const c = a.c;
    const hn = await this.norm(`${a.name}.norm`, x, a.norm, l, false, false); // [c, n]
    const temps: GPUBuffer[] = [hn];
    let o: GPUBuffer; // [c, n]
    if (io.mode === 'no_sync') {
      const qkv = this.ug.conv1(hn, a.qkv, n); // [3c, n]
      temps.push(qkv);
      o = attention(gpu, qkv, qkv, { c, lq: n, lk: n, qBase: 0, kBase: c * n, vBase: 2 * c * n }); // within the patch
    } else {
      // the other ranks send x (what the K/V projection reads), not K/V: half the bytes. Every position's
      // K/V is projected here from the full x with the K/V rows of a.qkv (the same conv kernel, each output
      // its own dot product, so bit for bit what the sender's qkv conv gives), this patch's rows included.
      const { q: qw, kv: kvw } = qkvSplit(a);
      const q = this.ug.conv1(hn, qw, n); // [c, n]
      const si = this.segIndex(a.name);
      const HW = (this.S >> l) * W;
      let src: SegSource;
      if (io.syncStep) {
        src = await this.sources(si, true, { buf: hn, off: 0 }, `${a.name} attn_x allGather`);
      } else {
        const seg = io.plan.registry.segments[si];
        gpu.copy(hn, 0, this.xb.sendBuf, seg.offsets[io.rank] * 4, c * n * 4); // fresh x rows -> send
        this.wrote(si);
        src = await this.sources(si, false, { buf: this.xb.sendBuf, off: seg.offsets[io.rank] }, '');
      }
      const xAll = this.temp(c * HW); // [c, H*W]: other ranks' (stale or gathered) x rows + this step's own
      io.plan.ranges[l].forEach(([ra, rb], p) => {
        const np = (rb - ra) * W;
        const from = p === io.rank ? { buf: hn, base: 0 } : { buf: src.buf, base: src.base(p) };
        copyStrided(gpu, from.buf, xAll, { count: c, len: np, srcBase: from.base, srcStride: np, dstBase: ra * W, dstStride: HW });
      });
      const kv = this.ug.conv1(xAll, kvw, HW); // [2c, H*W]: keys then values
      temps.push(q, kv);
      o = attention(gpu, q, kv, { c, lq: n, lk: HW, qBase: 0, kBase: 0, vBase: c * HW });
    }
    const out = this.ug.conv1(o, a.proj, n, { buf: x, per: 'element' }); // [c, n] proj + x
    for (const b of [...temps, o]) gpu.free(b);
    return out;
  }

  /** eps rows [inC, rows_0, S] of this patch for class y (branch set by the caller). */
  private async forward(y: number): Promise<GPUBuffer> {
    const { gpu, io, model, S } = this;
    const temb = this.ug.tembAct(io.t, y); // [T]
    // conv_in: the latent is replicated, so its halo is exact and free (rows outside the image are 0)
    const [r0, r1] = io.plan.ranges[0][io.rank];
    const C0 = model.convIn.cin;
    const tile0 = new Float32Array(C0 * (r1 - r0 + 2) * S); // [inC, rows+2, S]
    for (let c = 0; c < C0; c++) {
      const a = Math.max(0, r0 - 1);
      const b = Math.min(S, r1 + 1);
      tile0.set(io.z.subarray((c * S + a) * S, (c * S + b) * S), (c * (r1 - r0 + 2) + a - (r0 - 1)) * S);
    }
    const t0 = this.temp(tile0.length);
    gpu.writeStaged(`unet.patch.r${io.rank}.tile0`, t0, tile0); // in encoder order: no submit first, unlike write()
    let h = conv2d(gpu, t0, this.ug.buf(model.convIn.w), this.ug.buf(model.convIn.b), {
      cin: C0, cout: model.convIn.cout, inRows: r1 - r0 + 2, width: S, k: 3, stride: 1, padW: 1,
    }); // [base, rows, S]
    const skips: (GPUBuffer | null)[] = [];
    const step = (next: GPUBuffer) => {
      if (!skips.includes(h)) gpu.free(h); // a skip output stays alive while it is still h
      h = next;
    };
    for (let l = 0; l < model.down.length; l++) {
      const d = model.down[l];
      step(await this.resBlock(d.res, h, l, temb)); // [ch, rows_l, W_l]
      if (d.attn) step(await this.attn(d.attn, h, l));
      skips.push(h);
      if (d.down) {
        const tile = this.tile(h, d.res.cout, l); // [ch, rows_l+2, W_l]
        h = await this.conv3(`down.${l}.down`, tile, d.down, l, 2); // [ch, rows_l/2, W_l/2]
        gpu.free(tile);
      }
    }
    const Lm = model.down.length - 1;
    step(await this.resBlock(model.mid.res1, h, Lm, temb));
    step(await this.attn(model.mid.attn, h, Lm));
    step(await this.resBlock(model.mid.res2, h, Lm, temb));
    for (let l = Lm; l >= 0; l--) {
      const u = model.up[l];
      const plane = this.rows(l) * (S >> l) * 4;
      const hC = u.res.cin - model.down[l].res.cout;
      const cat = gpu.alloc(u.res.cin * plane, 'unet.patch.concat'); // [hC + skipC, rows_l, W_l]: h first
      gpu.copy(h, 0, cat, 0, hC * plane);
      gpu.copy(skips[l]!, 0, cat, hC * plane, model.down[l].res.cout * plane);
      step(cat);
      gpu.free(skips[l]!);
      skips[l] = null;
      step(await this.resBlock(u.res, h, l, temb)); // [ch, rows_l, W_l]
      if (u.attn) step(await this.attn(u.attn, h, l));
      if (u.up) {
        const up = upsampleNearest(gpu, h, u.res.cout, this.rows(l), S >> l, 2); // [ch, rows_{l-1}, W_{l-1}]
        const tile = this.tile(up, u.res.cout, l - 1); // [ch, rows_{l-1}+2, W_{l-1}]
        step(await this.conv3(`up.${l}.up`, tile, u.up, l - 1, 1)); // [ch, rows_{l-1}, W_{l-1}]
        gpu.free(up);
        gpu.free(tile);
      }
    }
    const t = await this.norm('out.norm', h, model.outNorm, 0, true, true); // [ch, rows+2, S]
    const eps = await this.conv3('out.conv', t, model.outConv, 0, 1); // [inC, rows, S]
    for (const b of [h, t, temb]) gpu.free(b);
    return eps;
  }
}
