// Collectives over real WebRTC between peer pages in separate browser contexts: allReduce,
// allGather and broadcast, 4 KiB to 64 MiB, 2/3/4 peers, next to the raw data channel's round trip
// and throughput measured in the same run (issue: small allReduce within 1.5x of a raw round trip,
// large ones at 80%+ of the raw channel's throughput).
import { test } from '@playwright/test';
import { openSwarm } from '../e2e/helpers';
import { writeReport } from './report';

test('collectives vs raw data channel', async ({ browser }) => {
  const rows: Record<string, unknown>[] = [];
  for (const n of [2, 3, 4]) {
    const swarm = await openSwarm(browser, n);
    console.log(`n=${n}: swarm ready`);
    const small = await swarm.coordinator.evaluate(() => window.tabmesh.benchComm({ sizes: [4096, 65536, 1 << 20], reps: 7 }));
    console.log(`n=${n}: small sizes done`);
    const large = await swarm.coordinator.evaluate(() => window.tabmesh.benchComm({ sizes: [16 << 20, 64 << 20], reps: 1 }));
    const link = small.link as { rtt_p50_ms: number; throughput_MBps: number };
    for (const r of [...small.rows, ...large.rows] as { op: string; bytes: number; n: number; p50_ms: number; throughput_MBps: number }[]) {
      rows.push({ ...r, raw_rtt_ms: link.rtt_p50_ms, raw_MBps: link.throughput_MBps, vs_rtt: r.p50_ms / link.rtt_p50_ms, vs_raw_bw: r.throughput_MBps / link.throughput_MBps });
    }
    await swarm.close();
  }
  writeReport('comm', { browser: browser.version(), note: 'headless Chromium, all peers on one machine' }, rows);
});
