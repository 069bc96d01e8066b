// One measured tabmesh generation with a chosen engine per peer (issue 6): like benchTabmesh
// (bench/tabmesh-llm.ts) but the request names `engine` / `engines` / `shard_weights`, and the row's
// engine label comes from what the peers actually loaded (per_peer), since 'auto' picks ORT wasm on
// a software adapter such as SwiftShader. A failing engine (e.g. ort-webgpu where ORT's WebGPU
// backend cannot run) gives a row with `error` set instead of throwing, so one engine cannot sink
// the rest of the benchmark.
import type { Page } from '@playwright/test';
import { warmUntilSteady, type LlmRow } from './tabmesh-llm';

type EngineChoice = 'auto' | 'wgsl' | 'ort-wasm' | 'ort-webgpu';

export interface EngineRunOptions {
  model: string; // a server model name
  prompt: string;
  tp: number;
  maxTokens: number;
  engine?: EngineChoice; // every peer's engine (default 'auto')
  engines?: EngineChoice[]; // per rank, overriding `engine`
  shardWeights?: 'even' | 'speed';
  warmPrompt?: string;
  timeoutMs?: number; // per generate call (default 240 s): a hung engine gives an error row
}

export interface EngineRow extends LlmRow {
  requested: string; // the engine(s) asked for, e.g. "ort-wasm" or "wgsl+ort-wasm speed"
  shares: string; // each rank's heads / hidden share (per_peer), shows what 'speed' did
  allreduce_share: number;
  error: string;
  warmup_ms_per_token: string; // decode ms/token of each untimed warm-up run (warmUntilSteady)
}

/** What ORT's wasm backend uses when numThreads is left unset (ort-web: min(4, ceil(cores / 2))). */
export async function ortDefaultThreads(page: Page): Promise<number> {
  return page.evaluate(() => Math.min(4, Math.ceil((navigator.hardwareConcurrency || 1) / 2)));
}

export async function benchTabmeshEngine(coordinator: Page, o: EngineRunOptions): Promise<EngineRow> {
  const requested = (o.engines ?? [o.engine ?? 'auto']).join('+') + (o.shardWeights && o.shardWeights !== 'even' ? ` ${o.shardWeights}` : '');
  const req = {
    model: o.model, prompt: o.prompt, tensor_parallel_size: o.tp,
    ...(o.engines ? { engines: o.engines } : { engine: o.engine ?? 'auto' }),
    shard_weights: o.shardWeights ?? 'even',
    sampling: { temperature: 0, max_tokens: o.maxTokens, ignore_eos: true },
  };
  const warm = { ...req, prompt: o.warmPrompt ?? o.prompt }; // as long as the measured run (WARMUP_RUNS)
  const failed = (e: unknown): EngineRow => ({
    model: o.model, engine: `tabmesh (${requested})`, tp_or_threads: o.tp, requested, prompt_tokens: 0, completion_tokens: 0,
    prefill_tok_s: NaN, decode_tok_s: NaN, ms_per_token: NaN, allreduce_share: NaN, shares: '', text: '', warmup_ms_per_token: '',
    error: (e as Error).message.split('\n')[0].slice(0, 300),
  });
  const limit = o.timeoutMs ?? 240_000;
  // The lost race's evaluate stays pending until its page closes: swallow that late rejection.
  const gen = async (r: typeof req) => {
    const p = coordinator.evaluate((x) => window.tabmesh.generate(x), r);
    p.catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no result after ${limit / 1000} s (hung or too slow here)`)), limit); });
    try {
      return await Promise.race([p, t]);
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    const warmMs = await warmUntilSteady(async () => { // load + compile (a new engine reloads) + JIT tier-up
      const w = await gen(warm);
      return w.timings.decode_ms / Math.max(1, w.usage.completion_tokens - 1);
    });
    const res = await gen(req);
    const t = res.timings;
    const decodeTokens = res.usage.completion_tokens - 1; // the first token comes from the prefill's logits
    const loaded = res.per_peer?.map((p) => p.engine) ?? [];
    console.log(`[tabmesh] ${o.model} ${requested} warm-up ms/token: ${warmMs.map((x) => x.toFixed(2)).join(' ')}`);
    return {
      model: o.model, engine: `tabmesh (${loaded.join('+') || requested})`, tp_or_threads: o.tp, requested,
      prompt_tokens: res.usage.prompt_tokens, completion_tokens: res.usage.completion_tokens,
      prefill_tok_s: res.usage.prompt_tokens / (t.prefill_ms / 1000),
      decode_tok_s: decodeTokens / (t.decode_ms / 1000),
      ms_per_token: t.decode_ms / decodeTokens,
      allreduce_share: t.allreduce_ms / (t.compute_ms + t.allreduce_ms),
      shares: res.per_peer?.map((p) => p.share).join(' / ') ?? '',
      warmup_ms_per_token: warmMs.map((x) => x.toFixed(2)).join(' '),
      text: res.outputs[0]?.text ?? '',
      error: '',
    };
  } catch (e) {
    return failed(e);
  }
}
