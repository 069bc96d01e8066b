// GPU forward of fm-unet over the diffusion WGSL kernels. Activations stay on the GPU for the
// whole forward (GroupNorm statistics are finalised on the GPU too), so one forward is one
// submit plus one read-back of eps. Every 3x3 conv reads a halo-padded tile built by pad_rows,
// the same op a row patch uses with its neighbours' rows, so patch parallelism reuses these ops.
import type { Gpu } from '../../gpu/gpu';
import { add } from '../../kernels/diffusion/add';
import { attention } from '../../kernels/diffusion/attention';
import { activation } from '../../kernels/diffusion/activation';
import { conv2d, type Conv2dOptions } from '../../kernels/diffusion/conv2d';
import { groupNormStats } from '../../kernels/diffusion/group-norm-stats';
import { linear } from '../../kernels/diffusion/linear';
import { normApply } from '../../kernels/diffusion/norm-apply';
import { padRows, padRowsInto } from '../../kernels/diffusion/pad-rows';
import { upsampleNearest } from '../../kernels/diffusion/upsample';
import type { AttnW, Conv, GroupNormW, ResBlockW, UnetModel } from './config';
import { classRow, timeFeatures } from './embed';

const sharedUnets = new WeakMap<Gpu, WeakMap<UnetModel, UnetGpu>>(); // see UnetGpu.shared

export class UnetGpu {
  private readonly bufs = new Map<Float32Array, GPUBuffer>(); // weight array -> its GPU copy

  private constructor(
    readonly gpu: Gpu,
    readonly model: UnetModel,
  ) {}

  /**
   * The weights of `model` on `gpu`, uploaded on the first call and shared by later ones (every
   * patch-parallel peer of one process and every run reuse them; they live as long as the device).
   */
  static shared(gpu: Gpu, model: UnetModel): UnetGpu {
    let byModel = sharedUnets.get(gpu);
    if (!byModel) sharedUnets.set(gpu, (byModel = new WeakMap()));
    let u = byModel.get(model);
    if (!u) byModel.set(model, (u = UnetGpu.create(gpu, model)));
    return u;
  }

  /** Upload every weight once. */
  static create(gpu: Gpu, model: UnetModel): UnetGpu {
    const u = new UnetGpu(gpu, model);
    const convs: (Conv | null)[] = [model.convIn, model.outConv];
    const norms: GroupNormW[] = [model.outNorm];
    const res: ResBlockW[] = [model.mid.res1, model.mid.res2];
    const attns: (AttnW | null)[] = [model.mid.attn];
    for (const l of model.down) {
      res.push(l.res);
      convs.push(l.down);
      attns.push(l.attn);
    }
    for (const l of model.up) {
      res.push(l.res);
      convs.push(l.up);
      attns.push(l.attn);
    }
    const arrays: Float32Array[] = [model.timeLin1.w, model.timeLin1.b, model.timeLin2.w, model.timeLin2.b];
    for (const r of res) {
      convs.push(r.conv1, r.conv2, r.skip);
      norms.push(r.norm1, r.norm2);
      arrays.push(r.temb.w, r.temb.b);
    }
    for (const a of attns) {
      if (!a) continue;
      convs.push(a.qkv, a.proj);
      norms.push(a.norm);
    }
    for (const c of convs) if (c) arrays.push(c.w, c.b);
    for (const n of norms) arrays.push(n.gamma, n.beta);
    for (const a of arrays) u.buf(a);
    return u;
  }

  /** The GPU copy of a weight array (uploaded on first use). */
  buf(a: Float32Array): GPUBuffer {
    let b = this.bufs.get(a);
    if (!b) {
      b = this.gpu.upload(a, 'unet.weight');
      this.bufs.set(a, b);
    }
    return b;
  }

  /** SiLU(lin2(SiLU(lin1(sinus(t)))) + class_emb[y]): pooled buffer [tembDim]. */
  tembAct(t: number, y: number): GPUBuffer {
    const { gpu, model } = this;
    const T = model.config.tembDim;
    // Pooled + written (not upload()ed): an exact-size upload is destroyed at free(), which submits, and a
    // new buffer every step would miss the bind-group cache of every kernel reading it. Staged, not
    // write(): a write submits the pending dispatches first (~0.1 ms a submit on an H200 host), a staged
    // copy goes in encoder order (bench/results/unet-forward-profile-*).
    const tf = timeFeatures(t, model.config.timeFreqDim); // [64]
    const feat = gpu.alloc(tf.byteLength, 'unet.tfeat'); // [64]
    gpu.writeStaged('unet.tfeat', feat, tf);
    const h1 = linear(gpu, feat, this.buf(model.timeLin1.w), this.buf(model.timeLin1.b), model.timeLin1.nIn, T, 1, 'silu'); // [T]
    const h2 = linear(gpu, h1, this.buf(model.timeLin2.w), this.buf(model.timeLin2.b), T, T, 1, 'none'); // [T]
    const cr = classRow(model, y); // [T]
    const cls = gpu.alloc(cr.byteLength, 'unet.class'); // [T]
    gpu.writeStaged('unet.class', cls, cr);
    const sum = add(gpu, h2, cls, T); // [T]
    const out = activation(gpu, sum, T, 'silu'); // [T]
    for (const b of [feat, h1, h2, cls, sum]) gpu.free(b);
    return out;
  }

