// The LLM engine of one peer: its shard on WGSL (LlamaGpu) or ONNX Runtime Web (LlamaOrt, wasm or
// webgpu), the tensor-parallel plan's all-reduce hook, the vocab-parallel output head, and the
// generation loop. Runs inside the GPU worker (or in-process in the headless Node peer).
import { tuneModel, type TuneSummary } from './tune-model';
import { isReduceWire, type Comm, type ReduceWire } from '../collectives/types';
import type { Gpu } from '../gpu/gpu';
import { loadGgufIndex, type GgufIndex, type RangeSource } from '../model/gguf';
import { LlamaGpu } from '../model/llama';
import { zeroPointTimes, type PointTimes } from '../model/point-times';
import type { ShardModel } from '../model/shard-model';
import type { LlmEngineChoice, LlmEngineKind } from '../session/protocol';
import { LlamaTokenizer } from '../model/tokenizer';
import { renderChat, type ChatMessage, type ChatTemplateInfo } from '../model/chat-template';
import { makeShard, planTp, shardRanges, validateTp } from '../parallel/tp';
import type { ModelShard } from '../model/types';
import { generate, type GenerateResult } from './generate';
import { parseSamplingParams, randomSeed } from '../model/sampling';
import { BatchLoop, llamaBatchModel, type SlotModel } from './batch-loop';
import { ORT_WASM_MEMORY_BYTES } from './engine-choice';
import { cachedRangeReader } from './range-cache';
import type { CommTimer } from './remote-comm';

export interface LoadRequest {
  url: string; // HTTP(S) URL, or tabmesh-local:<name> read through `remoteRead`
  size?: number; // file size, needed for tabmesh-local files
  rank: number;
  tp: number;
  maxSeqLen: number;
  /** KV-cache slots for continuous batching (serve's max_batch_size); default 1. */
  maxBatchSize?: number;
  /** An idle replica waits this long for companions before a batch starts (serve's batch_wait_timeout_ms). */
  batchWaitMs?: number;
  /** The worker resolves 'auto' to its peer's choice before loading; here absent or 'auto' means wgsl. */
  engine?: LlmEngineChoice;
  /** Per-rank shares for proportional shards (src/parallel/hetero.ts); default even. */
  weights?: number[];
  /** Tune the prefill kernels on this adapter at load (once per GPU model; src/engines/tune-model.ts). Default true. */
  tune?: boolean;
  /** How prefill's all-reduces travel (tp > 1): 'f32' exact (default), or 'i8' (int8 blocks, a quarter of the
   *  bytes) where the link's bandwidth bounds prefill, as WebRTC between devices does (a 128-token prefill of a
   *  1B model moves 1 MiB per all-reduce, 44 of them). Decode steps always travel f32: an 8-16 KB message is
   *  latency-bound, so compressing it would cost accuracy for nothing. Every rank must pass the same. */
  reduceWire?: ReduceWire;
}

export interface LoadInfo {
  rank: number;
  tp: number;
  weightBytes: number;
  kvBytes: number;
  maxSeqLen: number; // per sequence (slot)
  maxSlots: number;
  downloadedBytes: number;
  config: GgufIndex['config'];
  engine: LlmEngineKind;
  /** This rank's slices: query heads, MLP hidden units, vocab rows ([start, end) each). */
  share: { heads: [number, number]; hidden: [number, number]; vocab: [number, number] };
  /** What sized the KV cache: the adapter's largest binding (wgsl), or the wasm memory budget (ORT). */
  kvBudgetBytes: number;
  /** The load-time kernel tuning (wgsl only). */
  tuning?: TuneSummary;
  /** How prefill's all-reduces travel (LoadRequest.reduceWire). */
  reduceWire: ReduceWire;
}

type EngineModel = ShardModel & SlotModel;

export class LlmEngine {
  private constructor(
    private readonly model: EngineModel,
    private readonly tokenizer: LlamaTokenizer,
    private readonly comm: Comm,
    private readonly timer: CommTimer,
    readonly info: LoadInfo,
    private readonly batchWaitMs = 0,
  ) {}

  /** The all-reduce hook of a forward (none at tp = 1): prefill's travel as info.reduceWire, decode's f32. */
  private reducer(prefill: boolean): ((p: Float32Array) => Promise<Float32Array>) | undefined {
    if (this.comm.size === 1) return undefined;
    const wire: ReduceWire = prefill ? this.info.reduceWire : 'f32';
    return (p: Float32Array) => this.comm.allReduce(p, wire);
  }

