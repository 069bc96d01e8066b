// Batched matrix-vector product for continuous-batching decode (shaders/gemm/gemv_batch.wgsl):
// Y[M, N] = X[M, K] . W[N, K]^T for a few rows M, each weight vector loaded once per 8 rows. Row m's
// result is bitwise independent of M and of the other rows (same threads, same order), so a served
// request decodes to the same text alone or batched.
import code from '../../shaders/gemm/gemv_batch.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { GEMV_ALIGN, type GemvConfig, type GemvWeights } from './gemv';
import { WTYPE } from './common';

/** Rows of X per dispatch: the shader's const MB (accumulators per thread). */
export const GEMV_BATCH_ROWS = 8;

/** CPU reference (f64 accumulation): x [M, K] times w [N, K] transposed -> [M, N]; the projection matmul's. */
export { reference } from './matmul';

/** Whether the kernel can run: it reduces with subgroups, which must fit inside one row's threads. */
export function gemvBatchUsable(gpu: Pick<Gpu, 'report'>, cfg: GemvConfig = GEMV_BATCH_DEFAULT, maxSubgroupSize = 128): boolean {
  return gpu.report.hasSubgroups && maxSubgroupSize <= cfg.wg / cfg.rows;
}

// 256 threads on 2 weight rows (128 threads, four 32-wide subgroups, per row): the single-row GEMV's
// best H100 configurations were wg256 rows1-2 (bench/results/gpu-kernels.md).
export const GEMV_BATCH_DEFAULT: GemvConfig = { wg: 256, rows: 2, subgroups: true };

/** Encodes y[M, N] = x[M, K] . w^T: w [N, K] f32 | f16 pairs | q8_0 (scales at word `scaleOff`), x [M, K] f32 (xq:
 * quantizeQ8() of all M*K values, [M*K/4 + M*K/32] words), y [M, N] f32. */
export function gemvBatch(gpu: Gpu, w: GPUBuffer, x: GPUBuffer, y: GPUBuffer, M: number, N: number, K: number,
  wtype: GemvWeights, opts: { config?: GemvConfig; scaleOff?: number; xq?: boolean } = {}): void {
  const cfg = opts.config ?? GEMV_BATCH_DEFAULT;
  if (cfg.wg % cfg.rows !== 0) throw new Error(`gemv-batch config ${JSON.stringify(cfg)}: rows must divide wg`);
  if (wtype === 'q8_0' && K % 32 !== 0) throw new Error(`gemv-batch: q8_0 weights need K % 32 == 0 (got K=${K})`);
  if (opts.xq && wtype !== 'q8_0') throw new Error('gemv-batch: int8 x is for q8_0 weights');
  const aligned = K % GEMV_ALIGN[wtype] === 0;
  const groups = Math.ceil(N / cfg.rows);
  const gx = Math.min(groups, 65535);
  const kernel = {
    code, file: 'shaders/gemm/gemv_batch.wgsl',
    constants: { WG: cfg.wg, RPW: cfg.rows, WTYPE: WTYPE[wtype], CHECK: aligned ? 0 : 1, XQ: opts.xq ? 1 : 0 },
  };
  // One dispatch per chunk of 8 rows: a chunk re-reads the weights, so batches up to 8 cost one pass.
  for (let m0 = 0; m0 < M; m0 += GEMV_BATCH_ROWS) {
    gpu.run(kernel, new Uint32Array([N, K, M, m0, opts.scaleOff ?? 0, 0, 0, 0]), [w, x, y], [gx, Math.ceil(groups / gx)]);
  }
}
