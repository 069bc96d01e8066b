// One measured tabmesh generation on an open swarm (shared by the LLM benchmarks): an untimed call of
// the same length loads the model on the group, compiles pipelines and warms the JIT, then one
// greedy run of `maxTokens` is timed
// by the engine itself (prefill = the prompt's forward, decode = the single-token forwards).
import type { Page } from '@playwright/test';

/**
 * Untimed calls before the timed one, each as long as it, until decode stops getting faster: at most
 * this many (env BENCH_WARMUP_RUNS, default 6; wllama's rows follow the same rule, bench/wllama.ts).
 * V8 runs wasm (ORT, llama.cpp) on its baseline compiler first and tiers hot functions up in the
 * background: on a busy 2-core machine that takes many seconds, and the old 4-token warm-up measured
 * the tier-up, not the engine (stories260K's ORT decode alone in a page: ~26 ms/token cold, ~15 after
 * one 256-token pass, ~4 after three, at load average ~10).
 */
export const WARMUP_RUNS = Math.max(1, Number(process.env.BENCH_WARMUP_RUNS ?? 6));

/** Runs `once` (returns decode ms/token) until a run is no more than 10% faster than the one before, at most `max` times. */
export async function warmUntilSteady(once: () => Promise<number>, max = WARMUP_RUNS): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < max; i++) {
    seen.push(await once());
    const n = seen.length;
    if (n >= 2 && seen[n - 1] > 0.9 * seen[n - 2]) break;
  }
  return seen;
}

export interface TabmeshRunOptions {
  model: string; // a server model name (tabmesh.models())
  prompt: string;
  tp: number;
  maxTokens: number;
  warmPrompt?: string; // prompt of the untimed load + compile call (default: `prompt`); a shorter one saves a slow prefill
}

export interface LlmRow extends Record<string, unknown> {
  model: string;
  engine: string;
  tp_or_threads: number;
  prompt_tokens: number;
  completion_tokens: number;
  prefill_tok_s: number;
  decode_tok_s: number;
  ms_per_token: number;
  text: string;
}

export async function benchTabmesh(coordinator: Page, o: TabmeshRunOptions): Promise<LlmRow & { allreduce_share: number }> {
  const req = { model: o.model, prompt: o.prompt, tensor_parallel_size: o.tp, sampling: { temperature: 0, max_tokens: o.maxTokens, ignore_eos: true } };
  const warm = { ...req, prompt: o.warmPrompt ?? o.prompt };
  await warmUntilSteady(async () => { // load + compile + JIT tier-up
    const w = await coordinator.evaluate((r) => window.tabmesh.generate(r), warm);
    return (w.timings as Record<string, number>).decode_ms / Math.max(1, w.usage.completion_tokens - 1);
  });
  const res = await coordinator.evaluate((r) => window.tabmesh.generate(r), req);
  const t = res.timings as Record<string, number>;
  const decodeTokens = res.usage.completion_tokens - 1; // the first token comes from the prefill's logits
  return {
    model: o.model, engine: 'tabmesh (WGSL)', tp_or_threads: o.tp,
    prompt_tokens: res.usage.prompt_tokens, completion_tokens: res.usage.completion_tokens,
    prefill_tok_s: res.usage.prompt_tokens / (t.prefill_ms / 1000),
    decode_tok_s: decodeTokens / (t.decode_ms / 1000),
    ms_per_token: t.decode_ms / decodeTokens,
    allreduce_share: t.allreduce_ms / (t.compute_ms + t.allreduce_ms),
    text: res.outputs[0]?.text ?? '',
  };
}
