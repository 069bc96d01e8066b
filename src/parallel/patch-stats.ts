// Combining LayerNorm/GroupNorm statistics across peers for each DistriFusion mode.
// Inputs are per-group [sum, sumsq] (float64 locally, float32 on the wire) and element counts.
import type { PatchMode } from './patch-plan';

export interface StatsInput {
  groups: number;
  counts: number[]; // elements per group on each rank (cpg * rows_p * W)
  rank: number;
  fresh: Float64Array; // [groups, 2] this step's local sums
  /** [groups, 2] per rank: this step's sums (synchronous gather) or the previous step's (stale). */
  perRank: ArrayLike<number>[] | null;
}

/** [mean, var] per group, as float64: [groups, 2]. `perRank` is fresh when `sync`, stale otherwise. */
export function combineStats(mode: PatchMode, sync: boolean, s: StatsInput): Float64Array {
  const out = new Float64Array(2 * s.groups); // [groups, 2]
  const nAll = s.counts.reduce((a, b) => a + b, 0);
  const nMe = s.counts[s.rank];
  for (let g = 0; g < s.groups; g++) {
    const fm = s.fresh[2 * g] / nMe; // fresh local E[x]
    const f2 = s.fresh[2 * g + 1] / nMe; // fresh local E[x^2]
    let m: number;
    let e2: number;
    if (mode === 'no_sync' || !s.perRank) {
      m = fm; // separate statistics per patch
      e2 = f2;
    } else if (sync) {
      // exact: every rank's sums of this step
      let S = 0;
      let Q = 0;
      for (const p of s.perRank) {
        S += p[2 * g];
        Q += p[2 * g + 1];
      }
      m = S / nAll;
      e2 = Q / nAll;
    } else {
      let S = 0;
      let Q = 0;
      s.perRank.forEach((p, r) => {
        if (mode === 'stale_gn' && r === s.rank) return; // replaced by the fresh local sums below
        S += p[2 * g];
        Q += p[2 * g + 1];
      });
      if (mode === 'stale_gn') {
        // distrifuser's non-corrected async GN: others' stale contributions + our fresh one
        m = (S + s.fresh[2 * g]) / nAll;
        e2 = (Q + s.fresh[2 * g + 1]) / nAll;
      } else {
        // corrected_async_gn: stale global + (fresh local - stale local), in means (distrifuser's
        // correction): assumes the other patches drifted since the last step as ours did
        const st = s.perRank[s.rank];
        m = S / nAll + fm - st[2 * g] / nMe;
        e2 = Q / nAll + f2 - st[2 * g + 1] / nMe;
      }
    }
    let v = e2 - m * m;
    // the extrapolated variance can go negative: fall back to the fresh local statistics
    if (v < 0 && mode === 'corrected_async_gn') {
      m = fm;
      v = f2 - fm * fm;
    }
    out[2 * g] = m;
    out[2 * g + 1] = Math.max(v, 0);
  }
  return out;
}

/** [mean, var] -> [mean, rstd] as float32 for the apply kernel. */
export function toMeanRstd(mv: Float64Array, eps: number): Float32Array {
  const out = new Float32Array(mv.length); // [groups, 2]
  for (let g = 0; g < mv.length / 2; g++) {
    out[2 * g] = mv[2 * g];
    out[2 * g + 1] = 1 / Math.sqrt(mv[2 * g + 1] + eps);
  }
  return out;
}