  static async load(gpu: Gpu | null, req: LoadRequest, comm: Comm, timer: CommTimer, onProgress: (loaded: number, total: number) => void,
    remoteRead?: (start: number, end: number) => Promise<Uint8Array>): Promise<LlmEngine> {
    let loaded = 0;
    let total = 0; // known once the header is parsed
    const counted = (n: number) => {
      loaded += n;
      onProgress(loaded, Math.max(loaded, total));
    };
    // A file the coordinator holds is read through it, range by range, like an HTTP server.
    const remote: RangeSource | null = remoteRead
      ? { size: req.size ?? 0, read: async (s, e) => { const b = await remoteRead(s, e); counted(b.byteLength); return b; } }
      : null;
    const reduceWire = req.reduceWire ?? 'f32';
    if (!isReduceWire(reduceWire)) throw new Error(`reduceWire must be f32 or i8, got ${JSON.stringify(req.reduceWire)}`);
    const index = await loadGgufIndex(remote ?? req.url);
    if (!req.weights) validateTp(index.config, req.tp); // weighted plans are checked by planTp (validateHetero)
    const engine: LlmEngineKind = !req.engine || req.engine === 'auto' ? 'wgsl' : req.engine;
    const plan = planTp(index, req.rank, req.tp, req.weights);
    const read = remote ? (s: number, e: number) => remote.read(s, e) : cachedRangeReader(req.url, counted);
    // Exactly the ranges makeShard will read: the progress bar's total is not an estimate.
    total = loaded + shardRanges(index, req.rank, req.tp, undefined, req.weights).reduce((n, r) => n + r.end - r.start, 0);
    const shard = await makeShard(index, read, req.rank, req.tp, { weights: req.weights });
    // Memory budget (as vLLM's gpu_memory_utilization): WebGPU does not expose device memory, so
    // the per-layer K and V caches ([maxSeqLen, kvDim] each) are sized by the adapter's largest
    // binding, capped by the model's context and the request; the peer reports what it got.
    // With continuous batching each layer's cache holds maxSlots sequences, so the per-sequence
    // length shrinks to fit the same binding: maxSeqLen is per slot.
    // Without a GPU (ORT on wasm) the weights, dequantized to f32, and each step's copy of the past
    // K/V rows share wasm32's 4 GiB: the whole KV cache (every layer, K and V, every slot) gets half
    // of what the weights leave, at least 64 MiB. ORT's webgpu backend keeps the same budget: its
    // buffers are not visible to us either.
    const maxSlots = Math.max(1, Math.floor(req.maxBatchSize ?? 1));
    const perPos = shard.nKvHeadsLocal * shard.config.headDim * 4; // bytes per position per layer
    let kvBudgetBytes: number;
    let posCap: number;
    if (engine === 'wgsl') {
      if (!gpu) throw new Error('engine wgsl needs a WebGPU device');
      kvBudgetBytes = gpu.report.limits.maxStorageBufferBindingSize; // per layer, K or V
      posCap = Math.floor(kvBudgetBytes / (perPos * maxSlots));
    } else {
      kvBudgetBytes = Math.max(64 * 1024 ** 2, (ORT_WASM_MEMORY_BYTES - f32Bytes(shard)) / 2); // all layers, K and V
      posCap = Math.floor(kvBudgetBytes / (2 * shard.config.nLayers * perPos * maxSlots));
    }
    const maxSeqLen = Math.max(16, Math.min(req.maxSeqLen, shard.config.contextLength, posCap));
    let model: EngineModel;
    let tuning: TuneSummary | undefined;
    if (engine === 'wgsl') {
      const m = await LlamaGpu.load(gpu as Gpu, shard, { maxSeqLen, maxSlots });
      if (req.tune !== false) tuning = await tuneModel(gpu as Gpu, m.projectionShapes());
      model = m;
    } else {
      const { LlamaOrt } = await import('../model/ort/llama-ort'); // ORT is parsed only by peers that use it
      model = await LlamaOrt.load(shard, { maxSeqLen, maxSlots, backend: engine === 'ort-webgpu' ? 'webgpu' : 'wasm' });
    }
    onProgress(loaded, loaded);
    const tokenizer = new LlamaTokenizer(index.tokenizer);
    const eng = new LlmEngine(model, tokenizer, comm, timer, {
      rank: req.rank, tp: req.tp, weightBytes: model.weightBytes(), kvBytes: model.kvBytes(), maxSeqLen, maxSlots, downloadedBytes: loaded, config: index.config,
      engine, share: { heads: plan.heads, hidden: plan.hidden, vocab: plan.vocab }, kvBudgetBytes, tuning, reduceWire,
    }, req.batchWaitMs ?? 0);
    eng.chatTemplate = index.chatTemplate;
    eng.vocabTokens = index.tokenizer.tokens;
    return eng;
  }

