import { describe, expect, it } from 'vitest';
import { boundaryRows, buildPatchPlan, buildTile, packBoundary, splitRows } from '../../src/parallel/patch-plan';
import { combineStats } from '../../src/parallel/patch-stats';

describe('patch plan', () => {
  it('splits rows unevenly, first peers get the extra rows', () => {
    expect(splitRows(28, 3)).toEqual([[0, 10], [10, 19], [19, 28]]);
    expect(splitRows(28, 4)).toEqual([[0, 7], [7, 14], [14, 21], [21, 28]]);
    expect(() => splitRows(28, 29)).toThrow(/cannot split/);
  });

  it('boundary rows cover short patches completely', () => {
    expect(boundaryRows([0, 10], 3)).toEqual([0, 1, 2, 7, 8, 9]);
    expect(boundaryRows([5, 9], 3)).toEqual([5, 6, 7, 8]);
  });

  it('one flat buffer per rank: segments laid out in registration order, sizes per rank', () => {
    const plan = buildPatchPlan(28, 28, 3, [
      { cin: 1, cout: 4, k: 7, norm: true },
      { cin: 4, cout: 2, k: 3, norm: true, groups: 2 },
    ]);
    const reg = plan.registry;
    expect(reg.segments.map((s) => s.name)).toEqual(['block0.stats', 'block1.halo', 'block1.stats']);
    expect(reg.segments[1].sizes).toEqual([2 * 4 * 28, 2 * 4 * 28, 2 * 4 * 28]);
    expect(reg.total(0)).toBe(2 + 2 * 4 * 28 + 4);
    expect(reg.segments[2].offsets[1]).toBe(2 + 2 * 4 * 28);
  });

  it('halo tiles assembled from gathered flat buffers equal slices of the full tensor', () => {
    // a layer with radius 2 over 13 rows split 4 ways (patches of 4,3,3,3 rows: shorter than 2R+1)
    const H = 13, W = 5, C = 2;
    const plan = buildPatchPlan(H, W, 4, [{ cin: 1, cout: C, k: 3, norm: false }, { cin: C, cout: 1, k: 5, norm: false }]);
    const L = plan.layers[1];
    const full = Float32Array.from({ length: C * H * W }, (_, i) => i + 1); // [C, H, W]
    const local = (r: number) => {
      const [a, b] = plan.ranges[r];
      const t = new Float32Array(C * (b - a) * W); // [C, rows, W]
      for (let c = 0; c < C; c++) t.set(full.subarray((c * H + a) * W, (c * H + b) * W), c * (b - a) * W);
      return t;
    };
    const bufs = plan.ranges.map((_, r) => {
      const buf = new Float32Array(plan.registry.total(r));
      packBoundary(plan, L, r, local(r), plan.registry.view(buf, L.haloSeg, r));
      return buf;
    });
    for (let r = 0; r < 4; r++) {
      const [a, b] = plan.ranges[r];
      const tile = buildTile(plan, L, r, local(r), bufs);
      for (let c = 0; c < C; c++)
        for (let g = a - 2; g < b + 2; g++)
          for (let w = 0; w < W; w++) {
            const want = g < 0 || g >= H ? 0 : full[(c * H + g) * W + w];
            expect(tile[(c * (b - a + 4) + g - a + 2) * W + w]).toBe(want);
          }
    }
  });

  it('combines statistics per mode', () => {
    const counts = [10, 30];
    const fresh = Float64Array.from([20, 60]); // rank 0 now: mean 2, E[x^2] 6
    const stale = [[10, 20], [30, 60]]; // previous step: rank0 mean 1, rank1 mean 1 (E2 2)
    const sync = combineStats('full_sync', true, { groups: 1, counts, rank: 0, fresh, perRank: [[20, 60], [30, 60]] });
    expect(sync[0]).toBeCloseTo(50 / 40);
    expect(sync[1]).toBeCloseTo(120 / 40 - (50 / 40) ** 2);
    const corr = combineStats('corrected_async_gn', false, { groups: 1, counts, rank: 0, fresh, perRank: stale });
    expect(corr[0]).toBeCloseTo(40 / 40 + 2 - 1); // stale global mean + fresh local - stale local
    expect(corr[1]).toBeCloseTo(80 / 40 + 6 - 2 - 4); // E2 corrected likewise, minus mean^2
    const st = combineStats('stale_gn', false, { groups: 1, counts, rank: 0, fresh, perRank: stale });
    expect(st[0]).toBeCloseTo(50 / 40);
    const loc = combineStats('no_sync', false, { groups: 1, counts, rank: 0, fresh, perRank: null });
    expect(loc[0]).toBeCloseTo(2);
    expect(loc[1]).toBeCloseTo(2);
    // corrected variance negative -> falls back to fresh local statistics
    const neg = combineStats('corrected_async_gn', false, {
      // corrected mean -0.5 - 5 - 1 = -6.5, E2 1 + 26 - 1 = 26 < 42.25
      groups: 1, counts, rank: 0, fresh: Float64Array.from([-50, 260]), perRank: [[10, 10], [-30, 30]],
    });
    expect(neg[0]).toBeCloseTo(-5);
    expect(neg[1]).toBeCloseTo(1);
  });
});
