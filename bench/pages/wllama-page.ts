// Browser side of the wllama baseline (bench/wllama.ts drives it): llama.cpp compiled to WebAssembly
// (npm @wllama/wllama, CPU only) loads a GGUF from the app's server and runs one greedy completion;
// prefill and decode come from llama.cpp's own timers (llama-server's `timings`), with the request's
// wall-clock time as a cross-check.
import { Wllama, type ResultTimings } from '@wllama/wllama';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';

export interface WllamaRunOptions {
  modelUrl: string; // e.g. /models/stories260K/stories260K.gguf
  prompt: string;
  maxTokens: number; // greedy tokens to generate (EOS ignored)
  threads: number; // 1 = single-thread wasm; >1 needs cross-origin isolation (pthreads)
  nCtx?: number; // KV positions (default 1024)
  warmRuns?: number; // at most this many untimed completions of maxTokens first, until decode is steady (default 1)
}

export interface WllamaRunResult {
  threads: number; // threads llama.cpp actually ran with
  multithread: boolean;
  crossOriginIsolated: boolean;
  load_ms: number; // fetch + wasm init + model load (includes llama.cpp's warmup decode)
  timings: ResultTimings; // llama.cpp's: prompt_n/prompt_ms (prefill), predicted_n/predicted_ms (decode)
  warmup_ms_per_token: number[]; // decode ms/token of each warm-up completion
  total_wall_ms: number; // the measured request, wall clock (prefill + decode + messaging)
  text: string;
}

declare global {
  interface Window {
    wllamaBench: { run(o: WllamaRunOptions): Promise<WllamaRunResult>; version: string };
  }
}

async function run(o: WllamaRunOptions): Promise<WllamaRunResult> {
  const t0 = performance.now();
  const blob = await (await fetch(o.modelUrl)).blob(); // the whole GGUF: wllama reads it from memory
  const w = new Wllama({ default: wasmUrl }, { suppressNativeLog: true });
  try {
    // n_gpu_layers 0: llama.cpp's CPU (wasm SIMD) path, not its WebGPU backend; one slot, no prompt cache
    await w.loadModel([blob], { n_threads: o.threads, n_gpu_layers: 0, n_ctx: o.nCtx ?? 1024, n_parallel: 1 });
    const load_ms = performance.now() - t0;
    // llama-server request fields (passed through as JSON): greedy, fixed length, prompt not reused
    const req = { prompt: o.prompt, temperature: 0, top_k: 1, ignore_eos: true, cache_prompt: false };
    // Warm-up as long as the measured run, by tabmesh's rule (bench/tabmesh-llm.ts warmUntilSteady):
    // wasm code tiers up from V8's baseline compiler while it runs; a 4-token warm-up measured that too.
    const warmup_ms_per_token: number[] = [];
    for (let i = 0; i < (o.warmRuns ?? 1); i++) {
      const r = await w.createCompletion({ ...req, max_tokens: o.maxTokens, n_predict: o.maxTokens } as Parameters<Wllama['createCompletion']>[0] & { stream?: false });
      warmup_ms_per_token.push(r.timings ? r.timings.predicted_ms / Math.max(1, r.timings.predicted_n - 1) : NaN);
      const n = warmup_ms_per_token.length;
      if (n >= 2 && warmup_ms_per_token[n - 1] > 0.9 * warmup_ms_per_token[n - 2]) break;
    }
    // Not streamed: a stream sends every token through llama-server's JSON and the worker's messages,
    // per-token overhead that tabmesh's measured run (no onToken callback) does not pay either.
    const t1 = performance.now();
    const res = await w.createCompletion({ ...req, max_tokens: o.maxTokens, n_predict: o.maxTokens } as Parameters<Wllama['createCompletion']>[0] & { stream?: false });
    const total_wall_ms = performance.now() - t1;
    const timings = res.timings;
    const text = res.choices[0]?.text ?? '';
    if (!timings) throw new Error('wllama returned no timings');
    return {
      threads: w.getNumThreads(), multithread: w.isMultithread(), crossOriginIsolated: self.crossOriginIsolated,
      load_ms, timings, warmup_ms_per_token, total_wall_ms, text,
    };
  } finally {
    await w.exit(); // frees the wasm heap and the worker(s) before the next configuration
  }
}

window.wllamaBench = { run, version: Wllama.getLibllamaVersion() };
document.getElementById('status')!.textContent = `ready: llama.cpp ${window.wllamaBench.version}, crossOriginIsolated=${self.crossOriginIsolated}`;