  /**
   * Full-vocabulary logits of the last token: this rank's vocab slice, gathered from every rank.
   * Each rank appends one flag element (1 = cancel requested here) to its slice, so every rank
   * learns of a cancel at the same step and they stop together instead of one rank waiting
   * forever in an all-reduce the others have left.
   */
  private async forward(tokens: Int32Array, pos: number): Promise<Float32Array> {
    const tp = this.comm.size;
    // The first forward of a sequence is its prefill, the rest are decode steps: timed apart.
    const phase = pos === 0 ? this.times.prefill : this.times.decode;
    if (this.model instanceof LlamaGpu) this.model.times = phase.model;
    const local = await this.model.forward(tokens, pos, this.reducer(tokens.length > 1)); // [vocabLocal]
    if (tp === 1) return local;
    // Gathered logits rather than a distributed top-k: with vocabularies up to ~128k the gather is
    // one message of <= 512 KiB per token, and sampling from full logits is exactly what tp=1 does,
    // so the same seed gives the same text whatever the tp.
    const flagged = new Float32Array(local.length + 1); // [vocabLocal + 1]
    flagged.set(local);
    flagged[local.length] = this.cancelRequested ? 1 : 0;
    const tg = performance.now();
    const parts = await this.comm.allGather(flagged); // tp x [vocabLocal_r + 1]
    phase.gatherMs += performance.now() - tg;
    const full = new Float32Array(parts.reduce((n, p) => n + p.length - 1, 0)); // [vocab]
    let o = 0;
    for (const p of parts) {
      full.set(p.subarray(0, p.length - 1), o);
      o += p.length - 1;
      if (p[p.length - 1] !== 0) this.stepAbort?.abort();
    }
    return full;
  }

  private cancelRequested = false;
  private stepAbort: AbortController | null = null;
  /** The current generate's time split (PointTimes of the WGSL model, and the logits allGather), per phase. */
  private times = newPhaseTimes();

  /**
   * Every rank's time split of the generate that just ended, as flat `pt_<phase>_<field>_r<rank>`
   * timings (bench/multi-gpu.ts reads them from rank 0's result). tp > 1: one allGather of a few
   * floats after the timed part, in the same order on every rank as every other collective.
   */
  private async phaseTimings(): Promise<Record<string, number>> {
    const mine = flattenPhaseTimes(this.times);
    const all = this.comm.size > 1 ? await this.comm.allGather(Float32Array.from(mine.map(([, v]) => v))) : [Float32Array.from(mine.map(([, v]) => v))];
    const out: Record<string, number> = {};
    all.forEach((vals, r) => mine.forEach(([k], i) => (out[`pt_${k}_r${r}`] = vals[i])));
    return out;
  }

  /** Ask this rank to stop; with tp > 1 every rank stops at the same step (see forward()). */
  cancel(): void {
    this.cancelRequested = true;
    if (this.comm.size === 1) this.stepAbort?.abort();
  }

  /** Chat messages -> prompt ids: the GGUF's template (or the [INST] default), control tokens parsed. */
  private chatIds(messages: ChatMessage[] | undefined): Int32Array | undefined {
    if (!messages) return undefined;
    const t = this.tokenizer;
    const info: ChatTemplateInfo = { template: this.chatTemplate, bosText: this.vocabTokens[t.bos] ?? '', eosText: this.vocabTokens[t.eos] ?? '', addBos: t.addBos };
    return t.encode(renderChat(messages, info), { parseSpecial: true }); // [P]
  }

  private chatTemplate: string | undefined;
  private vocabTokens: string[] = [];

