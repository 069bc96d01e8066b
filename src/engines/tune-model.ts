// Tunes a loaded model's prefill matmuls on this adapter, once per GPU model: each projection shape
// (as the model runs it, fused or not) at a few prompt-length classes, timed with tuneMatmul() and
// cached under the adapter's identity. A later load on the same GPU (a reload, another model with
// the same shapes) finds every entry cached and costs nothing. Why at load: a prefill's first
// request should not pay for it, and the load already makes the user wait for the weights.
// Software adapters (SwiftShader, lavapipe) are skipped: compiling each candidate takes seconds
// there, and 'auto' runs ORT on them anyway.
import type { Gpu } from '../gpu/gpu';
import type { TuneCache } from '../kernels/autotune';
import type { GpuWeight } from '../kernels/common';
import { tuneMatmul, type MatmulChoice } from '../kernels/matmul';
import { isSoftwareAdapter } from './engine-choice';

/**
 * Prompt-length classes tuned at load (matmulShapeKey rounds M up to a power of two): 64 stands for
 * chat turns (33-64 tokens), 512 for long prompts and pasted documents (257-512). Other classes keep
 * the untuned rule, which is within 10% of the best kernel on the H100 table it was read from.
 */
export const TUNE_PROMPT_CLASSES = [64, 512];
/** Wall-clock cap on tuning at one load: past it the remaining shapes keep the untuned rule. */
export const TUNE_BUDGET_MS = 30_000;

export interface TuneSummary {
  shapes: number; // shape x prompt class entries considered
  tuned: number; // timed now
  cached: number; // found in the cache
  ms: number;
  skipped?: string; // why nothing was tuned
}

export async function tuneModel(gpu: Gpu, shapes: { N: number; K: number; type: GpuWeight['type'] }[],
  opts: { promptClasses?: number[]; budgetMs?: number; cache?: TuneCache; force?: boolean; candidates?: MatmulChoice[] } = {}): Promise<TuneSummary> {
  const t0 = performance.now();
  const sum: TuneSummary = { shapes: 0, tuned: 0, cached: 0, ms: 0 };
  if (!opts.force && isSoftwareAdapter(gpu.report)) return { ...sum, skipped: `software adapter (${gpu.report.architecture || gpu.report.description})` };
  const budget = opts.budgetMs ?? TUNE_BUDGET_MS;
  for (const M of opts.promptClasses ?? TUNE_PROMPT_CLASSES) {
    for (const s of shapes) {
      sum.shapes++;
      if (performance.now() - t0 > budget) continue;
      const res = await tuneMatmul(gpu, M, s.N, s.K, s.type, { cache: opts.cache, candidates: opts.candidates });
      if (res.cached) sum.cached++;
      else sum.tuned++;
    }
  }
  sum.ms = performance.now() - t0;
  if (sum.shapes > sum.tuned + sum.cached) sum.skipped = `over the ${budget} ms budget: ${sum.shapes - sum.tuned - sum.cached} entries keep the untuned rule`;
  return sum;
}
