// Text generation over any forward function (CPU reference, single GPU, or a tensor-parallel mesh):
// tokenize, prefill, then sample / detokenize / stop-check token by token, vLLM-style.
// n > 1 re-runs the prompt for each completion (reset + prefill again). A prefix cache that prefills
// once and forks the KV cache is left for later; it needs a KV-copy op on the forward side.

import { LlamaTokenizer, StreamDecoder } from '../model/tokenizer';
import { randomSeed, sampleToken, samplingParams, type SamplingParams, type SamplingParamsInput } from '../model/sampling';

export type FinishReason = 'stop' | 'length' | 'abort';

export interface CompletionOutput {
  index: number;
  text: string;
  token_ids: number[];
  finish_reason: FinishReason;
  /** The stop string or stop token id that ended it (vLLM's stop_reason); undefined for EOS/length. */
  stop_reason?: string | number;
}

export interface GenerateResult {
  outputs: CompletionOutput[];
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: { prefill_ms: number; decode_ms: number };
  seed: number;
}

export interface TokenEvent {
  index: number; // completion index (0..n-1)
  tokenId: number;
  text: string; // new text since the previous event of this completion (may be empty)
}

export interface GenerateOptions {
  onToken?: (ev: TokenEvent) => void;
  signal?: AbortSignal;
  /** Clear the KV cache; called before each completion's prefill. */
  reset: () => void;
  /** Cache capacity in positions: generation stops with 'length' when it is full. */
  maxSeqLen?: number;
  /** Token ids instead of `prompt` text (then `prompt` is ignored). */
  promptTokenIds?: Int32Array;
}

export type ForwardFn = (tokens: Int32Array, pos: number) => Promise<Float32Array /* full logits [vocab] */>;

const now = () => performance.now();

export async function generate(
  forward: ForwardFn,
  tokenizer: LlamaTokenizer,
  prompt: string,
  paramsIn: SamplingParams | SamplingParamsInput,
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const params = samplingParams(paramsIn as SamplingParamsInput);
  const seed = params.seed ?? randomSeed();
  const promptIds = opts.promptTokenIds ?? tokenizer.encode(prompt); // [P]
  if (promptIds.length === 0) throw new Error('generate: empty prompt and no BOS: nothing to condition on');
  const maxLen = Math.min(params.max_tokens, (opts.maxSeqLen ?? Infinity) - promptIds.length);
  if (maxLen < 1) throw new Error(`generate: prompt of ${promptIds.length} tokens leaves no room in ${opts.maxSeqLen} positions`);
  // Held back while streaming: a suffix that may still grow into a stop string (vLLM's stop buffer).
  const holdBack = params.stop.reduce((m, s) => Math.max(m, s.length - 1), 0);
  const stopIds = new Set(params.stop_token_ids);
  const timings = { prefill_ms: 0, decode_ms: 0 };
  const outputs: CompletionOutput[] = [];

  for (let index = 0; index < params.n; index++) {
    const out: CompletionOutput = { index, text: '', token_ids: [], finish_reason: 'length' };
    outputs.push(out);
    if (opts.signal?.aborted) {
      out.finish_reason = 'abort';
      continue;
    }
    opts.reset();
    let t0 = now();
    let logits = await forward(promptIds, 0); // [vocab]
    timings.prefill_ms += now() - t0;
    // The space SentencePiece puts before the first word is dropped right after BOS (llama.cpp does too).
    const dec = new StreamDecoder(tokenizer, {
      stripLeadingSpace: promptIds.length === 1 && promptIds[0] === tokenizer.bos,
    });
    let text = '';
    let emitted = 0;
    for (let step = 0; ; step++) {
      const id = sampleToken(logits, params, seed, index, step);
      out.token_ids.push(id);
      let done = false;
      let cut = false; // ended by a stop string: the text after it is dropped
      if ((id === tokenizer.eos && !params.ignore_eos) || stopIds.has(id)) {
        out.finish_reason = 'stop';
        if (id !== tokenizer.eos) out.stop_reason = id;
        done = true;
      } else {
        const prevLen = text.length;
        text += dec.push(id);
        // a stop string that ends in the new text starts at most holdBack chars before it
        const from = Math.max(0, prevLen - holdBack);
        let at = -1;
        for (const s of params.stop) {
          const i = text.indexOf(s, from);
          if (i >= 0 && (at < 0 || i < at)) {
            at = i;
            out.stop_reason = s;
          }
        }
        if (at >= 0) {
          text = text.slice(0, at);
          out.finish_reason = 'stop';
          done = cut = true;
        }
      }
      if (!done && out.token_ids.length >= maxLen) done = true; // finish_reason stays 'length'
      if (!done && opts.signal?.aborted) {
        out.finish_reason = 'abort';
        done = true;
      }
      if (done && !cut) text += dec.flush(); // bytes of an unfinished character, if any
      const visible = done ? text.length : Math.max(emitted, text.length - holdBack);
      opts.onToken?.({ index, tokenId: id, text: text.slice(emitted, visible) });
      emitted = visible;
      if (done) break;
      t0 = now();
      logits = await forward(Int32Array.of(id), promptIds.length + step);
      timings.decode_ms += now() - t0;
    }
    out.text = text;
  }
  return {
    outputs,
    usage: { prompt_tokens: promptIds.length, completion_tokens: outputs.reduce((a, o) => a + o.token_ids.length, 0) },
    timings,
    seed,
  };
}