  /** Per-ResBlock time projection W temb_act + b: pooled buffer [cout]. */
  tembProj(r: ResBlockW, tembAct: GPUBuffer): GPUBuffer {
    return linear(this.gpu, tembAct, this.buf(r.temb.w), this.buf(r.temb.b), r.temb.nIn, r.cout, 1, 'none');
  }

  /** 3x3 conv, pad 1, of x [cin, S, S] (stride 1 or 2): pooled buffer [cout, S/stride, S/stride]. */
  conv3(x: GPUBuffer, cv: Conv, S: number, stride: 1 | 2): GPUBuffer {
    const tile = padRows(this.gpu, x, null, { channels: cv.cin, rows: S, width: S, top: 1, bottom: 1 }); // [cin, S+2, S]
    const y = conv2d(this.gpu, tile, this.buf(cv.w), this.buf(cv.b), {
      cin: cv.cin, cout: cv.cout, inRows: S + 2, width: S, k: 3, stride, padW: 1,
    }); // [cout, S/stride, S/stride]
    this.gpu.free(tile);
    return y;
  }

  /** 1x1 conv over [cin, L]: pooled buffer [cout, L]. */
  conv1(x: GPUBuffer, cv: Conv, L: number, plus?: Conv2dOptions['add']): GPUBuffer {
    return conv2d(this.gpu, x, this.buf(cv.w), this.buf(cv.b), { cin: cv.cin, cout: cv.cout, inRows: 1, width: L, k: 1, stride: 1, padW: 0 }, 'auto', { add: plus });
  }

  /**
   * GroupNorm (+ SiLU) of x [C, S, S]. pad: write into a conv tile [C, S+2, S] with zero halo rows
   * (the next 3x3 conv's input), else a plain [C, S, S]. Pooled buffer.
   */
  norm(x: GPUBuffer, n: GroupNormW, S: number, silu: boolean, pad: boolean): GPUBuffer {
    const { gpu } = this;
    const { groups, eps } = this.model.config;
    const C = n.c;
    const mr = groupNormStats(gpu, x, { channels: C, plane: S * S, groups, eps }, true); // [groups, 2]
    const off = pad ? 1 : 0;
    const out = gpu.alloc(C * (S + 2 * off) * S * 4, 'unet.norm'); // [C, S+2off, S]
    normApply(gpu, x, mr, this.buf(n.gamma), this.buf(n.beta), null, out, {
      channels: C, rows: S, width: S, groups, affine: 'channel', fullHeight: S, rowStart: 0,
      act: silu ? 'silu' : 'none', outRowOffset: off, outRows: S + 2 * off,
    });
    if (pad) padRowsInto(gpu, null, null, out, { channels: C, rows: S, width: S, top: 1, bottom: 1 }); // zero halo rows
    gpu.free(mr);
    return out;
  }

  /** ResBlock on x [cin, S, S]: pooled buffer [cout, S, S] (x is not freed). */
  resBlock(r: ResBlockW, x: GPUBuffer, S: number, tembAct: GPUBuffer): GPUBuffer {
    const { gpu } = this;
    // the time projection and the residual ride on the convs' split-K reductions (conv2d's `add`)
    const conv = (tile: GPUBuffer, cv: Conv, plus: Conv2dOptions['add']) =>
      conv2d(gpu, tile, this.buf(cv.w), this.buf(cv.b), { cin: cv.cin, cout: cv.cout, inRows: S + 2, width: S, k: 3, stride: 1, padW: 1 }, 'auto', { add: plus });
    const t1 = this.norm(x, r.norm1, S, true, true); // [cin, S+2, S]
    const tp = this.tembProj(r, tembAct); // [cout]
    const h2 = conv(t1, r.conv1, { buf: tp, per: 'channel' }); // [cout, S, S] conv1 + time projection
    const t2 = this.norm(h2, r.norm2, S, true, true); // [cout, S+2, S]
    const skip = r.skip ? this.conv1(x, r.skip, S * S) : x; // [cout, S, S]
    const out = conv(t2, r.conv2, { buf: skip, per: 'element' }); // [cout, S, S] conv2 + skip
    for (const b of [t1, tp, h2, t2]) gpu.free(b);
    if (skip !== x) gpu.free(skip);
    return out;
  }

