// Tensor-parallel LLM speed in headless Chromium (SwiftShader WebGPU, real WebRTC between peer pages
// in separate contexts): prefill and decode tokens/s and the per-token split between compute and
// all-reduce, at tp = 1, 2, 4 on stories260K, all measured in one run.
import { test } from '@playwright/test';
import { openSwarm } from '../e2e/helpers';
import { writeReport } from './report';

const PROMPT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

test('llm tokens/s at tp=1,2,4', async ({ browser }) => {
  const swarm = await openSwarm(browser, 4);
  const rows: Record<string, unknown>[] = [];
  for (const tp of [1, 2, 4]) {
    const req = { model: 'stories260K', prompt: PROMPT, tensor_parallel_size: tp, sampling: { temperature: 0, max_tokens: 128, ignore_eos: true } };
    await swarm.coordinator.evaluate((r) => window.tabmesh.generate({ ...r, sampling: { ...r.sampling, max_tokens: 4 } }), req); // load + compile
    const res = await swarm.coordinator.evaluate((r) => window.tabmesh.generate(r), req);
    const t = res.timings as Record<string, number>;
    const decodeTokens = res.usage.completion_tokens - 1;
    rows.push({
      model: 'stories260K', tp,
      prompt_tokens: res.usage.prompt_tokens, completion_tokens: res.usage.completion_tokens,
      prefill_tok_s: res.usage.prompt_tokens / (t.prefill_ms / 1000),
      decode_tok_s: decodeTokens / (t.decode_ms / 1000),
      ms_per_token: t.decode_ms / decodeTokens,
      allreduce_share: t.allreduce_ms / (t.compute_ms + t.allreduce_ms),
    });
  }
  await swarm.close();
  writeReport('llm', { browser: browser.version(), adapter: 'SwiftShader (headless Chromium, CPU)', note: 'all peers share one 2-core machine: tp>1 adds WebRTC all-reduces but no extra compute' }, rows);
});
