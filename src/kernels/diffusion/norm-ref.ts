// Plain-TS reference of GroupNorm/LayerNorm split into (1) partial statistics over the local rows
// and (2) apply. Splitting lets peers that each hold some rows combine (sum, sumsq, count) into
// exact global statistics, or correct stale ones (DistriFusion's corrected async GN).
// LayerNorm over (C,H,W) is GroupNorm with groups = 1.
import { gelu, silu } from './activation-ref';

export type Act = 'none' | 'gelu' | 'silu';
export const ACT_CODE: Record<Act, number> = { none: 0, gelu: 1, silu: 2 };

export interface NormShape {
  channels: number;
  rows: number; // local rows of the tile (no halo)
  width: number;
  groups: number; // channels % groups == 0
}

/** Per group [sum, sumsq] over its channels x local rows x width, accumulated in float64. */
export function normStatsReference(x: Float32Array /* [C, rows, W] */, s: NormShape): Float64Array {
  const cpg = s.channels / s.groups;
  const plane = s.rows * s.width;
  const out = new Float64Array(2 * s.groups); // [groups, 2]
  for (let g = 0; g < s.groups; g++) {
    let sum = 0;
    let sq = 0;
    for (let i = g * cpg * plane; i < (g + 1) * cpg * plane; i++) {
      sum += x[i];
      sq += x[i] * x[i];
    }
    out[2 * g] = sum;
    out[2 * g + 1] = sq;
  }
  return out;
}

/** Turn global [sum, sumsq] per group plus the element count per group into [mean, rstd] per group. */
export function meanRstd(stats: Float64Array, countPerGroup: number, eps: number): Float32Array {
  const groups = stats.length / 2;
  const out = new Float32Array(2 * groups); // [groups, 2]
  for (let g = 0; g < groups; g++) {
    const mean = stats[2 * g] / countPerGroup;
    const v = Math.max(stats[2 * g + 1] / countPerGroup - mean * mean, 0);
    out[2 * g] = mean;
    out[2 * g + 1] = 1 / Math.sqrt(v + eps);
  }
  return out;
}

export interface NormApplyShape extends NormShape {
  /** 'none': no affine; 'channel': gamma/beta [C] (GroupNorm); 'element': gamma/beta [C, fullH, W] (this LN). */
  affine: 'none' | 'channel' | 'element';
  fullHeight: number; // rows of the whole image, for 'element' affine indexing
  rowStart: number; // global row of local row 0, for 'element' affine indexing
  act: Act;
  outRowOffset: number; // write into a tile with this many halo rows above (the next conv's input)
  outRows: number; // rows of the output tile (>= rows + outRowOffset)
}

/** y = act((x - mean_g) * rstd_g * gamma + beta) + chanAdd[c], written at row offset outRowOffset. */
export function normApplyReference(
  x: Float32Array, // [C, rows, W]
  meanRstdG: Float32Array, // [groups, 2]
  gamma: Float32Array | null,
  beta: Float32Array | null,
  chanAdd: Float32Array | null, // [C] added after the activation (time embedding) or null
  s: NormApplyShape,
): Float32Array {
  const { channels: C, rows, width: W } = s;
  const cpg = C / s.groups;
  const out = new Float32Array(C * s.outRows * W); // [C, outRows, W], halo rows left 0
  for (let c = 0; c < C; c++) {
    const g = Math.floor(c / cpg);
    for (let r = 0; r < rows; r++) {
      for (let w = 0; w < W; w++) {
        let v = (x[(c * rows + r) * W + w] - meanRstdG[2 * g]) * meanRstdG[2 * g + 1];
        if (s.affine === 'channel') v = v * gamma![c] + beta![c];
        else if (s.affine === 'element') {
          const ai = (c * s.fullHeight + s.rowStart + r) * W + w;
          v = v * gamma![ai] + beta![ai];
        }
        if (s.act === 'gelu') v = gelu(v);
        else if (s.act === 'silu') v = silu(v);
        if (chanAdd) v += chanAdd[c];
        out[(c * s.outRows + s.outRowOffset + r) * W + w] = v;
      }
    }
  }
  return out;
}
