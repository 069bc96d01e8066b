// Projection matmul Y[M,N] = X[M,K] * W[N,K]^T for every weight type: the tiled kernel for prefill
// (M > 1) and the matrix-vector kernel for decode (M = 1, subgroup reduction when the adapter has it).
import matmulWgsl from '../../shaders/llm/matmul.wgsl?raw';
import matvecRowsWgsl from '../../shaders/llm/matvec_rows.wgsl?raw';
import matvecWgsl from '../../shaders/llm/matvec.wgsl?raw';
import matvecSgWgsl from '../../shaders/llm/matvec_sg.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { gemv, subgroupsUsable, GEMV_DEFAULT, type GemvConfig } from './gemv';
import { gemvBatch } from './gemv-batch';
import { dequantize, grid, params, WTYPE, type GpuWeight } from './common';
import type { WeightTensor } from '../model/types';

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
 * Stacks weights that read the same input ([N_i, K] each) into one [sum N_i, K] matrix, so one matmul
 * computes all their outputs side by side (row m = [y_0 | y_1 | ...]): fused q|k|v and gate|up
 * projections, one dispatch instead of three or two. Rows are independent in every matmul kernel, so
 * each output keeps its bits. Same types: the raw ggml rows concatenate as they are (q8_0 blocks run
 * along a row); mixed types are widened to f32 (exact for f16 and q8_0 values).
 */
export function concatRows(ws: WeightTensor[]): WeightTensor {
  const K = ws[0].cols;
  if (ws.some((w) => w.cols !== K)) throw new Error(`concatRows: column counts ${ws.map((w) => w.cols).join(', ')}`);
  const rows = ws.reduce((s, w) => s + w.rows, 0);
  const same = ws.every((w) => w.type === ws[0].type);
  const parts = same ? ws.map((w) => w.data) : ws.map((w) => new Uint8Array(dequantize(w).buffer)); // bytes of [N_i, K]
  const data = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0)); // [rows, K] in the common type
  let o = 0;
  for (const p of parts) { data.set(p, o); o += p.byteLength; }
  return { type: same ? ws[0].type : 'f32', rows, cols: K, data };
}

export type MatmulPath = 'tiled' | 'matvec' | 'matvec-shared' | 'rows' | 'gemv' | 'gemv-batch';

/**
 * Encodes y[M, N] = x[M, K] * w^T. `x` holds [M, w.cols] f32, `y` gets [M, w.rows].
 * `force` picks a path for tests ('tiled' | 'matvec' | 'matvec-shared'); default: matvec for M = 1.
 */
export function matmul(gpu: Gpu, x: GPUBuffer, w: GpuWeight, y: GPUBuffer, M: number,
  force?: MatmulPath): void {
  const N = w.rows;
  const K = w.cols;
  const constants = { WTYPE: WTYPE[w.type] };
  // CPU-backed adapters (SwiftShader in the browser, lavapipe) get the barrier-free kernel: see
  // shaders/llm/matvec_rows.wgsl for why barriers are so costly there.
  // Decode on GPUs with f32/f16 weights uses the bandwidth-tuned GEMV of src/kernels/gemv.ts (several
  // rows per workgroup, vec4 loads: 75-91% of HBM bandwidth on an H100, bench/results/gpu-kernels.md).
  const gemvOk = M === 1 && (w.type === 'f32' || w.type === 'f16');
  const path = force ?? (gpu.report.isFallback ? 'rows' : gemvOk ? 'gemv' : M === 1 ? 'matvec' : 'tiled');
  if (path === 'gemv') {
    if (!gemvOk) throw new Error(`gemv path needs M = 1 and f32/f16 weights (got M=${M}, ${w.type})`);
    const sg: GemvConfig = { wg: 256, rows: 4, subgroups: true };
    gemv(gpu, w.buf, x, N, K, w.type as 'f32' | 'f16', { out: y, config: subgroupsUsable(gpu, sg) ? sg : GEMV_DEFAULT });
    return;
  }
  if (path === 'gemv-batch') {
    // Batched decode (src/model/llama.ts decodeBatch): f32/f16 weights read once per 8 rows; other
    // weight types take the tiled kernel (also batch-invariant). The caller checks gemvBatchUsable().
    if (w.type === 'f32' || w.type === 'f16') gemvBatch(gpu, w.buf, x, y, M, N, K, w.type);
    else gpu.run({ code: matmulWgsl, file: 'shaders/llm/matmul.wgsl', constants }, params(M, N, K, w.scaleOff), [x, w.buf, y], [Math.ceil(N / 64), Math.ceil(M / 64)]);
    return;
  }
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
