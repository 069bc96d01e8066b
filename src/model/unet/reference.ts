// Single-device CPU forward of fm-unet in plain TS, written from docs/unet-spec.md alone (no kernel
// references reused), so it independently checks the GPU forward and every patch-parallel mode.
// Tensors are channel-major [C, H, W] Float32Arrays; sums are accumulated in float64.
import type { AttnW, Conv, GroupNormW, Linear, ResBlockW, UnetModel } from './config';
import { classRow, timeFeatures } from './embed';

const siluF = (v: number): number => v / (1 + Math.exp(-v));

/** y = W x + b, optionally SiLU. */
export function linearCpu(x: Float32Array /* [nIn] */, l: Linear, silu: boolean): Float32Array {
  const y = new Float32Array(l.nOut); // [nOut]
  for (let o = 0; o < l.nOut; o++) {
    let acc = l.b[o];
    for (let i = 0; i < l.nIn; i++) acc += l.w[o * l.nIn + i] * x[i];
    y[o] = silu ? siluF(acc) : acc;
  }
  return y;
}

/** Zero-padded conv (square kernel, same pad on all sides): [cin, H, W] -> [cout, Ho, Wo]. */
export function convCpu(x: Float32Array, cv: Conv, H: number, W: number, stride: number, pad: number): Float32Array {
  const { cin, cout, k } = cv;
  const Ho = Math.floor((H + 2 * pad - k) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - k) / stride) + 1;
  const out = new Float32Array(cout * Ho * Wo); // [cout, Ho, Wo]
  const acc = new Float64Array(Ho * Wo); // [Ho, Wo] one output plane
  for (let co = 0; co < cout; co++) {
    acc.fill(cv.b[co]);
    for (let ci = 0; ci < cin; ci++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const wv = cv.w[((co * cin + ci) * k + ky) * k + kx];
          // output columns whose input column ox*stride + kx - pad lies inside [0, W)
          const oxLo = Math.max(0, Math.ceil((pad - kx) / stride));
          const oxHi = Math.min(Wo, Math.floor((W - 1 + pad - kx) / stride) + 1);
          for (let oy = 0; oy < Ho; oy++) {
            const iy = oy * stride + ky - pad;
            if (iy < 0 || iy >= H) continue;
            const rowIn = (ci * H + iy) * W + kx - pad;
            const rowOut = oy * Wo;
            for (let ox = oxLo; ox < oxHi; ox++) acc[rowOut + ox] += wv * x[rowIn + ox * stride];
          }
        }
      }
    }
    for (let i = 0; i < Ho * Wo; i++) out[co * Ho * Wo + i] = acc[i];
  }
  return out;
}

