import { describe, expect, it } from 'vitest';
import { benchCollectives, benchLink, percentile } from '../../src/collectives/bench';
import { loopbackGroup } from '../../src/collectives/loopback';

describe('bench helpers over loopback', () => {
  it('percentile picks the nearest-rank value', () => {
    expect(percentile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(10);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('benchCollectives: one row per (op, size), identical on every rank', async () => {
    const g = loopbackGroup(3, { directMaxBytes: 1024 });
    const sizes = [64, 10_002]; // 10002 is rounded down to whole floats
    const perRank = await Promise.all(g.comms.map((c) => benchCollectives(c, sizes, 3)));
    for (const rows of perRank) {
      expect(rows.map((r) => `${r.op}:${r.bytes}:${r.n}`)).toEqual([
        'allReduce:64:3', 'allReduce:10000:3', 'allGather:64:3', 'allGather:10000:3', 'broadcast:64:3', 'broadcast:10000:3',
      ]);
      for (const r of rows) {
        expect(r.p50_ms).toBeGreaterThan(0);
        expect(r.throughput_MBps).toBeCloseTo(r.bytes / (r.p50_ms * 1e3), 9);
      }
      expect(rows).toEqual(perRank[0]); // from the slowest rank's times, so the same everywhere
    }
  });

  it('benchLink: round trips and bulk throughput against a remote that runs no bench code', async () => {
    const g = loopbackGroup(2);
    const res = await benchLink(g.meshes[0], 'p1', { pings: 10, bulkBytes: 200_000, bulkReps: 2, timeoutMs: 5000 });
    expect(res.peer).toBe('p1');
    expect(res.rtt_p50_ms).toBeGreaterThan(0);
    expect(res.rtt_p90_ms).toBeGreaterThanOrEqual(res.rtt_p50_ms);
    expect(res.bulk_bytes).toBe(200_000);
    expect(res.throughput_MBps).toBeGreaterThan(0);
    // every probe was answered by p1's link, nothing left queued on either side
    expect(g.meshes[1].link('p0')!.stats.messagesIn).toBe(12);
    expect(g.meshes[0].link('p1')!.unclaimedBytes).toBe(0);
  });

  it('benchLink fails with a timeout when the link is gone', async () => {
    const g = loopbackGroup(2);
    g.channel('p0', 'p1').close();
    await expect(benchLink(g.meshes[0], 'p1', { pings: 1, timeoutMs: 200 })).rejects.toThrow();
  });
});
