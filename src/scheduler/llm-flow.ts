// The coordinator's tensor-parallel generate flow, free of DOM: pick `tp` free peers, load the
// model's shards on them (skipped when the same group already holds it), run one SPMD
// 'llm-generate' job (rank 0 streams tokens), and keep per-peer live statistics (shard, tokens/s,
// compute / all-reduce / idle time) from the peers' 'stats' events. Used by the page's LLM panel
// and by the Node coordinator of bench/multi-gpu.ts.
import { LLM_ENGINES, type JobEvent, type LlmEngineChoice, type ModelRef } from '../session/protocol';
import type { Roster } from './roster';
import type { RunJob } from './jobs';
import { randomSeed } from '../model/sampling';
import type { LoadInfo } from '../engines/llm-engine';
import { isReduceWire, type ReduceWire } from '../collectives/types';

export interface GenerateRequest {
  model: string; // a name from /api/models or an absolute URL
  prompt: string;
  /** A chat instead of a prompt: each peer renders it with the GGUF's chat template (or a Llama-2 [INST] default). */
  messages?: { role: string; content: string }[];
  tensor_parallel_size?: number;
  sampling?: { temperature?: number; top_k?: number; top_p?: number; min_p?: number; n?: number; seed?: number; max_tokens?: number; stop?: string[]; ignore_eos?: boolean };
  onToken?: (ev: { index: number; tokenId: number; text: string }) => void;
  /** Only these peers (rank order) instead of the fastest free ones; they must be free. */
  peers?: string[];
  /** The engine of every chosen peer; default 'auto' (each peer's own choice: WGSL on a hardware GPU, ORT wasm otherwise). */
  engine?: LlmEngineChoice;
  /** Per rank, overriding `engine` (e.g. ['wgsl', 'ort-wasm']: a mixed group). */
  engines?: LlmEngineChoice[];
  /** Shares of heads / hidden units / vocab: 'even' (default), 'speed' (each peer's measured GFLOPS), or per-rank weights. */
  shard_weights?: 'even' | 'speed' | number[];
  /** How prefill's all-reduces travel: 'f32' exact (default) or 'i8' (a quarter of the bytes; decode stays f32). */
  allreduce_wire?: ReduceWire;
}

/** The per-rank engines and shard weights of a request over `group` (rank order); throws on a bad value. */
export function loadOptions(req: Pick<GenerateRequest, 'engine' | 'engines' | 'shard_weights' | 'allreduce_wire'>, group: string[], gflopsOf: (peer: string) => number | undefined):
  { engines: LlmEngineChoice[]; weights?: number[]; reduceWire: ReduceWire } {
  const tp = group.length;
  const reduceWire = req.allreduce_wire ?? 'f32';
  if (!isReduceWire(reduceWire)) throw new Error(`allreduce_wire must be "f32" or "i8", got ${JSON.stringify(req.allreduce_wire)}`);
  if (req.engines && req.engines.length !== tp) throw new Error(`engines names ${req.engines.length} engines for tensor_parallel_size=${tp}`);
  const engines = req.engines ?? new Array<LlmEngineChoice>(tp).fill(req.engine ?? 'auto');
  for (const e of engines) if (!LLM_ENGINES.includes(e)) throw new Error(`unknown engine "${String(e)}": use ${LLM_ENGINES.join(', ')}`);
  const w = req.shard_weights ?? 'even';
  if (w === 'even') return { engines, reduceWire };
  if (w === 'speed') {
    const weights = group.map((p) => gflopsOf(p) ?? 0);
    if (weights.some((x) => !(x > 0))) throw new Error('shard_weights "speed": a peer has no measured GFLOPS');
    return { engines, weights, reduceWire };
  }
  if (!Array.isArray(w) || w.length !== tp || w.some((x) => !(Number.isFinite(x) && x > 0)))
    throw new Error(`shard_weights must be 'even', 'speed' or ${tp} positive numbers`);
  return { engines, weights: [...w], reduceWire };
}

