// Serving throughput and latency (issue 4 §7) in headless Chromium: a coordinator and 3 peer pages,
// tp=1 replicas of stories260K, load driven through window.tabmesh.serve / submit on the coordinator
// page (the same scheduler the OpenAI /v1 relay calls, without the HTTP hop).
// (a) completion tokens/s for 1, 2 and 3 replicas under one fixed load (all requests at once);
// (b) completion tokens/s on ONE replica against max_batch_size (1..16; 16 requests at once, so the
//     batch can fill);
// (c) p50 / p99 request latency and time to first token under a bounded load: a closed loop keeping
//     2 requests in flight per replica.
// Every setting calls serve() again (it stops the old scheduler and reloads the replicas), then warms
// each replica with one short request before the timed load. Seeds are fixed; ignore_eos makes every
// request produce exactly max_tokens. Env: BENCH_SERVE_TOKENS (64), BENCH_SERVE_N (12),
// BENCH_SERVE_BATCH_TOKENS (32), BENCH_SERVE_LAT_N (24), BENCH_SERVE_LAT_TOKENS (32).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type Page } from '@playwright/test';
import { openSwarm } from '../e2e/helpers';
import { writeReport } from './report';

const MODEL = 'stories260K';
const PROMPTS = ['Lily wanted to', 'Once upon a time', 'The little dog', 'Tom and Sue'];
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const TOKENS = env('BENCH_SERVE_TOKENS', 64);
const N = env('BENCH_SERVE_N', 12);
const BATCH_TOKENS = env('BENCH_SERVE_BATCH_TOKENS', 32);
const LAT_N = env('BENCH_SERVE_LAT_N', 24);
const LAT_TOKENS = env('BENCH_SERVE_LAT_TOKENS', 32);

interface LoadResult {
  wall_ms: number;
  tokens: number;
  latency_ms: number[]; // submit -> done, per request
  ttft_ms: number[]; // submit -> first streamed token
  per_replica: Record<string, number>; // requests each replica finished
  max_batch_seen: number; // largest replica batch sampled during the load (every 20 ms)
  errors: string[];
}

/** (Re)starts serving with `replicas` tp=1 replicas, then warms each with one short request. */
async function serve(c: Page, o: { replicas: number; maxBatch: number; maxOngoing: number }): Promise<void> {
  await c.evaluate(async ({ model, o }) => {
    await window.tabmesh.serve({ model, tensor_parallel_size: 1, min_replicas: o.replicas, max_replicas: o.replicas, max_batch_size: o.maxBatch, max_ongoing_requests: o.maxOngoing, batch_wait_timeout_ms: 20, queue_timeout_ms: 180_000 });
    // one request per replica (least-loaded assignment spreads them): loads ORT sessions / pipelines
    await Promise.all(Array.from({ length: o.replicas }, (_, i) => window.tabmesh.submit({ model, prompt: 'Once', sampling: { temperature: 0, max_tokens: 4, seed: i }, label: 'warm' })));
  }, { model: MODEL, o });
}

