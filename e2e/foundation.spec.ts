// Foundation e2e: join by link, live roster with adapters, an allReduce over real WebRTC between
// 3 peer pages in separate browser contexts, a peer leaving, and the clear error messages.
import { expect } from '@playwright/test';
import { openSwarm, test } from './helpers';

test('3 peers join by link, allReduce over WebRTC, a leaving peer drops out and fails the collective', async ({ browser }) => {
  const swarm = await openSwarm(browser, 3);
  const { coordinator, peers } = swarm;
  // Every peer lists its adapter (SwiftShader here) in the roster and in the API.
  await expect(coordinator.getByTestId('peer-adapter')).toHaveCount(3);
  const roster = await coordinator.evaluate(() => window.tabmesh.peers());
  expect(roster).toHaveLength(3);
  for (const p of roster) {
    expect(p.gflops).toBeGreaterThan(0);
    expect((p.limits as { maxStorageBufferBindingSize: number }).maxStorageBufferBindingSize).toBeGreaterThan(0);
  }
  // Sum over real WebRTC: small (direct round) and large (ring) sizes, length not divisible by 3.
  for (const length of [1000, 300_001]) {
    const r = await coordinator.evaluate((length) => window.tabmesh.allReduceTest({ length }), length);
    expect(r.results).toHaveLength(3);
    for (const res of r.results) {
      expect(res.length).toBe(length);
      expect(res.checksum).toBe(r.expected);
    }
    // rank r contributes (r+1)*((i%7)+1): element 0 sums to 1+2+3 = 6
    expect(r.results[0].head[0]).toBe(6);
  }
  // A collective in flight when a peer leaves fails with an error naming it.
  const leaving = roster.map((p) => p.id).sort()[2];
  const pending = coordinator.evaluate((leaving) => window.tabmesh.allReduceTest({ length: 4096, delayPeer: leaving, delayMs: 60_000, timeoutMs: 30_000 }).then(() => 'resolved', (e: Error) => e.message), leaving);
  await coordinator.waitForTimeout(1000);
  // Close the page whose peer id is `leaving`.
  for (const p of peers) {
    const id = await p.evaluate(() => (document.querySelector('[data-testid="peer-id"]')?.textContent ?? '').trim());
    if (id === leaving) await p.close();
  }
  const err = await pending;
  expect(err).toContain(leaving.slice(-12));
  await expect(coordinator.getByTestId('peer-count')).toHaveText('2', { timeout: 5_000 });
  // The remaining two still work together.
  const r2 = await coordinator.evaluate(() => window.tabmesh.allReduceTest({ length: 777 }));
  expect(r2.results.every((x) => x.checksum === r2.expected)).toBe(true);
  await swarm.close();
});

test('unknown session link and malformed link give clear messages', async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto('/#join=' + '0'.repeat(32));
  await expect(page.getByTestId('unknown-session')).toContainText('Unknown or ended session', { timeout: 30_000 });
  await page.goto('about:blank');
  await page.goto('/#join=not-a-session');
  await expect(page.getByTestId('unknown-session')).toContainText('malformed');
  await ctx.close();
});

test('a browser without WebGPU is told what is missing', async ({ browser }) => {
  const ctx = await browser.newContext();
  await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  const page = await ctx.newPage();
  await page.goto('/#join=' + 'a'.repeat(32));
  await expect(page.getByTestId('no-webgpu')).toContainText('no WebGPU');
  await ctx.close();
});
