// Issue 6 e2e: peers computing with ONNX Runtime Web beside WGSL peers, over real WebRTC.
// (a) stories260K at tp=2 with rank 0 on WGSL (SwiftShader) and rank 1 on ORT wasm gives the golden
//     greedy ids, like tp=1 on WGSL; the panel's per-peer table shows each engine and share.
// (b) a peer page in a browser launched WITHOUT WebGPU (no --enable-unsafe-webgpu, and navigator.gpu
//     hidden from the page) joins anyway, reports engine ort-wasm, and greedy generation on it gives
//     the same ids at tp=1 and at tp=2 together with a WGSL peer (also with speed-proportional shards).
import { expect, chromium } from '@playwright/test';
import { openSwarm, test } from './helpers';

const GOLDEN = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408,
  419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426,
  338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310];

const greedy = { temperature: 0, max_tokens: 64 };

test('mixed group: tp=2 with rank 0 on WGSL and rank 1 on ORT wasm equals tp=1 WGSL', async ({ browser }) => {
  test.setTimeout(300_000);
  const swarm = await openSwarm(browser, 2);
  const c = swarm.coordinator;
  const ids = await Promise.all(swarm.peers.map(async (p) => ((await p.getByTestId('peer-id').textContent()) ?? '').trim()));
  // SwiftShader is a software adapter: 'auto' picks ORT wasm there.
  const peers = await c.evaluate(() => window.tabmesh.peers());
  expect(peers.map((p) => p.engine)).toEqual(['ort-wasm', 'ort-wasm']);
  const one = await c.evaluate((req) => window.tabmesh.generate(req), { model: 'stories260K', prompt: '', tensor_parallel_size: 1, peers: [ids[0]], engine: 'wgsl' as const, sampling: greedy });
  expect(one.outputs[0].token_ids).toEqual(GOLDEN);
  expect(one.per_peer?.[0].engine).toBe('wgsl');
  const mixed = await c.evaluate((req) => window.tabmesh.generate(req), { model: 'stories260K', prompt: '', tensor_parallel_size: 2, peers: ids, engines: ['wgsl', 'ort-wasm'] as ('wgsl' | 'ort-wasm')[], sampling: greedy });
  expect(mixed.outputs[0].token_ids).toEqual(GOLDEN);
  expect(mixed.outputs[0].text).toBe(one.outputs[0].text);
  expect(mixed.per_peer?.map((r) => r.engine)).toEqual(['wgsl', 'ort-wasm']);
  // The panel: engine and share per peer (stories260K: 8 heads, hidden 768).
  await expect(c.getByTestId('llm-stats').getByTestId('peer-engine')).toHaveText(['wgsl', 'ort-wasm']);
  await expect(c.getByTestId('llm-stats').getByTestId('peer-share').first()).toContainText('heads 0–3 of 8');
  // The UI's engine selector: every peer on ORT wasm, same text as the API's tp=1 run.
  await c.getByTestId('prompt').fill('');
  await c.getByTestId('tp-size').fill('2');
  await c.getByTestId('max-tokens').fill('64');
  await c.getByTestId('temperature').fill('0');
  await c.getByTestId('engine').selectOption('ort-wasm');
  await c.getByTestId('generate').click();
  await expect(c.getByTestId('generate')).toBeEnabled({ timeout: 120_000 });
  await expect(c.getByTestId('output')).toHaveText(one.outputs[0].text);
  await expect(c.getByTestId('llm-stats').getByTestId('peer-engine')).toHaveText(['ort-wasm', 'ort-wasm']);
  await swarm.close();
});

test('a peer without WebGPU joins as an ORT wasm peer and generates alone and with a WGSL peer', async ({ browser }) => {
  test.setTimeout(300_000);
  const swarm = await openSwarm(browser, 1);
  const c = swarm.coordinator;
  const gpuId = ((await swarm.peers[0].getByTestId('peer-id').textContent()) ?? '').trim();
  // WebGPU is a per-launch flag: a second Chromium without it (and the page's navigator.gpu hidden too).
  const noGpu = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const ctx = await noGpu.newContext();
    await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.log('[no-webgpu peer error]', e.message));
    await page.goto(swarm.link);
    await expect(page.getByTestId('no-webgpu')).toContainText('no WebGPU: this peer computes with ONNX Runtime (wasm)');
    await expect(c.getByTestId('peer-count')).toHaveText('2', { timeout: 90_000 });
    await expect(page.getByTestId('peer-engine')).toHaveText('ort-wasm');
    const cpuId = ((await page.getByTestId('peer-id').textContent()) ?? '').trim();
    const peers = await c.evaluate(() => window.tabmesh.peers());
    const cpu = peers.find((p) => p.id === cpuId)!;
    expect(cpu.engine).toBe('ort-wasm');
    expect((cpu.adapter as { vendor: string }).vendor).toBe('none');
    expect(cpu.gflops).toBeGreaterThan(0);
    await expect(c.getByTestId('roster').locator(`tr[data-peer="${cpuId}"]`).getByTestId('peer-engine')).toHaveText('ort-wasm');
    const alone = await c.evaluate((req) => window.tabmesh.generate(req), { model: 'stories260K', prompt: '', tensor_parallel_size: 1, peers: [cpuId], sampling: greedy });
    expect(alone.outputs[0].token_ids).toEqual(GOLDEN);
    expect(alone.per_peer?.[0].engine).toBe('ort-wasm');
    const pair = await c.evaluate((req) => window.tabmesh.generate(req), { model: 'stories260K', prompt: '', tensor_parallel_size: 2, peers: [gpuId, cpuId], engines: ['wgsl', 'auto'] as ('wgsl' | 'auto')[], sampling: greedy });
    expect(pair.outputs[0].token_ids).toEqual(GOLDEN);
    expect(pair.per_peer?.map((r) => r.engine)).toEqual(['wgsl', 'ort-wasm']);
    // Proportional shards by measured speed: still the same text.
    const weighted = await c.evaluate((req) => window.tabmesh.generate(req), { model: 'stories260K', prompt: '', tensor_parallel_size: 2, peers: [gpuId, cpuId], engines: ['wgsl', 'auto'] as ('wgsl' | 'auto')[], shard_weights: 'speed' as const, sampling: { temperature: 0, max_tokens: 32 } });
    expect(weighted.outputs[0].token_ids).toEqual(GOLDEN.slice(0, 32));
    await ctx.close();
  } finally {
    await noGpu.close();
    await swarm.close();
  }
});