  /** Attention block on x [c, S, S]: pooled buffer [c, S, S] (x is not freed). */
  attn(a: AttnW, x: GPUBuffer, S: number): GPUBuffer {
    const { gpu } = this;
    const L = S * S;
    const c = a.c;
    const hn = this.norm(x, a.norm, S, false, false); // [c, L]
    const qkv = this.conv1(hn, a.qkv, L); // [3c, L]
    const o = attention(gpu, qkv, qkv, { c, lq: L, lk: L, qBase: 0, kBase: c * L, vBase: 2 * c * L }); // [c, L]
    const out = this.conv1(o, a.proj, L, { buf: x, per: 'element' }); // [c, L] proj + x
    for (const b of [hn, qkv, o]) gpu.free(b);
    return out;
  }

  /** eps = unet(x, t, y) for one image x [inChannels, size, size]. */
  async forward(x: Float32Array, t: number, y: number): Promise<Float32Array> {
    const { gpu, model } = this;
    const cfg = model.config;
    let S = cfg.size;
    const temb = this.tembAct(t, y); // [T]
    const xin = gpu.alloc(x.byteLength, 'unet.x'); // [inC, S, S] pooled: an upload() is a createBuffer (~0.3-0.5 ms) each call
    gpu.writeStaged('unet.x', xin, x);
    let h = this.conv3(xin, model.convIn, S, 1); // [base, S, S]
    gpu.free(xin);
    const skips: (GPUBuffer | null)[] = []; // per level, alive until its up level has consumed it
    const step = (next: GPUBuffer) => {
      if (!skips.includes(h)) gpu.free(h); // a skip output stays alive while it is still h
      h = next;
    };
    for (const lvl of model.down) {
      step(this.resBlock(lvl.res, h, S, temb)); // [ch, S, S]
      if (lvl.attn) step(this.attn(lvl.attn, h, S));
      skips.push(h);
      if (lvl.down) {
        h = this.conv3(h, lvl.down, S, 2); // [ch, S/2, S/2]
        S /= 2;
      }
    }
    step(this.resBlock(model.mid.res1, h, S, temb));
    step(this.attn(model.mid.attn, h, S));
    step(this.resBlock(model.mid.res2, h, S, temb));
    for (let i = model.up.length - 1; i >= 0; i--) {
      const lvl = model.up[i];
      const hC = lvl.res.cin - model.down[i].res.cout;
      const plane = S * S * 4;
      const cat = gpu.alloc(lvl.res.cin * plane, 'unet.concat'); // [hC + skipC, S, S]: h first, then the skip
      gpu.copy(h, 0, cat, 0, hC * plane);
      gpu.copy(skips[i]!, 0, cat, hC * plane, model.down[i].res.cout * plane);
      step(cat);
      gpu.free(skips[i]!);
      skips[i] = null;
      step(this.resBlock(lvl.res, h, S, temb)); // [ch, S, S]
      if (lvl.attn) step(this.attn(lvl.attn, h, S));
      if (lvl.up) {
        const u = upsampleNearest(gpu, h, lvl.res.cout, S, S, 2); // [ch, 2S, 2S]
        S *= 2;
        step(this.conv3(u, lvl.up, S, 1)); // [ch, S, S]
        gpu.free(u);
      }
    }
    step(this.norm(h, model.outNorm, S, true, true)); // [ch, S+2, S]
    const eps = conv2d(gpu, h, this.buf(model.outConv.w), this.buf(model.outConv.b), {
      cin: model.outConv.cin, cout: model.outConv.cout, inRows: S + 2, width: S, k: 3, stride: 1, padW: 1,
    }); // [inC, S, S]
    gpu.free(h);
    gpu.free(temb);
    const out = new Float32Array(await gpu.read(eps, cfg.inChannels * S * S * 4)); // [inC, S, S]
    gpu.free(eps);
    return out;
  }

  /** Classifier-free guided eps (w = 1: one conditional forward). */
  async forwardGuided(x: Float32Array, t: number, y: number, w: number): Promise<Float32Array> {
    const cond = await this.forward(x, t, y); // [inC, S, S]
    if (w === 1) return cond;
    const unc = await this.forward(x, t, this.model.config.numClasses); // [inC, S, S]
    return unc.map((u, i) => u + w * (cond[i] - u));
  }

  destroy(): void {
    for (const b of this.bufs.values()) b.destroy();
    this.bufs.clear();
  }
}
