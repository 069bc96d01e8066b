// Heterogeneous tensor-parallel shares: each rank's slice of the query heads, the MLP hidden dim and
// the vocabulary in proportion to a weight (e.g. its measured speed), so a fast GPU peer and a slow
// wasm peer finish each layer at about the same time instead of the fast one waiting in every
// all-reduce. Everything stays contiguous, so the byte ranges and the shard layout of tp.ts apply
// unchanged; only the boundaries move. With equal weights the result equals tp.ts's splitRange.
import type { LlamaConfig } from '../model/types';
import { TpConfigError, type TpPlan } from './tp-types';

/**
 * Splits n items (n % unit == 0) into weights.length contiguous half-open ranges, in whole units,
 * proportional to `weights` (largest-remainder rounding, ties to the lower rank), with at least one
 * unit per rank. Returns [start, end) per rank, covering [0, n) in rank order.
 */
export function proportionalSplit(n: number, weights: number[], unit = 1): [number, number][] {
  const k = weights.length;
  if (k < 1) throw new TpConfigError('proportionalSplit: no ranks');
  if (!Number.isInteger(unit) || unit < 1 || !Number.isInteger(n) || n % unit !== 0)
    throw new TpConfigError(`proportionalSplit: ${n} items are not whole units of ${unit}`);
  for (const w of weights) if (!(Number.isFinite(w) && w > 0)) throw new TpConfigError(`rank weights must be positive and finite, got ${weights.join(', ')}`);
  const units = n / unit;
  if (units < k) throw new TpConfigError(`${k} ranks cannot each get one of ${units} units of ${unit}`);
  const total = weights.reduce((a, b) => a + b, 0);
  const quota = weights.map((w) => (units * w) / total);
  const count = quota.map((q) => Math.floor(q));
  // Largest remainder first; the order is fixed by (remainder desc, rank asc), so every rank that
  // computes the plan from the same weights gets the same boundaries.
  const order = quota.map((q, r) => ({ r, frac: q - Math.floor(q) })).sort((a, b) => b.frac - a.frac || a.r - b.r);
  let left = units - count.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i++, left--) count[order[i % k].r]++;
  // Every rank gets at least one unit, taken from the rank that is furthest above its quota.
  for (let r = 0; r < k; r++) {
    while (count[r] < 1) {
      let donor = -1;
      for (let d = 0; d < k; d++) if (count[d] > 1 && (donor < 0 || count[d] - quota[d] > count[donor] - quota[donor])) donor = d;
      count[donor]--; // exists: units >= k
      count[r]++;
    }
  }
  const out: [number, number][] = [];
  let start = 0;
  for (const c of count) {
    out.push([start * unit, (start + c) * unit]);
    start += c;
  }
  return out;
}

/** The kv heads a contiguous range of query heads needs, and each local query head's local kv head. */
export function kvHeadsFor(config: Pick<LlamaConfig, 'nHeads' | 'nKvHeads'>, heads: [number, number]): Pick<TpPlan, 'kvHeads' | 'kvHeadOfLocalHead'> {
  const group = config.nHeads / config.nKvHeads; // query heads per kv head
  const kvHeads: [number, number] = [Math.floor(heads[0] / group), Math.floor((heads[1] - 1) / group) + 1];
  const kvHeadOfLocalHead: number[] = [];
  for (let h = heads[0]; h < heads[1]; h++) kvHeadOfLocalHead.push(Math.floor(h / group) - kvHeads[0]);
  return { kvHeads, kvHeadOfLocalHead };
}

/**
 * Query heads are cut at kv-group boundaries when there are at least as many kv heads as ranks (no kv
 * head is then duplicated on two ranks); otherwise head by head.
 */
export function headUnit(config: Pick<LlamaConfig, 'nHeads' | 'nKvHeads'>, ranks: number): number {
  const group = config.nHeads / config.nKvHeads;
  return config.nKvHeads >= ranks ? group : 1;
}

/** Throws TpConfigError unless these weights can split this model (every rank needs a head, a unit of hidden, a vocab row). */
export function validateHetero(config: LlamaConfig, weights: number[], hiddenUnit = 1): void {
  const tp = weights.length;
  if (tp < 1) throw new TpConfigError('no ranks');
  if (config.nHeads % config.nKvHeads !== 0)
    throw new TpConfigError(`nHeads ${config.nHeads} is not a multiple of nKvHeads ${config.nKvHeads}`);
  if (tp > config.nHeads) throw new TpConfigError(`${tp} ranks exceed the ${config.nHeads} attention heads`);
  if (config.hiddenDim / hiddenUnit < tp)
    throw new TpConfigError(`${tp} ranks exceed the ${config.hiddenDim / hiddenUnit} units of the MLP hidden size ${config.hiddenDim}`);
  if (tp > config.vocabSize) throw new TpConfigError(`${tp} ranks exceed the vocabulary size ${config.vocabSize}`);
  for (const w of weights) if (!(Number.isFinite(w) && w > 0)) throw new TpConfigError(`rank weights must be positive and finite, got ${weights.join(', ')}`);
}

/**
 * The plan of rank `rank` when rank r's share is proportional to weights[r]. `hiddenUnit` is 32 when
 * w_down is block-quantized (tp.ts computes it the same way for planTp). Heads, hidden units and
 * vocab rows are all proportional: each is a per-token cost of the rank (attention + o-proj, MLP,
 * output head).
 */
export function planHetero(config: LlamaConfig, rank: number, weights: number[], hiddenUnit = 1): TpPlan {
  validateHetero(config, weights, hiddenUnit);
  const tp = weights.length;
  if (!Number.isInteger(rank) || rank < 0 || rank >= tp) throw new TpConfigError(`rank ${rank} not in [0, ${tp})`);
  let unit = headUnit(config, tp);
  if (config.nHeads / unit < tp) unit = 1;
  const heads = proportionalSplit(config.nHeads, weights, unit)[rank];
  return {
    rank,
    tp,
    heads,
    ...kvHeadsFor(config, heads),
    hidden: proportionalSplit(config.hiddenDim, weights, hiddenUnit)[rank],
    vocab: proportionalSplit(config.vocabSize, weights, 1)[rank],
  };
}
