// Shared e2e helpers: a coordinator page and peer pages in separate browser contexts (separate
// processes' worth of state), joined through the real join link, over real WebRTC.
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

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
  await expect(coordinator.getByTestId('peer-count')).toHaveText(String(nPeers), { timeout: 90_000 });
  return { coordinator, peers, contexts, link, close: async () => { for (const c of contexts) await c.close(); } };
}

export async function openPeer(browser: Browser, link: string, contexts: BrowserContext[]): Promise<Page> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('[peer error]', e.message));
  await page.goto(link);
  return page;
}