  async generate(prompt: string, sampling: Record<string, unknown>, onToken: (ev: { index: number; tokenId: number; text: string }) => void, messages?: ChatMessage[]): Promise<GenerateResult & { stats: { computeMs: number; commMs: number } }> {
    // Both paths use the KV cache's slot 0 and the group's collectives: never at the same time.
    if (this.batch?.busy) throw new Error('this replica is serving batched requests; use the batched path');
    const params = parseSamplingParams(sampling);
    this.timer.commMs = 0;
    this.timer.calls = 0;
    this.cancelRequested = false;
    this.stepAbort = new AbortController();
    const signal = this.stepAbort.signal;
    this.times = newPhaseTimes();
    const t0 = performance.now();
    this.soloRunning = true;
    const promptTokenIds = this.chatIds(messages);
    const res = await generate((t, p) => this.forward(t, p), this.tokenizer, prompt, params, {
      promptTokenIds,
      onToken: this.info.rank === 0 ? onToken : undefined,
      signal,
      reset: () => this.model.reset(),
      maxSeqLen: this.info.maxSeqLen,
    }).finally(() => (this.soloRunning = false));
    const wall = performance.now() - t0;
    const commMs = this.timer.commMs; // before the split's own gather below
    if (this.model instanceof LlamaGpu) this.model.times = null;
    const split = await this.phaseTimings();
    return { ...res, timings: { ...res.timings, ...split }, stats: { computeMs: wall - commMs, commMs } };
  }

  private batch: BatchLoop | null = null;
  private soloRunning = false;

  /**
   * A request for the continuous-batching loop (src/engines/batch-loop.ts): `key` is the same on
   * every rank of the group (the coordinator's job number) and orders admissions. Resolves when all
   * its completions finish. With tp > 1 the sampling seed must be set (the coordinator fixes it).
   */
  async generateBatched(key: number, prompt: string, sampling: Record<string, unknown>, onToken: (ev: { index: number; tokenId: number; text: string }) => void, messages?: ChatMessage[]): Promise<GenerateResult & { stats: { computeMs: number; commMs: number } }> {
    if (this.soloRunning) throw new Error('this replica is running an unbatched generate');
    const params = parseSamplingParams(sampling);
    if (params.seed === undefined && this.comm.size > 1) throw new Error('generate: batched requests need a seed when tp > 1 (every rank samples)');
    this.batch ??= new BatchLoop(llamaBatchModel(this.model, this.reducer(false), this.reducer(true)),
      this.tokenizer, this.comm, { batchWaitMs: this.batchWaitMs });
    // The batch shares compute and all-reduces between its requests: these are the totals over the
    // request's lifetime (wall time, and the group's collective time meanwhile), not its own share.
    const t0 = performance.now();
    const comm0 = this.timer.commMs;
    const res = await this.batch.submit({ key, prompt, promptIds: this.chatIds(messages), params, seed: params.seed ?? randomSeed(), onToken: this.info.rank === 0 ? onToken : undefined });
    const commMs = this.timer.commMs - comm0;
    return { ...res, stats: { computeMs: performance.now() - t0 - commMs, commMs } };
  }

  /** Cancels one batched request; every rank stops it at the same step (see batch-loop.ts). */
  cancelBatched(key: number): void {
    this.batch?.cancel(key);
  }

  destroy(): void {
    this.batch?.close(new Error('the model was unloaded'));
    this.model.destroy();
  }
}

interface PhaseTimes {
  model: PointTimes;
  gatherMs: number; // the logits allGather after each forward
}

function newPhaseTimes(): { prefill: PhaseTimes; decode: PhaseTimes } {
  return { prefill: { model: zeroPointTimes(), gatherMs: 0 }, decode: { model: zeroPointTimes(), gatherMs: 0 } };
}

/** [`<phase>_<field>`, value] pairs in a fixed order (the same on every rank). */
function flattenPhaseTimes(t: { prefill: PhaseTimes; decode: PhaseTimes }): [string, number][] {
  const out: [string, number][] = [];
  for (const [phase, p] of Object.entries(t)) {
    for (const [k, v] of Object.entries(p.model)) out.push([`${phase}_${k}`, v]);
    out.push([`${phase}_gatherMs`, p.gatherMs]);
  }
  return out;
}

/** Bytes of the shard's weights as f32 (what ORT holds after dequantizing). */
function f32Bytes(s: ModelShard): number {
  const n = (w: { rows: number; cols: number }) => w.rows * w.cols;
  let e = n(s.tokenEmbd) + n(s.output) + s.outputNorm.length;
  for (const L of s.layers) e += n(L.wq) + n(L.wk) + n(L.wv) + n(L.wo) + n(L.wGate) + n(L.wUp) + n(L.wDown) + L.attnNorm.length + L.ffnNorm.length;
  return 4 * e;
}
