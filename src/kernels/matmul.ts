// Projection matmul Y[M,N] = X[M,K] * W[N,K]^T for every weight type: the tiled kernel for prefill
// (M > 1) and the matrix-vector kernel for decode (M = 1, subgroup reduction when the adapter has it).
import matmulWgsl from '../../shaders/llm/matmul.wgsl?raw';
import matvecRowsWgsl from '../../shaders/llm/matvec_rows.wgsl?raw';
import matvecWgsl from '../../shaders/llm/matvec.wgsl?raw';
import matvecSgWgsl from '../../shaders/llm/matvec_sg.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params, WTYPE, type GpuWeight } from './common';

/** CPU reference: x [M, K] times w [N, K] transposed -> [M, N], accumulated in f64. */
export function reference(x: Float32Array, w: Float32Array, M: number, N: number, K: number): Float32Array {
  const y = new Float32Array(M * N); // [M, N]
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  }
  return y;
}

/**
 * Encodes y[M, N] = x[M, K] * w^T. `x` holds [M, w.cols] f32, `y` gets [M, w.rows].
 * `force` picks a path for tests ('tiled' | 'matvec' | 'matvec-shared'); default: matvec for M = 1.
 */
export function matmul(gpu: Gpu, x: GPUBuffer, w: GpuWeight, y: GPUBuffer, M: number,
  force?: 'tiled' | 'matvec' | 'matvec-shared' | 'rows'): void {
  const N = w.rows;
  const K = w.cols;
  const constants = { WTYPE: WTYPE[w.type] };
  // CPU-backed adapters (SwiftShader in the browser, lavapipe) get the barrier-free kernel: see
  // shaders/llm/matvec_rows.wgsl for why barriers are so costly there.
  const path = force ?? (gpu.report.isFallback ? 'rows' : M === 1 ? 'matvec' : 'tiled');
  if (path === 'rows') {
    gpu.run({ code: matvecRowsWgsl, file: 'shaders/llm/matvec_rows.wgsl', constants }, params(N, K, w.scaleOff, M),
      [x, w.buf, y], grid(Math.ceil((M * N) / 64)));
    return;
  }
  if (path === 'tiled') {
    gpu.run({ code: matmulWgsl, file: 'shaders/llm/matmul.wgsl', constants }, params(M, N, K, w.scaleOff),
      [x, w.buf, y], [Math.ceil(N / 64), Math.ceil(M / 64)]);
    return;
  }
  if (M !== 1) throw new Error('matvec path needs M = 1');
  const sg = path === 'matvec' && gpu.report.hasSubgroups;
  const kernel = sg
    ? { code: matvecSgWgsl, file: 'shaders/llm/matvec_sg.wgsl', constants }
    : { code: matvecWgsl, file: 'shaders/llm/matvec.wgsl', constants };
  gpu.run(kernel, params(N, K, w.scaleOff), [x, w.buf, y], grid(N));
}