/** One peer's share of the session's LLM work, as the panel shows it. */
export interface PeerLlmStats {
  peer: string;
  rank: number;
  tp: number;
  engine: string; // wgsl | ort-wasm | ort-webgpu ('—' before the load reports)
  share: string; // e.g. "heads 0–3 of 8, hidden 0–511 of 1024"
  shard: string; // e.g. "heads 0–15 of 32, 1.2 GB"
  tokens: number; // tokens this peer has produced in the current / last generate
  tok_s: number; // tokens / (compute + all-reduce) of that generate
  compute_ms: number; // of the current / last generate
  allreduce_ms: number; // time inside collectives (includes waiting for slower ranks)
  allreduce_wire: string; // how prefill's all-reduces travel on this peer (its LoadInfo.reduceWire; '—' before the load reports)
  idle_ms: number; // since its model load finished, time outside any generate
}

export interface GenerateResponse {
  outputs: { text: string; token_ids: number[]; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: Record<string, number>;
  peers: string[];
  per_peer?: PeerLlmStats[];
}

/** What a peer's llm-generate job returns (GenerateResult of src/engines/generate.ts plus its split). */
export type PeerGenerateResult = GenerateResponse & { stats: { computeMs: number; commMs: number } };

export interface LlmFlowHooks {
  onLoadStart?(model: string, peers: number): void;
  onLoadProgress?(loaded: number, total: number): void;
  onStart?(jobId: string, group: string[]): void;
  /** Rank 0's streamed text so far. */
  onText?(text: string): void;
  /** Per-peer stats of the running group, on every stats event and at the end. */
  onPeerStats?(rows: PeerLlmStats[]): void;
}

export const MAX_SEQ_LEN = 1024; // KV cache positions requested per peer; each peer caps it by its own limits

interface PeerBook {
  loadedAt: number; // performance.now() when its current model finished loading
  activeMs: number; // generate time (compute + all-reduce) since then, finished jobs only
  info: LoadInfo;
  live: { tokens: number; computeMs: number; commMs: number };
}

export class LlmFlow {
  // Which model each peer holds (url + group), so a repeated request skips the load.
  private loadedOn = new Map<string, string>();
  private books = new Map<string, PeerBook>();
  current: string | null = null;

  constructor(private readonly ctx: { roster: Roster; runJob: RunJob; log: (line: string) => void }) {}

  /** The shard and live numbers of each member of `group` (rank order). */
  peerStats(group: string[], now = performance.now()): PeerLlmStats[] {
    return group.map((peer, rank) => {
      const b = this.books.get(peer);
      const c = b?.info.config;
      const tp = b?.info.tp ?? group.length;
      const sh = b?.info.share;
      const heads = sh ? `heads ${sh.heads[0]}–${sh.heads[1] - 1} of ${c!.nHeads}` : '';
      const shard = c && sh ? `${heads}, ${(b!.info.weightBytes / 1e9).toFixed(2)} GB` : '—';
      const share = c && sh ? `${heads}, hidden ${sh.hidden[0]}–${sh.hidden[1] - 1} of ${c.hiddenDim}` : '—';
      const live = b?.live ?? { tokens: 0, computeMs: 0, commMs: 0 };
      const busy = live.computeMs + live.commMs;
      const idle = b ? Math.max(0, now - b.loadedAt - b.activeMs - (this.current ? busy : 0)) : 0;
      return { peer, rank, tp, engine: b?.info.engine ?? '—', share, shard, tokens: live.tokens, tok_s: busy > 0 ? live.tokens / (busy / 1000) : 0, compute_ms: live.computeMs, allreduce_ms: live.commMs, allreduce_wire: b?.info.reduceWire ?? '—', idle_ms: idle };
    });
  }

