// Plain-TS references for the small elementwise kernels: linear (time MLP), activation,
// nearest 2x upsample, and per-channel add (bias / time embedding).
import { gelu, silu } from './activation-ref';
import type { Act } from './norm-ref';

/** y[o] = act(b[o] + sum_i w[o, i] x[i]) for a batch of rows. */
export function linearReference(
  x: Float32Array, // [batch, nIn]
  w: Float32Array, // [nOut, nIn]
  b: Float32Array, // [nOut]
  nIn: number,
  nOut: number,
  act: Act,
): Float32Array {
  const batch = x.length / nIn;
  const y = new Float32Array(batch * nOut); // [batch, nOut]
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < nOut; o++) {
      let acc = b[o];
      for (let i = 0; i < nIn; i++) acc += w[o * nIn + i] * x[n * nIn + i];
      y[n * nOut + o] = act === 'gelu' ? gelu(acc) : act === 'silu' ? silu(acc) : acc;
    }
  }
  return y;
}

export function activationReference(x: Float32Array, act: Act): Float32Array {
  return x.map((v) => (act === 'gelu' ? gelu(v) : act === 'silu' ? silu(v) : v)); // same shape as x
}

/** Nearest upsample by `factor` in both dims: [C, H, W] -> [C, H*f, W*f]. */
export function upsampleNearestReference(x: Float32Array, C: number, H: number, W: number, factor: number): Float32Array {
  const Ho = H * factor;
  const Wo = W * factor;
  const y = new Float32Array(C * Ho * Wo); // [C, Ho, Wo]
  for (let c = 0; c < C; c++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) y[(c * Ho + i) * Wo + j] = x[(c * H + Math.floor(i / factor)) * W + Math.floor(j / factor)];
  return y;
}

/** y[c, p] = x[c, p] + v[c] over a [C, plane] tensor. */
export function channelAddReference(x: Float32Array, v: Float32Array, C: number): Float32Array {
  const plane = x.length / C;
  return x.map((val, i) => val + v[Math.floor(i / plane)]); // [C, plane]
}
