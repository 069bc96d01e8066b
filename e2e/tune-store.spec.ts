// The browser peer's kernel-tuning store (src/engines/tune-store.ts) in real Chromium: IndexedDB exists
// in pages and in the GPU worker (which has no localStorage); a tuning written before a reload is
// there after it, and a dedicated worker reads what the page wrote (same origin, same database).
import { test, expect } from '@playwright/test';
import path from 'node:path';

const mod = `/@fs${path.resolve(process.cwd(), 'src/engines/tune-store.ts')}`;

test('tuning cache persists in IndexedDB across a reload and is visible to a worker', async ({ page }) => {
  await page.goto('/');
  const key = `tabmesh.tune.v1|e2e|${Date.now()}`;
  const first = await page.evaluate(async ([m, k]) => {
    const { openIdbTuneCache } = await import(/* @vite-ignore */ m);
    const { cache, persistent } = await openIdbTuneCache();
    const before = cache.get(k) ?? null;
    cache.set(k, '{"tiled":true}');
    await new Promise((r) => setTimeout(r, 200)); // the write-through transaction commits
    return { persistent, before };
  }, [mod, key] as const);
  expect(first).toEqual({ persistent: true, before: null });

  await page.reload();
  const after = await page.evaluate(async ([m, k]) => {
    const { openIdbTuneCache } = await import(/* @vite-ignore */ m);
    return (await openIdbTuneCache()).cache.get(k) ?? null;
  }, [mod, key] as const);
  expect(after).toBe('{"tiled":true}');

  // A module worker (as the GPU worker is) opens the same store.
  const inWorker = await page.evaluate(async ([m, k]) => {
    const src = `import { openIdbTuneCache } from '${location.origin}${m}'; const { cache, persistent } = await openIdbTuneCache(); postMessage({ v: cache.get('${k}') ?? null, persistent, hasLs: typeof localStorage !== 'undefined' });`;
    const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), { type: 'module' });
    return await new Promise((resolve, reject) => { w.onmessage = (e) => resolve(e.data); w.onerror = (e) => reject(new Error(e.message)); });
  }, [mod, key] as const);
  expect(inWorker).toEqual({ v: '{"tiled":true}', persistent: true, hasLs: false });
});
