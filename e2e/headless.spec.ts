// Headless peer e2e: a coordinator page, one browser peer page and one headless Node peer
// (`node bin/tabmesh.mjs peer <join-link>`: Dawn on lavapipe, libdatachannel WebRTC) form one
// session. The Node peer must appear in the roster with its own adapter, sum with the browser peer
// over real WebRTC, reproduce the golden stories260K greedy ids at tp=2 with it, and leave the
// roster when its process is killed (no goodbye: the heartbeat timeout has to catch it).
import { expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import type { BrowserContext } from '@playwright/test';
import { openPeer, test } from './helpers';

// The golden greedy ids of ../shared/models/stories260K/PROVENANCE.md (as in e2e/llm.spec.ts).
const GOLDEN = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408,
  419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426,
  338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310];

test('a headless Node peer joins by link, all-reduces and runs tp=2 with a browser peer, and drops out when killed', async ({ browser }) => {
  const contexts: BrowserContext[] = [];
  const ctx0 = await browser.newContext();
  contexts.push(ctx0);
  const c = await ctx0.newPage();
  c.on('pageerror', (e) => console.log('[coordinator error]', e.message));
  await c.goto('/');
  const link = (await c.getByTestId('join-link').textContent())!.trim();
  await openPeer(browser, link, contexts);
  await expect(c.getByTestId('peer-count')).toHaveText('1', { timeout: 90_000 });

  const child = spawn(process.execPath, ['bin/tabmesh.mjs', 'peer', link, '--name', 'e2e'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await expect(c.getByTestId('peer-count')).toHaveText('2', { timeout: 90_000 });
    const headlessId = /peer id: (\S+)/.exec(out)?.[1];
    expect(headlessId, out).toBeTruthy();
    // The roster shows the Node peer with the adapter Dawn found (lavapipe here, a real GPU elsewhere).
    const roster = await c.evaluate(() => window.tabmesh.peers());
    const mine = roster.find((p) => p.id === headlessId);
    expect(mine, JSON.stringify(roster)).toBeTruthy();
    // npx tabmesh bundles the GPU worker beside the peer: GPU work runs in a worker thread, as in a tab.
    expect(out).toContain('GPU work: worker thread');
    const adapterLine = /adapter: (.*)/.exec(out)![1];
    expect(adapterLine).toContain((mine!.adapter as { description: string }).description);
    expect(mine!.gflops).toBeGreaterThan(0);

    // Sum over real WebRTC between Chromium and libdatachannel: direct round and ring sizes.
    for (const length of [1000, 300_001]) {
      const r = await c.evaluate((length) => window.tabmesh.allReduceTest({ length }), length);
      expect(r.results).toHaveLength(2);
      for (const res of r.results) expect(res.checksum).toBe(r.expected);
      expect(r.results[0].head[0]).toBe(3); // ranks contribute 1 and 2 at element 0
    }

    // Tensor parallel across the browser (SwiftShader) and the Node peer (Dawn): the golden ids.
    const g = await c.evaluate(() => window.tabmesh.generate({ model: 'stories260K', prompt: '', tensor_parallel_size: 2, sampling: { temperature: 0, max_tokens: 64 } }));
    expect(g.peers).toContain(headlessId);
    expect(g.outputs[0].token_ids).toEqual(GOLDEN);

    // A hard kill: no close message reaches the coordinator, so the heartbeat has to drop it.
    child.kill('SIGKILL');
    await exited;
    await expect(c.getByTestId('peer-count')).toHaveText('1', { timeout: 10_000 });
    const after = await c.evaluate(() => window.tabmesh.peers());
    expect(after.map((p) => p.id)).not.toContain(headlessId);
  } catch (e) {
    console.log('[headless peer output]\n' + out);
    throw e;
  } finally {
    child.kill('SIGKILL');
    for (const ctx of contexts) await ctx.close();
  }
});
