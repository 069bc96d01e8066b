// Shared test helpers for the GEMM/GEMV kernel tests: a seeded generator and a relative error norm.

import { mulberry32 as rng } from '../../src/model/prng';

export { rng };

/** n uniform values in [-1, 1). */
export function randn(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return new Float32Array(n).map(() => r() * 2 - 1); // [n]
}

/** ||got - want|| / ||want||; NaN anywhere (an unwritten, poisoned output) gives Infinity. */
export function relErr(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
