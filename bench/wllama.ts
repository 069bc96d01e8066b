// The llama.cpp-in-WebAssembly baseline (npm @wllama/wllama, CPU) as rows any browser benchmark can
// put next to its own: open bench/pages/wllama.html on the app's server (same headless Chromium,
// same COOP/COEP headers), run one greedy completion per thread count on a server model, and return
// prefill/decode tokens/s from llama.cpp's own timers. Used by llm-wllama.bench.ts; the ORT
// comparison can call wllamaRows() the same way.
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from '@playwright/test';
import type { WllamaRunOptions, WllamaRunResult } from './pages/wllama-page';
import { WARMUP_RUNS, type LlmRow } from './tabmesh-llm';

// Vite serves files outside its root (web/) under /@fs/<absolute path>; server.fs.allow covers the repo.
const PAGE = `/@fs${fileURLToPath(new URL('./pages/wllama.html', import.meta.url))}`;

/** A page (in its own context) with window.wllamaBench ready; close its context when done. */
export async function openWllamaPage(browser: Browser): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('[wllama page error]', e.message));
  await page.goto(PAGE);
  // Vite may optimize @wllama/wllama on first sight and reload the page once: wait for the final load
  await page.waitForFunction(() => typeof window.wllamaBench?.run === 'function', undefined, { timeout: 120_000 });
  return page;
}

/** One wllama configuration on an open wllama page. */
export async function benchWllama(page: Page, o: WllamaRunOptions & { model: string }): Promise<LlmRow & { wllama: Omit<WllamaRunResult, 'text'> }> {
  const r = await page.evaluate((opts) => window.wllamaBench.run(opts), o);
  const t = r.timings;
  const { text, ...rest } = r;
  return {
    model: o.model, engine: `wllama ${await page.evaluate(() => window.wllamaBench.version)} (llama.cpp wasm)`, tp_or_threads: r.threads,
    prompt_tokens: t.prompt_n, completion_tokens: t.predicted_n,
    prefill_tok_s: t.prompt_n / (t.prompt_ms / 1000),
    // llama-server's predicted_ms runs from the first sampled token to the last: predicted_n - 1
    // forwards, the same count tabmesh's decode_ms covers
    decode_tok_s: (t.predicted_n - 1) / (t.predicted_ms / 1000),
    ms_per_token: t.predicted_ms / (t.predicted_n - 1),
    text, wllama: rest,
  };
}

/** Resolves a server model name to its URL (from /api/models on the page's server). */
export async function modelUrl(page: Page, name: string): Promise<string> {
  const list = await page.evaluate(async () => (await fetch('/api/models')).json() as Promise<{ name: string; url: string }[]>);
  const hit = list.find((m) => m.name === name);
  if (!hit) throw new Error(`model "${name}" is not on the bench server (has: ${list.map((m) => m.name).join(', ')})`);
  return hit.url;
}

/**
 * wllama rows for `model` (a server model name) at each of `threads` (default 1 and 2), each in a
 * fresh wllama instance. Threads > 1 need the page to be cross-origin isolated (the server sends
 * COOP/COEP); a row whose `wllama.multithread` is false ran single-threaded.
 */
export async function wllamaRows(browser: Browser, o: { model: string; prompt: string; maxTokens: number; threads?: number[]; nCtx?: number }): Promise<(LlmRow & { wllama: Omit<WllamaRunResult, 'text'> })[]> {
  const page = await openWllamaPage(browser);
  try {
    const url = await modelUrl(page, o.model);
    const rows = [];
    for (const threads of o.threads ?? [1, 2]) {
      const row = await benchWllama(page, { model: o.model, modelUrl: url, prompt: o.prompt, maxTokens: o.maxTokens, threads, nCtx: o.nCtx, warmRuns: WARMUP_RUNS });
      if (threads > 1 && !row.wllama.multithread) console.log(`[wllama] asked for ${threads} threads but ran single-threaded (crossOriginIsolated=${row.wllama.crossOriginIsolated})`);
      console.log(`[wllama] ${o.model} threads=${row.tp_or_threads}: prefill ${row.prefill_tok_s.toFixed(1)} tok/s, decode ${row.decode_tok_s.toFixed(1)} tok/s (warm-up ms/token: ${row.wllama.warmup_ms_per_token.map((x) => x.toFixed(2)).join(' ')})`);
      rows.push(row);
    }
    return rows;
  } finally {
    await page.context().close();
  }
}
