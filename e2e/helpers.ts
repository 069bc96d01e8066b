// Shared e2e helpers: a coordinator page and peer pages in separate browser contexts (separate
// processes' worth of state), joined through the real join link, over real WebRTC.
import { chromium, expect, test as base, type Browser, type BrowserContext, type Page } from '@playwright/test';

export interface Swarm {
  coordinator: Page;
  peers: Page[];
  contexts: BrowserContext[];
  link: string;
  close(): Promise<void>;
}

export async function openSwarm(browser: Browser, nPeers: number): Promise<Swarm> {
  const contexts: BrowserContext[] = [];
  const ctx0 = await browser.newContext();
  contexts.push(ctx0);
  const coordinator = await ctx0.newPage();
  coordinator.on('pageerror', (e) => console.log('[coordinator error]', e.message));
  await coordinator.goto('/');
  const link = (await coordinator.getByTestId('join-link').textContent())!.trim();
  expect(link).toMatch(/#join=[0-9a-f]{32}$/);
  const peers: Page[] = [];
  for (let i = 0; i < nPeers; i++) peers.push(await openPeer(browser, link, contexts));
  try {
    await expect(coordinator.getByTestId('peer-count')).toHaveText(String(nPeers), { timeout: 90_000 });
  } catch (e) {
    // say where each peer got stuck (signaling, the control connection's tries, the GPU probe)
    for (const [i, p] of peers.entries()) console.log(`peer ${i} state: ${await p.getByTestId('peer-state').textContent().catch(() => '?')}`);
    throw e;
  }
  return { coordinator, peers, contexts, link, close: async () => { for (const c of contexts) await c.close(); } };
}

export async function openPeer(browser: Browser, link: string, contexts: BrowserContext[]): Promise<Page> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('[peer error]', e.message));
  // a module that fails to load (e.g. a 504 from the dev server) leaves no pageerror, only this
  page.on('console', (m) => { if (m.type() === 'error') console.log('[peer console error]', m.text()); });
  await page.goto(link);
  return page;
}

/** Playwright's `test` with one automatic fixture: after a failed test it prints printPeerDiagnostics.
 *  The specs that open peer pages take `test` from here. */
export const test = base.extend<{ peerDiagnostics: void }>({
  peerDiagnostics: [async ({ browser }, use, info) => {
    await use();
    if (info.status !== info.expectedStatus) await printPeerDiagnostics(browser);
  }, { auto: true }],
});

/** After a failed test: what every peer page of `browser` still open was doing (its state and job lines, each
 *  link's counters and handshake trail), so a stalled collective in CI says which side stopped and why. */
async function printPeerDiagnostics(browser: Browser): Promise<void> {
  for (const ctx of browser.contexts()) {
    for (const p of ctx.pages()) {
      const diag = await p.evaluate(() => window.tabmeshPeer?.diagnostics() ?? null).catch(() => null);
      if (!diag) continue; // not a peer page (the coordinator), or gone
      const text = async (id: string) => ((await p.getByTestId(id).textContent({ timeout: 2000 }).catch(() => '?')) ?? '').trim();
      console.log(`[peer diagnostics] state "${await text('peer-state')}", job "${await text('peer-job')}"; ${JSON.stringify(diag)}`);
    }
  }
}

/** The peer id a peer page shows. */
export async function peerIdOf(page: Page): Promise<string> {
  await expect(page.getByTestId('peer-id')).not.toBeEmpty({ timeout: 90_000 });
  return ((await page.getByTestId('peer-id').textContent()) ?? '').trim();
}

/**
 * A peer page in a second Chromium launched WITHOUT WebGPU (no --enable-unsafe-webgpu, and the
 * page's navigator.gpu hidden too): it joins as a CPU peer (adapter vendor 'none', LLM on ORT wasm).
 */
export async function openNoWebGpuPeer(link: string): Promise<{ page: Page; close(): Promise<void> }> {
  const noGpu = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const ctx = await noGpu.newContext();
  await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('[no-webgpu peer error]', e.message));
  await page.goto(link);
  return { page, close: () => noGpu.close() };
}
