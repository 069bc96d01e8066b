// Tensor-parallel LLM speed in headless Chromium (SwiftShader WebGPU, real WebRTC between peer pages
// in separate contexts): prefill and decode tokens/s and the per-token split between compute and
// all-reduce, at tp = 1, 2, 4 on stories260K, all measured in one run.
import { test } from '@playwright/test';
import { openSwarm } from '../e2e/helpers';
import { writeReport } from './report';
import { benchTabmesh } from './tabmesh-llm';

const PROMPT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

test('llm tokens/s at tp=1,2,4', async ({ browser }) => {
  const swarm = await openSwarm(browser, 4);
  const rows: Record<string, unknown>[] = [];
  for (const tp of [1, 2, 4]) {
    const r = await benchTabmesh(swarm.coordinator, { model: 'stories260K', prompt: PROMPT, tp, maxTokens: 128 });
    rows.push({
      model: r.model, tp,
      prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens,
      prefill_tok_s: r.prefill_tok_s, decode_tok_s: r.decode_tok_s, ms_per_token: r.ms_per_token,
      allreduce_share: r.allreduce_share,
    });
  }
  await swarm.close();
  writeReport('llm', { browser: browser.version(), adapter: 'SwiftShader (headless Chromium, CPU)', note: 'all peers share one 2-core machine: tp>1 adds WebRTC all-reduces but no extra compute' }, rows);
});
