// The GEMM result check shared by the GPU kernel benches (bench/gpu-kernels.ts, bench/gemm-sweep.ts).

/** Relative error of C on 256 sampled entries against an f64 CPU dot product (a full check at 4096^3 would take minutes). */
export function checkGemm(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, bT: boolean): number {
  let num = 0;
  let den = 0;
  for (let s = 0; s < 256; s++) {
    const m = (s * 7919) % M;
    const n = (s * 104729 + 13) % N;
    let ref = 0;
    for (let k = 0; k < K; k++) ref += a[m * K + k] * (bT ? b[n * K + k] : b[k * N + n]); // A [M,K], B [K,N] or [N,K]
    num += (c[m * N + n] - ref) ** 2;
    den += ref * ref;
  }
  return Number.isFinite(num) ? Math.sqrt(num / den) : Infinity;
}
