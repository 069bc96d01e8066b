// One measured tabmesh generation on an open swarm (shared by the LLM benchmarks): a short call
// loads the model on the group and compiles pipelines, then one greedy run of `maxTokens` is timed
// by the engine itself (prefill = the prompt's forward, decode = the single-token forwards).
import type { Page } from '@playwright/test';

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
  const warm = { ...req, prompt: o.warmPrompt ?? o.prompt, sampling: { ...req.sampling, max_tokens: 4 } };
  await coordinator.evaluate((r) => window.tabmesh.generate(r), warm); // load + compile
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
