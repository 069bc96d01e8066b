// Shared test helpers for the GEMM/GEMV kernel tests: a seeded generator and a relative error norm.

/** mulberry32: small seeded PRNG so every run draws the same "random" inputs. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
