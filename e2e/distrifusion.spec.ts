// DistriFusion e2e over real WebRTC and WebGPU: ../shared/models/ddpm-mnist-cnn split into row
// patches over 2 peer pages. full_sync must equal the single-device run of the same request (the
// reference, run on rank 0) within 1e-3; corrected_async_gn must reach 20 dB PSNR against it; a peer
// that leaves mid-image makes the request fail with a clear error, never hang.
import { expect } from '@playwright/test';
import { openSwarm, test } from './helpers';

test('ddpm-mnist-cnn over 2 peers: full_sync exact, corrected_async_gn >= 20 dB, a leaving peer fails clearly', async ({ browser }) => {
  const swarm = await openSwarm(browser, 2);
  const c = swarm.coordinator;
  const full = await c.evaluate(() => window.tabmesh.generateImage({ seed: 3, steps: 10, sampler: 'ddim', mode: 'full_sync', peers: 2 }));
  expect(full.width * full.height).toBe(28 * 28);
  expect(full.rows).toEqual([[0, 14], [14, 28]]);
  let maxDiff = 0;
  for (let i = 0; i < full.pixels.length; i++) maxDiff = Math.max(maxDiff, Math.abs(full.pixels[i] - full.single![i]));
  expect(maxDiff).toBeLessThanOrEqual(1e-3);
  const asyncRun = await c.evaluate(() => window.tabmesh.generateImage({ seed: 3, steps: 10, sampler: 'ddim', mode: 'corrected_async_gn', warmup_steps: 2, peers: 2 }));
  expect(asyncRun.psnr_vs_single!).toBeGreaterThanOrEqual(20);
  await expect(c.getByTestId('image-psnr')).toContainText('PSNR vs single device');
  // The live view saw every step of both peers (the per-step events drive the timeline).
  await expect(c.getByTestId('image-progress')).toHaveText(/^step 10\/10/);
  expect(await c.evaluate(() => (document.querySelector('[data-testid=image-timeline]') as HTMLCanvasElement).width)).toBeGreaterThan(0);
  // A peer leaves mid-image: the request rejects with an error naming it (the job fails on departure).
  const pending = c.evaluate(() => window.tabmesh.generateImage({ seed: 4, steps: 400, sampler: 'ddpm', mode: 'corrected_async_gn', peers: 2, compare: false }).then(() => 'completed', (e: Error) => e.message));
  await c.waitForTimeout(3000);
  await swarm.peers[1].close();
  const outcome = await pending;
  expect(outcome).toMatch(/peer tm-[0-9a-f]+-p[0-9a-f]+ left during the job/);
  await swarm.close();
});
