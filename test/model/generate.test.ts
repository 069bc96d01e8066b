import { beforeAll, describe, expect, it } from 'vitest';
import { generate, type TokenEvent } from '../../src/engines/generate';
import { LlamaTokenizer } from '../../src/model/tokenizer';
import { GOLDEN_IDS, GOLDEN_TEXT } from './fixtures';
import { loadStories, type LoadedModel } from './models';
import { CpuMesh } from '../parallel/mesh';

let stories: LoadedModel;
let tok: LlamaTokenizer;
let mesh: CpuMesh;
beforeAll(async () => {
  stories = await loadStories();
  tok = new LlamaTokenizer(stories.index.tokenizer);
  mesh = await CpuMesh.create(stories, 1, 512);
});

const fwd = (m: CpuMesh) => (t: Int32Array, p: number) => m.forward(t, p);
const opts = (m: CpuMesh, extra: object = {}) => ({ reset: () => m.reset(), maxSeqLen: 512, ...extra });

describe('generate over the CPU reference', () => {
  it('greedy from an empty prompt reproduces the golden ids and text', async () => {
    const events: TokenEvent[] = [];
    const res = await generate(fwd(mesh), tok, '', { temperature: 0, max_tokens: 64 }, opts(mesh, { onToken: (e: TokenEvent) => events.push(e) }));
    expect(res.outputs).toHaveLength(1);
    expect(res.outputs[0].token_ids).toEqual(GOLDEN_IDS);
    // after BOS the first word's SentencePiece space is dropped, as llama2.c prints it
    expect(res.outputs[0].text).toBe(GOLDEN_TEXT.slice(1));
    expect(res.outputs[0].finish_reason).toBe('length');
    expect(res.usage).toEqual({ prompt_tokens: 1, completion_tokens: 64 });
    expect(events.map((e) => e.tokenId)).toEqual(GOLDEN_IDS);
    expect(events.map((e) => e.text).join('')).toBe(GOLDEN_TEXT.slice(1));
    expect(res.timings.prefill_ms).toBeGreaterThan(0);
    expect(res.timings.decode_ms).toBeGreaterThan(0);
  });

  it('continues a prompt: the completion is what follows the prompt in the golden text', async () => {
    const prompt = 'Once upon a time, there was a little girl named';
    const res = await generate(fwd(mesh), tok, prompt, { temperature: 0, max_tokens: 6 }, opts(mesh));
    expect(res.usage.prompt_tokens).toBe(tok.encode(prompt).length);
    expect(GOLDEN_TEXT.slice(1).startsWith(prompt + res.outputs[0].text)).toBe(true);
    expect(res.outputs[0].text.startsWith(' Lily.')).toBe(true);
  });

  it('seeded sampling is deterministic, differs across seeds, and does not depend on tp', async () => {
    const p = { temperature: 1, max_tokens: 40, seed: 1234 };
    const a = await generate(fwd(mesh), tok, 'The dog', p, opts(mesh));
    const b = await generate(fwd(mesh), tok, 'The dog', p, opts(mesh));
    expect(b.outputs[0].token_ids).toEqual(a.outputs[0].token_ids);
    expect(a.seed).toBe(1234);
    const c = await generate(fwd(mesh), tok, 'The dog', { ...p, seed: 99 }, opts(mesh));
    expect(c.outputs[0].token_ids).not.toEqual(a.outputs[0].token_ids);
    const mesh4 = await CpuMesh.create(stories, 4, 512);
    const d = await generate(fwd(mesh4), tok, 'The dog', p, opts(mesh4));
    expect(d.outputs[0].text).toBe(a.outputs[0].text);
  });

  it('top_k = 1 at temperature 1 equals greedy', async () => {
    const g = await generate(fwd(mesh), tok, 'Tim', { temperature: 0, max_tokens: 30 }, opts(mesh));
    const k = await generate(fwd(mesh), tok, 'Tim', { temperature: 1, top_k: 1, max_tokens: 30, seed: 5 }, opts(mesh));
    expect(k.outputs[0].token_ids).toEqual(g.outputs[0].token_ids);
  });

  it('n > 1 re-runs the prompt per completion, each with its own random stream', async () => {
    let resets = 0;
    const res = await generate(fwd(mesh), tok, 'Lily', { n: 3, temperature: 1, max_tokens: 20, seed: 7 }, { reset: () => { resets++; mesh.reset(); } });
    expect(resets).toBe(3);
    expect(res.outputs.map((o) => o.index)).toEqual([0, 1, 2]);
    expect(new Set(res.outputs.map((o) => o.text)).size).toBeGreaterThan(1);
    expect(res.usage.completion_tokens).toBe(res.outputs.reduce((n, o) => n + o.token_ids.length, 0));
    // completion i is the same as it would be alone: the key is (seed, i, step)
    const again = await generate(fwd(mesh), tok, 'Lily', { n: 3, temperature: 1, max_tokens: 20, seed: 7 }, opts(mesh));
    expect(again.outputs.map((o) => o.text)).toEqual(res.outputs.map((o) => o.text));
  });

  it('stop strings cut the text before the stop string, also across token boundaries, and streaming never leaks it', async () => {
    for (const stop of ['Lily', 'e girl', 'park.', '\n']) {
      const events: TokenEvent[] = [];
      const res = await generate(fwd(mesh), tok, '', { temperature: 0, max_tokens: 64, stop: ['zzz', stop] }, opts(mesh, { onToken: (e: TokenEvent) => events.push(e) }));
      const full = GOLDEN_TEXT.slice(1);
      const o = res.outputs[0];
      expect(o.text, stop).toBe(full.slice(0, full.indexOf(stop)));
      expect(o.finish_reason).toBe('stop');
      expect(o.stop_reason).toBe(stop);
      expect(events.map((e) => e.text).join('')).toBe(o.text);
      // the token that completed the stop string is the last one generated
      expect(o.token_ids).toEqual(GOLDEN_IDS.slice(0, o.token_ids.length));
      expect(tok.decode([1, ...o.token_ids]).includes(stop)).toBe(true);
      expect(tok.decode([1, ...o.token_ids.slice(0, -1)]).includes(stop)).toBe(false);
    }
  });

  it('stop_token_ids and EOS end with finish_reason stop; ignore_eos keeps going', async () => {
    const s = await generate(fwd(mesh), tok, '', { temperature: 0, max_tokens: 64, stop_token_ids: [13] }, opts(mesh));
    expect(s.outputs[0].finish_reason).toBe('stop');
    expect(s.outputs[0].stop_reason).toBe(13);
    expect(s.outputs[0].token_ids).toEqual(GOLDEN_IDS.slice(0, GOLDEN_IDS.indexOf(13) + 1));
    expect(s.outputs[0].text).toBe(GOLDEN_TEXT.slice(1, GOLDEN_TEXT.indexOf('\n')));
    // force EOS at the 6th decode step by wrapping the forward
    let calls = 0;
    const eosAt5 = async (t: Int32Array, p: number) => {
      const l = await mesh.forward(t, p);
      if (++calls === 6) l[tok.eos] = 100;
      return l;
    };
    const e = await generate(eosAt5, tok, '', { temperature: 0, max_tokens: 64 }, opts(mesh));
    expect(e.outputs[0].finish_reason).toBe('stop');
    expect(e.outputs[0].token_ids).toEqual([...GOLDEN_IDS.slice(0, 5), tok.eos]);
    expect(e.outputs[0].text).toBe(tok.decode([1, ...GOLDEN_IDS.slice(0, 5)]));
    calls = 0;
    const ig = await generate(eosAt5, tok, '', { temperature: 0, max_tokens: 8, ignore_eos: true }, opts(mesh));
    expect(ig.outputs[0].finish_reason).toBe('length');
    expect(ig.outputs[0].token_ids).toHaveLength(8);
    expect(ig.outputs[0].token_ids[5]).toBe(tok.eos);
  });

  it('abort stops with finish_reason abort and keeps what was generated', async () => {
    const ac = new AbortController();
    const res = await generate(fwd(mesh), tok, '', { temperature: 0, max_tokens: 64 }, opts(mesh, {
      signal: ac.signal,
      onToken: (e: TokenEvent) => { if (e.tokenId === GOLDEN_IDS[2]) ac.abort(); },
    }));
    expect(res.outputs[0].finish_reason).toBe('abort');
    expect(res.outputs[0].token_ids).toEqual(GOLDEN_IDS.slice(0, 4)); // noticed after the next token
  });

  it('stops at the cache size with finish_reason length', async () => {
    const small = await CpuMesh.create(stories, 1, 10);
    const res = await generate(fwd(small), tok, '', { temperature: 0, max_tokens: 64 }, { reset: () => small.reset(), maxSeqLen: 10 });
    expect(res.outputs[0].token_ids).toEqual(GOLDEN_IDS.slice(0, 9));
    expect(res.outputs[0].finish_reason).toBe('length');
  });
});