  async generate(req: GenerateRequest, model: ModelRef, hooks: LlmFlowHooks = {}): Promise<GenerateResponse> {
    const { roster, runJob, log } = this.ctx;
    const tp = req.tensor_parallel_size ?? req.peers?.length ?? 1;
    let group: string[];
    if (req.peers) {
      const notFree = req.peers.filter((p) => roster.get(p)?.state !== 'ready');
      if (notFree.length) throw new Error(`peers ${notFree.map((p) => p.slice(-12)).join(', ')} are not free (busy or gone)`);
      if (req.peers.length !== tp) throw new Error(`tensor_parallel_size=${tp} but ${req.peers.length} peers were named`);
      group = [...req.peers];
    } else {
      group = roster.pick(tp);
    }
    if (group.length < tp) throw new Error(`tensor_parallel_size=${tp} needs ${tp} free peers; ${group.length} of ${roster.list().length} connected peers are free (the others are busy)`);
    const opts = loadOptions(req, group, (p) => roster.get(p)?.gflops);
    for (const p of group) roster.setState(p, 'busy'); // held from the load to the last token
    try {
      const key = `${model.url}|${group.join(',')}|${opts.engines.join(',')}|${opts.weights?.join(',') ?? 'even'}|${opts.reduceWire}`;
      const t0 = performance.now();
      if (!group.every((p) => this.loadedOn.get(p) === key)) {
        for (const p of group) {
          this.loadedOn.delete(p);
          this.books.delete(p);
        }
        log(`loading ${req.model} on ${group.length} peer(s)`);
        hooks.onLoadStart?.(req.model, group.length);
        const loads = new Map<string, [number, number]>();
        const h = runJob<LoadInfo>({ kind: 'llm-load', group, model, maxSeqLen: MAX_SEQ_LEN, engines: opts.engines, weights: opts.weights, reduceWire: opts.reduceWire }, (peer, ev) => {
          if (ev.kind !== 'progress') return;
          loads.set(peer, [ev.loaded, ev.total]);
          let a = 0, b = 0;
          for (const [l, t] of loads.values()) { a += l; b += t; }
          hooks.onLoadProgress?.(a, b);
        });
        const infos = await h.done;
        const now = performance.now();
        group.forEach((p, i) => {
          this.loadedOn.set(p, key);
          this.books.set(p, { loadedAt: now, activeMs: 0, info: infos[i], live: { tokens: 0, computeMs: 0, commMs: 0 } });
        });
      }
      const tLoad = performance.now() - t0;
      // Every rank samples on its own from identical logits: they must share one seed, so an unseeded
      // request gets its seed here, once, and the same value goes to every rank.
      const sampling = { ...req.sampling, seed: req.sampling?.seed ?? randomSeed() };
      for (const p of group) { const b = this.books.get(p); if (b) b.live = { tokens: 0, computeMs: 0, commMs: 0 }; }
      let text = '';
      hooks.onText?.('');
      const h = runJob<PeerGenerateResult>({ kind: 'llm-generate', group, model: { name: req.model, url: model.url }, prompt: req.prompt, sampling, messages: req.messages }, (peer, ev: JobEvent) => {
        if (ev.kind === 'stats') {
          const b = this.books.get(peer);
          if (b) b.live = { tokens: ev.tokens, computeMs: ev.computeMs, commMs: ev.commMs };
          hooks.onPeerStats?.(this.peerStats(group));
          return;
        }
        if (ev.kind !== 'token' || peer !== group[0]) return;
        text += ev.text;
        hooks.onText?.(text);
        req.onToken?.(ev);
      });
      this.current = h.jobId;
      hooks.onStart?.(h.jobId, group);
      let results: PeerGenerateResult[];
      try {
        results = await h.done;
      } finally {
        this.current = null;
      }
      const r0 = results[0];
      results.forEach((r, i) => {
        const b = this.books.get(group[i]);
        if (!b) return;
        // The job's own totals are exact; the last live event may be up to one period old.
        b.live = { tokens: r.outputs.reduce((n, o) => n + o.token_ids.length, 0), computeMs: r.stats.computeMs, commMs: r.stats.commMs };
        b.activeMs += r.stats.computeMs + r.stats.commMs;
      });
      const perPeer = this.peerStats(group);
      hooks.onPeerStats?.(perPeer);
      hooks.onText?.(r0.outputs[0]?.text ?? '');
      return { outputs: r0.outputs, usage: r0.usage, timings: { ...r0.timings, load_ms: tLoad, compute_ms: r0.stats.computeMs, allreduce_ms: r0.stats.commMs }, peers: group, per_peer: perPeer };
    } finally {
      for (const p of group) if (roster.has(p)) roster.setState(p, 'ready');
    }
  }
}