/** `n` requests, at most `concurrency` in flight (a closed loop: each finished request starts the next). */
async function load(c: Page, o: { n: number; maxTokens: number; concurrency: number }): Promise<LoadResult> {
  return c.evaluate(async ({ model, prompts, o }) => {
    const r: LoadResult = { wall_ms: 0, tokens: 0, latency_ms: [], ttft_ms: [], per_replica: {}, max_batch_seen: 0, errors: [] };
    const sampler = setInterval(() => { for (const rep of window.tabmesh.replicas()) r.max_batch_seen = Math.max(r.max_batch_seen, rep.batch.length); }, 20);
    let next = 0;
    const t0 = performance.now();
    const client = async () => {
      while (next < o.n) {
        const i = next++;
        const ts = performance.now();
        let first = -1;
        try {
          const res = await window.tabmesh.submit({ model, prompt: prompts[i % prompts.length], label: `bench ${i}`,
            sampling: { temperature: 0.8, seed: 1000 + i, max_tokens: o.maxTokens, ignore_eos: true },
            onToken: () => { if (first < 0) first = performance.now(); } });
          r.latency_ms.push(performance.now() - ts);
          r.ttft_ms.push(first - ts);
          r.tokens += res.usage.completion_tokens;
          r.per_replica[res.replica] = (r.per_replica[res.replica] ?? 0) + 1;
        } catch (e) {
          r.errors.push((e as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, client));
    r.wall_ms = performance.now() - t0;
    clearInterval(sampler);
    return r;
  }, { model: MODEL, prompts: PROMPTS, o });
}

/** Nearest-rank percentile (with few samples p99 is the slowest request). */
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN; };

function row(part: string, o: { replicas: number; maxBatch: number; maxOngoing: number; n: number; concurrency: number; maxTokens: number }, r: LoadResult): Record<string, unknown> {
  return {
    part, replicas: o.replicas, max_batch_size: o.maxBatch, max_ongoing: o.maxOngoing, effective_batch: Math.min(o.maxBatch, o.maxOngoing), requests: o.n, in_flight: o.concurrency, max_tokens: o.maxTokens,
    completion_tokens: r.tokens, wall_s: r.wall_ms / 1000, tok_s: r.tokens / (r.wall_ms / 1000),
    p50_ms: pct(r.latency_ms, 50), p99_ms: pct(r.latency_ms, 99), ttft_p50_ms: pct(r.ttft_ms, 50), ttft_p99_ms: pct(r.ttft_ms, 99),
    max_batch_seen: r.max_batch_seen, per_replica: Object.values(r.per_replica).join('/'), errors: r.errors.length ? `${r.errors.length}: ${r.errors[0].slice(0, 120)}` : '',
  };
}

test('serving: tokens/s vs replicas and batch size, latency percentiles', async ({ browser }) => {
  const swarm = await openSwarm(browser, 3);
  const c = swarm.coordinator;
  const rows: Record<string, unknown>[] = [];
  const measure = async (part: string, o: { replicas: number; maxBatch: number; maxOngoing: number; n: number; concurrency: number; maxTokens: number }) => {
    let r: LoadResult;
    try {
      await serve(c, o);
      r = await load(c, o);
    } catch (e) {
      // a setting that cannot serve at all is a result too: its row says why, the rest still run
      const msg = (e as Error).message.split('\n')[0];
      console.log(`[serve] ${part} replicas=${o.replicas} B=${o.maxBatch}: failed: ${msg}`);
      r = { wall_ms: NaN, tokens: 0, latency_ms: [], ttft_ms: [], per_replica: {}, max_batch_seen: 0, errors: [msg] };
    }
    const x = row(part, o, r);
    console.log(`[serve] ${part} replicas=${o.replicas} B=${o.maxBatch} in_flight=${o.concurrency}: ${(x.tok_s as number).toFixed(1)} tok/s, p50 ${(x.p50_ms as number).toFixed(0)} ms, p99 ${(x.p99_ms as number).toFixed(0)} ms, max batch ${r.max_batch_seen}${r.errors.length ? `, ${r.errors.length} errors: ${r.errors[0]}` : ''}`);
    rows.push(x);
    return x;
  };
  let engines: string[] = [];
  const loadavg = [os.loadavg()[0]];
  try {
    engines = (await c.evaluate(() => window.tabmesh.peers())).map((p) => p.engine);
    // untimed: every peer loads, compiles and runs a few batched steps before the first timed setting
    await serve(c, { replicas: 3, maxBatch: 4, maxOngoing: 4 });
    await load(c, { n: 6, maxTokens: 16, concurrency: 6 });
    // (a) replicas: the same N requests, all at once; each replica batches up to 4
    let base = NaN;
    for (const replicas of [1, 2, 3]) {
      const x = await measure('a: replicas', { replicas, maxBatch: 4, maxOngoing: 4, n: N, concurrency: N, maxTokens: TOKENS });
      if (replicas === 1) base = x.tok_s as number;
      x.speedup = (x.tok_s as number) / base;
      x.efficiency = (x.speedup as number) / replicas;
    }
    // (b) one replica, batch size: 16 requests at once so a batch of 16 can fill. The first row is
    // batch 1 through max_ongoing_requests = 1 (effective batch = min(max_batch_size, max_ongoing)):
    // the baseline, also where max_batch_size 1 itself cannot serve (its row then says why).
    const b1 = await measure('b: max_batch_size', { replicas: 1, maxBatch: 2, maxOngoing: 1, n: 16, concurrency: 16, maxTokens: BATCH_TOKENS });
    b1.speedup = 1;
    for (const maxBatch of [1, 2, 4, 8, 16]) {
      const x = await measure('b: max_batch_size', { replicas: 1, maxBatch, maxOngoing: 16, n: 16, concurrency: 16, maxTokens: BATCH_TOKENS });
      x.speedup = (x.tok_s as number) / (b1.tok_s as number);
    }
    // (c) latency: a closed loop with 2 requests in flight per replica
    for (const replicas of [1, 3]) {
      await measure('c: latency', { replicas, maxBatch: 2, maxOngoing: 2, n: LAT_N, concurrency: 2 * replicas, maxTokens: LAT_TOKENS });
    }
  } finally {
    loadavg.push(os.loadavg()[0]);
    await swarm.close();
  }
  const note = 'Measured on one 2-core machine: the coordinator, all 3 peer pages (every replica) and their workers share the same 2 CPU cores '
    + '(SwiftShader WebGPU; peers on engine "auto", i.e. ONNX Runtime wasm on a software adapter), so replica scaling cannot be linear here: '
    + 'the issue\'s 0.9x-per-replica goal is for replicas that do not share a processor. Load through window.tabmesh.submit (the scheduler the '
    + 'OpenAI /v1 relay uses, no HTTP hop). tok_s = completion tokens / wall time of the whole load (prefills included); latency = submit to done; '
    + 'ttft = submit to first streamed token; p99 over so few requests is the slowest one. speedup: against 1 replica (a) or, in (b), the effective-batch-1 row (max_batch_size 2, max_ongoing_requests 1); '
    + 'efficiency = speedup / replicas. max_batch_seen: largest replica batch sampled every 20 ms.';
  writeReport('serve', { browser: browser.version(), model: MODEL, peer_engines: engines, loadavg_1min_start_end: loadavg, note }, rows);
  // writeReport's markdown has no room for notes: put the caveat under its heading
  const md = path.resolve(process.cwd(), 'bench/out/serve.md');
  const lines = fs.readFileSync(md, 'utf8').split('\n');
  lines.splice(3, 0, "", note);
  fs.writeFileSync(md, lines.join('\n'));
});