/** GroupNorm (biased variance, two-pass) + per-channel affine, optionally SiLU: [C, HW] -> same. */
export function groupNormCpu(x: Float32Array, n: GroupNormW, groups: number, eps: number, silu: boolean): Float32Array {
  const C = n.c;
  const HW = x.length / C;
  const cpg = C / groups;
  const out = new Float32Array(x.length); // [C, HW]
  for (let g = 0; g < groups; g++) {
    const lo = g * cpg * HW;
    const hi = (g + 1) * cpg * HW;
    let s = 0;
    for (let i = lo; i < hi; i++) s += x[i];
    const mean = s / (hi - lo);
    let m2 = 0;
    for (let i = lo; i < hi; i++) m2 += (x[i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(m2 / (hi - lo) + eps);
    for (let c = g * cpg; c < (g + 1) * cpg; c++) {
      for (let p = 0; p < HW; p++) {
        const v = (x[c * HW + p] - mean) * rstd * n.gamma[c] + n.beta[c];
        out[c * HW + p] = silu ? siluF(v) : v;
      }
    }
  }
  return out;
}

/** The conditioning vector every ResBlock reads: SiLU(lin2(SiLU(lin1(sinus(t)))) + class_emb[y]) -> [tembDim]. */
export function tembActCpu(model: UnetModel, t: number, y: number): Float32Array {
  const h = linearCpu(timeFeatures(t, model.config.timeFreqDim), model.timeLin1, true); // [T]
  const temb = linearCpu(h, model.timeLin2, false); // [T]
  const cls = classRow(model, y); // [T]
  return temb.map((v, i) => siluF(v + cls[i])); // [T]
}

function add(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + b[i]); // same shape
}

/** ResBlock on x [cin, H, W] -> [cout, H, W]. */
export function resBlockCpu(model: UnetModel, r: ResBlockW, x: Float32Array, H: number, W: number, tembAct: Float32Array): Float32Array {
  const { groups, eps } = model.config;
  let h = convCpu(groupNormCpu(x, r.norm1, groups, eps, true), r.conv1, H, W, 1, 1); // [cout, H, W]
  const tp = linearCpu(tembAct, r.temb, false); // [cout]
  h = h.map((v, i) => v + tp[Math.floor(i / (H * W))]);
  h = convCpu(groupNormCpu(h, r.norm2, groups, eps, true), r.conv2, H, W, 1, 1); // [cout, H, W]
  return add(h, r.skip ? convCpu(x, r.skip, H, W, 1, 0) : x);
}

/** Single-head softmax attention: q [c, Lq], k/v [c, Lk] -> o [c, Lq]. */
export function attentionCpu(q: Float32Array, k: Float32Array, v: Float32Array, c: number, lq: number, lk: number): Float32Array {
  const o = new Float32Array(c * lq); // [c, Lq]
  const s = new Float64Array(lk); // [Lk] scores of one query
  const scale = 1 / Math.sqrt(c);
  for (let i = 0; i < lq; i++) {
    let mx = -Infinity;
    for (let j = 0; j < lk; j++) {
      let d = 0;
      for (let ch = 0; ch < c; ch++) d += q[ch * lq + i] * k[ch * lk + j];
      s[j] = d * scale;
      mx = Math.max(mx, s[j]);
    }
    let tot = 0;
    for (let j = 0; j < lk; j++) tot += s[j] = Math.exp(s[j] - mx);
    for (let ch = 0; ch < c; ch++) {
      let acc = 0;
      for (let j = 0; j < lk; j++) acc += s[j] * v[ch * lk + j];
      o[ch * lq + i] = acc / tot;
    }
  }
  return o;
}

/** Attention block on x [c, H, W] -> [c, H, W]. */
export function attnBlockCpu(model: UnetModel, a: AttnW, x: Float32Array, H: number, W: number): Float32Array {
  const L = H * W;
  const c = a.c;
  const qkv = convCpu(groupNormCpu(x, a.norm, model.config.groups, model.config.eps, false), a.qkv, H, W, 1, 0); // [3c, L]
  const o = attentionCpu(qkv.subarray(0, c * L), qkv.subarray(c * L, 2 * c * L), qkv.subarray(2 * c * L), c, L, L); // [c, L]
  return add(x, convCpu(o, a.proj, H, W, 1, 0));
}

/** Nearest x2: [C, H, W] -> [C, 2H, 2W]. */
export function upsample2Cpu(x: Float32Array, C: number, H: number, W: number): Float32Array {
  const out = new Float32Array(C * 4 * H * W); // [C, 2H, 2W]
  for (let c = 0; c < C; c++)
    for (let i = 0; i < 2 * H; i++)
      for (let j = 0; j < 2 * W; j++) out[(c * 2 * H + i) * 2 * W + j] = x[(c * H + (i >> 1)) * W + (j >> 1)];
  return out;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length); // [Ca + Cb, H, W]
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** eps = unet(x, t, y) for one image x [inChannels, size, size]; t the integer step as a float, y in 0..10. */
export function unetReference(model: UnetModel, x: Float32Array, t: number, y: number): Float32Array {
  const c = model.config;
  const tembAct = tembActCpu(model, t, y); // [T]
  let S = c.size;
  let h = convCpu(x, model.convIn, S, S, 1, 1); // [base, S, S]
  const skips: Float32Array[] = [];
  for (const lvl of model.down) {
    h = resBlockCpu(model, lvl.res, h, S, S, tembAct); // [ch, S, S]
    if (lvl.attn) h = attnBlockCpu(model, lvl.attn, h, S, S);
    skips.push(h);
    if (lvl.down) {
      h = convCpu(h, lvl.down, S, S, 2, 1); // [ch, S/2, S/2]
      S /= 2;
    }
  }
  h = resBlockCpu(model, model.mid.res1, h, S, S, tembAct);
  h = attnBlockCpu(model, model.mid.attn, h, S, S);
  h = resBlockCpu(model, model.mid.res2, h, S, S, tembAct);
  for (let i = model.up.length - 1; i >= 0; i--) {
    const lvl = model.up[i];
    h = resBlockCpu(model, lvl.res, concat(h, skips[i]), S, S, tembAct); // [ch, S, S]
    if (lvl.attn) h = attnBlockCpu(model, lvl.attn, h, S, S);
    if (lvl.up) {
      h = convCpu(upsample2Cpu(h, lvl.res.cout, S, S), lvl.up, 2 * S, 2 * S, 1, 1); // [ch, 2S, 2S]
      S *= 2;
    }
  }
  h = groupNormCpu(h, model.outNorm, c.groups, c.eps, true);
  return convCpu(h, model.outConv, S, S, 1, 1); // [inChannels, size, size]
}

/** Classifier-free guided eps = eps(x,t,null) + w (eps(x,t,y) - eps(x,t,null)); w = 1 is one forward. */
export function unetGuidedReference(model: UnetModel, x: Float32Array, t: number, y: number, w: number): Float32Array {
  const cond = unetReference(model, x, t, y); // [1, S, S]
  if (w === 1) return cond;
  const unc = unetReference(model, x, t, model.config.numClasses); // [1, S, S]
  return unc.map((u, i) => u + w * (cond[i] - u));
}
