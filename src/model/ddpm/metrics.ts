// Image quality metrics for comparing patch-parallel samples with the single-device ones, on
// pixels in [0, 1] (latents are mapped with clip(x + 0.5, 0, 1) first, as the model's data range).
import { toPixels } from './sampler';

/** PSNR in dB between two latents' pixel images (peak 1). Infinity when identical. */
export function psnr(a: Float32Array, b: Float32Array): number {
  const pa = toPixels(a);
  const pb = toPixels(b);
  let mse = 0;
  for (let i = 0; i < pa.length; i++) mse += (pa[i] - pb[i]) ** 2;
  mse /= pa.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/** SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, valid positions, K1 0.01, K2 0.03) of one H x W image. */
export function ssim(a: Float32Array, b: Float32Array, H: number, W: number): number {
  const pa = toPixels(a); // [H, W]
  const pb = toPixels(b); // [H, W]
  const K = 11;
  const g: number[] = [];
  for (let i = 0; i < K; i++) g.push(Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
  const gs = g.reduce((x, y) => x + y, 0);
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  let total = 0;
  let n = 0;
  for (let y = 0; y + K <= H; y++) {
    for (let x = 0; x + K <= W; x++) {
      let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
      for (let i = 0; i < K; i++) {
        for (let j = 0; j < K; j++) {
          const w = (g[i] * g[j]) / (gs * gs);
          const va = pa[(y + i) * W + x + j];
          const vb = pb[(y + i) * W + x + j];
          ma += w * va;
          mb += w * vb;
          saa += w * va * va;
          sbb += w * vb * vb;
          sab += w * va * vb;
        }
      }
      const va = saa - ma * ma;
      const vb = sbb - mb * mb;
      const cov = sab - ma * mb;
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      n++;
    }
  }
  return total / n;
}
