// tabmesh's WGSL engine next to llama.cpp compiled to WebAssembly (wllama) on the same GGUF, in the
// same run and the same headless Chromium: prefill and decode tokens/s for greedy generation, tabmesh
// at tp=1/2(/4) (SwiftShader WebGPU, peers over WebRTC) and wllama with 1 and 2 threads (CPU, wasm
// SIMD; 2 threads through pthreads, which the server's COOP/COEP headers allow).
// Models: stories260K, and a random-weight GGUF with TinyLlama-1.1B's layer shapes (bench/random-llama.ts;
// 2 of its 22 layers and a 512-piece vocabulary by default, BENCH_1B_FULL=1 for the whole 1B).
// Env: BENCH_STORIES_TOKENS (256), BENCH_1B_TOKENS (16, 8 with BENCH_1B_FULL), BENCH_1B_LAYERS,
// BENCH_1B_TYPE, BENCH_TP (stories "1,2,4"; the 1B "1,2"), BENCH_WLLAMA_THREADS ("1,2").
// Engines (issue 6): the tp rows run with engine 'auto' (labelled with what the peers loaded: ORT wasm
// on SwiftShader); stories260K also gets tp=1 rows per engine (BENCH_ENGINES, default
// "wgsl,ort-wasm,ort-webgpu"; a failing engine's row carries its error) and a mixed tp=2 group
// ['wgsl', 'ort-wasm'] with shard_weights 'even' and 'speed' (BENCH_MIXED=0 skips it).
import os from 'node:os';
import { test } from '@playwright/test';
import { openSwarm } from '../e2e/helpers';
import { writeReport } from './report';
import { benchShape, ensureRandomLlama } from './random-llama';
import type { LlmRow } from './tabmesh-llm';
import { benchTabmeshEngine, ortDefaultThreads, type EngineRow } from './tabmesh-engines';
import { wllamaRows } from './wllama';

const PROMPT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
type Engine = 'wgsl' | 'ort-wasm' | 'ort-webgpu';
const ENGINES = (process.env.BENCH_ENGINES ?? 'wgsl,ort-wasm,ort-webgpu').split(',').filter(Boolean) as Engine[];
const MIXED = process.env.BENCH_MIXED !== '0';

// Characters the two greedy outputs share from the start: a cheap check that both engines run the
// same model (f32 stories260K should agree for a long stretch; random weights diverge early).
const commonPrefix = (a: string, b: string) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i; };

test('tabmesh vs wllama (llama.cpp wasm) tokens/s', async ({ browser }) => {
  const shape = benchShape();
  const big = await ensureRandomLlama(shape); // before the swarm opens: the page reads the model list once
  const full = process.env.BENCH_1B_FULL === '1';
  const cases = [
    { model: 'stories260K', maxTokens: Number(process.env.BENCH_STORIES_TOKENS ?? 256), tps: list(process.env.BENCH_TP, [1, 2, 4]), warmPrompt: undefined as string | undefined },
    // the prompt's prefill in SwiftShader takes seconds per token at these shapes: warm up on 4 words
    { model: big.name, maxTokens: Number(process.env.BENCH_1B_TOKENS ?? (full ? 8 : 16)), tps: list(process.env.BENCH_TP, [1, 2]), warmPrompt: 'Once upon a time' },
  ];
  const rows: Record<string, unknown>[] = [];
  let ortThreads = 0;
  for (const c of cases.filter((k) => k.maxTokens > 0)) { // BENCH_..._TOKENS=0 skips a model
    const ours: EngineRow[] = [];
    const engineRows = c.model === 'stories260K';
    const swarm = await openSwarm(browser, Math.max(...c.tps, engineRows && MIXED ? 2 : 1));
    try {
      ortThreads = await ortDefaultThreads(swarm.peers[0]);
      const run = async (o: { tp: number; engine?: Engine; engines?: Engine[]; shardWeights?: 'even' | 'speed'; timeoutMs?: number }) => {
        const row = await benchTabmeshEngine(swarm.coordinator, { model: c.model, prompt: PROMPT, maxTokens: c.maxTokens, warmPrompt: c.warmPrompt, ...o });
        console.log(`[tabmesh] ${c.model} tp=${o.tp} ${row.engine}: ${row.error ? `error: ${row.error}` : `prefill ${row.prefill_tok_s.toFixed(1)} tok/s, decode ${row.decode_tok_s.toFixed(1)} tok/s`}`);
        ours.push(row);
      };
      for (const tp of c.tps) await run({ tp });
      if (engineRows) {
        // ort-webgpu last: if ORT's WebGPU backend breaks a peer in SwiftShader, the other rows are in
        for (const engine of ENGINES.filter((e) => e !== 'ort-webgpu')) await run({ tp: 1, engine });
        if (MIXED) for (const shardWeights of ['even', 'speed'] as const) await run({ tp: 2, engines: ['wgsl', 'ort-wasm'], shardWeights });
        // a previous run hung here (SwiftShader + ORT's WebGPU backend): a bounded wait, then an error row
        if (ENGINES.includes('ort-webgpu')) await run({ tp: 1, engine: 'ort-webgpu', timeoutMs: 120_000 });
      }
    } finally {
      await swarm.close(); // idle pages must not hold memory or CPU while wllama runs
    }
    const theirs = await wllamaRows(browser, { model: c.model, prompt: PROMPT, maxTokens: c.maxTokens, threads: list(process.env.BENCH_WLLAMA_THREADS, [1, 2]) });
    const ref = theirs[0]; // wllama 1 thread: the baseline every ratio is against
    for (const r of [...ours, ...theirs] as (LlmRow & Partial<EngineRow>)[]) {
      rows.push({
        model: r.model, engine: r.engine, requested: r.requested ?? '', tp_or_threads: r.tp_or_threads,
        prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens,
        prefill_tok_s: r.prefill_tok_s, decode_tok_s: r.decode_tok_s, ms_per_token: r.ms_per_token,
        prefill_vs_wllama_1t: r.prefill_tok_s / ref.prefill_tok_s, decode_vs_wllama_1t: r.decode_tok_s / ref.decode_tok_s,
        same_text_chars: commonPrefix(r.text, ref.text),
        shares: r.shares ?? '', error: r.error ?? '',
      });
    }
  }
  writeReport('llm-wllama', {
    browser: browser.version(),
    adapter: 'tabmesh: SwiftShader WebGPU (headless Chromium, CPU); wllama: llama.cpp wasm SIMD, n_gpu_layers=0',
    random_model: { ...shape, file_bytes: big.bytes, name: big.name },
    loadavg_1min_at_end: os.loadavg()[0], // the machine is shared: how loaded it was
    ort_wasm_threads: `${ortThreads} (onnxruntime-web's default, min(4, ceil(cores / 2)): numThreads is not set)`,
    goal_issue6: 'one ORT-wasm peer (tp=1, engine ort-wasm) at or above wllama 1-thread decode tokens/s on the same model: decode_vs_wllama_1t >= 1 on that row',
    note: 'one 2-core machine shared by all pages and threads: ratios within this run count, absolute numbers are noisy. tp>1 adds WebRTC all-reduces but no extra compute. Timings: tabmesh its own prefill/decode timers; wllama llama.cpp\'s (llama-server timings), decode = (predicted_n-1)/predicted_ms. same_text_chars: characters of greedy output shared with wllama 1-thread from the start (its own row shows its text length, the maximum).',
  }, rows);
});
