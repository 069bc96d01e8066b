// Single-device CPU forward of the ddpm-mnist-cnn noise predictor, in plain TS, exactly as
// PROVENANCE.md describes: 4 x [conv7x7 -> LayerNorm(C,H,W) affine -> exact GELU] (+ time
// embedding per channel after block 0), then conv3x3 16->1. This is the ground truth that the GPU
// forward and every patch-parallel mode are compared against (it is itself checked against the
// golden numpy output in test/diffusion/reference.test.ts).
import { conv2dReference } from '../../kernels/diffusion/conv2d-ref';
import { linearReference } from '../../kernels/diffusion/misc-ref';
import { meanRstd, normApplyReference, normStatsReference } from '../../kernels/diffusion/norm-ref';
import type { DdpmModel } from './config';

/** [sin(t f), cos(t f) - 1] for the 16 frequencies: the 32-dim time encoding. */
export function timeEncoding(model: DdpmModel, tIn: number): Float32Array {
  const f = model.frequencies;
  const enc = new Float32Array(2 * f.length); // [32]
  for (let i = 0; i < f.length; i++) {
    // float32 product as the numpy reference does (t and f are float32 there)
    const ph = Math.fround(Math.fround(tIn) * f[i]);
    enc[i] = Math.sin(ph);
    enc[f.length + i] = Math.cos(ph) - 1;
  }
  return enc;
}

/** Time MLP 32 -> 128 -> 128 -> 128 -> 16 with GELU between layers. */
export function timeEmbedding(model: DdpmModel, tIn: number): Float32Array {
  let h = timeEncoding(model, tIn); // [32]
  model.timeMlp.forEach((l, j) => {
    h = linearReference(h, l.w, l.b, l.nIn, l.nOut, j + 1 < model.timeMlp.length ? 'gelu' : 'none'); // [nOut]
  });
  return h; // [16]
}

/** Copy [C, H, W] into a zero tile with `r` extra rows above and below: [C, H + 2r, W]. */
export function padRows(x: Float32Array, C: number, H: number, W: number, r: number): Float32Array {
  const out = new Float32Array(C * (H + 2 * r) * W); // [C, H+2r, W]
  for (let c = 0; c < C; c++) out.set(x.subarray(c * H * W, (c + 1) * H * W), (c * (H + 2 * r) + r) * W);
  return out;
}

/** eps = gt(z, tIn) for one image z [1, H, W]. */
export function forwardReference(model: DdpmModel, z: Float32Array, tIn: number): Float32Array {
  const { height: H, width: W, lnEps } = model.config;
  const temb = timeEmbedding(model, tIn); // [16]
  let x = z; // [cin, H, W]
  for (const b of model.blocks) {
    const { cin, cout, k } = b.spec;
    const r = (k - 1) / 2;
    const tile = padRows(x, cin, H, W, r); // [cin, H+2r, W]
    const y = conv2dReference(tile, b.convW, b.convB, { cin, cout, inRows: H + 2 * r, width: W, k, stride: 1, padW: r }); // [cout, H, W]
    if (!b.spec.norm) {
      x = y;
      continue;
    }
    const stats = normStatsReference(y, { channels: cout, rows: H, width: W, groups: 1 }); // [1, 2]
    const mr = meanRstd(stats, cout * H * W, lnEps); // [1, 2]
    x = normApplyReference(y, mr, b.normW, b.normB, b.spec.addTime ? temb : null, {
      channels: cout, rows: H, width: W, groups: 1, affine: 'element', fullHeight: H, rowStart: 0,
      act: 'gelu', outRowOffset: 0, outRows: H,
    }); // [cout, H, W]
  }
  return x; // [1, H, W]
}
