// Control messages between the coordinator page and peer pages (PeerJS 'json' connections).
// Tensor bytes never travel here: they use the raw data-channel mesh (src/transport).
import type { BenchOp } from '../collectives/bench';
import type { ReduceWire } from '../collectives/types';
import type { WireEnc } from '../parallel/patch-unet-wire';

export interface PeerReport {
  id: string;
  adapter: { vendor: string; architecture: string; description: string; isFallback: boolean };
  features: { shaderF16: boolean; subgroups: boolean };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number };
  gflops: number;
  userAgent: string;
  /** The engine 'auto' picks on this peer (absent from older peers: 'wgsl'); `adapter.vendor` is 'none' without WebGPU. */
  engine?: LlmEngineKind;
}

/** How a peer runs the LLM: WGSL kernels on WebGPU, or ONNX Runtime Web (wasm on the CPU, or its webgpu backend). */
export type LlmEngineKind = 'wgsl' | 'ort-wasm' | 'ort-webgpu';
export type LlmEngineChoice = LlmEngineKind | 'auto';
export const LLM_ENGINES: readonly LlmEngineChoice[] = ['auto', 'wgsl', 'ort-wasm', 'ort-webgpu'];

/** Where a peer computes its DistriFusion patches: WGSL on WebGPU, or plain JS (peers without WebGPU). */
export type ImageBackend = 'gpu' | 'cpu';

export interface RosterEntry extends PeerReport {
  rttMs: number | null;
  state: 'ready' | 'busy';
  lastSeen: number;
}

export type ToPeer =
  | { type: 'welcome'; sessionId: string; meshPeers: string[] }
  | { type: 'mesh'; peers: string[] }
  | { type: 'ping'; t: number }
  | { type: 'job'; jobId: string; job: Job }
  | { type: 'cancel'; jobId: string }
  | { type: 'file-data'; reqId: number; index: number; count: number; b64: string }
  | { type: 'file-error'; reqId: number; error: string };

export type ToCoordinator =
  | { type: 'hello'; report: PeerReport }
  | { type: 'pong'; t: number }
  | { type: 'job-progress'; jobId: string; event: JobEvent }
  | { type: 'job-done'; jobId: string; result: unknown }
  | { type: 'job-error'; jobId: string; error: string }
  | { type: 'fatal'; error: string }
  | { type: 'mesh-state'; connected: string[] }
  | { type: 'file-read'; reqId: number; name: string; start: number; end: number };

export type Job =
  | { kind: 'allreduce'; group: string[]; length: number; timeoutMs: number; delayPeer?: string; delayMs?: number }
  /** directMaxBytes: a communicator of its own with that allReduce threshold (an algorithm A/B); absent: the group's. */
  | { kind: 'bench-comm'; group: string[]; sizes: number[]; reps: number; directMaxBytes?: number; ops?: BenchOp[] }
  // backends: per rank, where that peer computes (a peer without WebGPU: 'cpu'); backend: every rank's, when backends is absent.
  | { kind: 'image'; group: string[]; model: ModelRef; seed: number; steps: number; sampler: 'ddpm' | 'ddim'; mode: 'full_sync' | 'corrected_async_gn' | 'stale_gn' | 'sync_gn' | 'no_sync'; warmupSteps: number; withSingle: boolean; label?: number; guidance?: number; backend?: ImageBackend; backends?: ImageBackend[]; commFree?: boolean; commDtype?: WireEnc }
  // maxBatchSize: KV-cache slots for continuous batching (serving); batchWaitMs: an idle replica's wait for companions.
  // engines: per rank ('auto' = the peer's own choice); weights: per-rank shares (proportional shards, src/parallel/hetero.ts).
  | { kind: 'llm-load'; group: string[]; model: ModelRef; maxSeqLen: number; maxBatchSize?: number; batchWaitMs?: number; engines?: LlmEngineChoice[]; weights?: number[]; reduceWire?: ReduceWire }
  // batched: run in the replica's continuous-batching loop (serving), keyed by the job number on every rank.
  // messages: a chat request, rendered by each peer with the GGUF's chat template (prompt is then '')
  | { kind: 'llm-generate'; group: string[]; model: ModelRef; prompt: string; sampling: Record<string, unknown>; batched?: boolean; messages?: { role: string; content: string }[] };

export interface ModelRef {
  name: string;
  /** Absolute URL (app server or any CORS host), fetched by HTTP Range; or `tabmesh-local:<name>` for
   *  a file picked on the coordinator, whose byte ranges peers request over the control connection. */
  url: string;
  size?: number; // bytes, for local files
}

export type JobEvent =
  | { kind: 'progress'; loaded: number; total: number; label: string }
  | { kind: 'token'; index: number; tokenId: number; text: string }
  | { kind: 'stats'; computeMs: number; commMs: number; tokens: number }
  // one DistriFusion step of one peer: its rows of the predicted image + its compute/wait split
  | { kind: 'image-step'; step: number; steps: number; rows: [number, number]; width: number; preview: number[]; startMs: number; computeMs: number; commWaitMs: number; sync: boolean };

/** What a peer reports for the allreduce job: enough to verify the sum on the coordinator. */
export interface AllReduceResult {
  rank: number;
  length: number;
  checksum: number; // sum of all elements of the result
  head: number[]; // first elements
  ms: number;
}

export const HEARTBEAT_PERIOD_MS = 1000; // one ping a second keeps the RTT column fresh at negligible cost
export const HEARTBEAT_TIMEOUT_MS = 3500; // > 3 missed pings: under the 5 s bound, tolerant of a GC pause

export const LOCAL_MODEL_SCHEME = 'tabmesh-local:';
/**
 * Raw bytes per file-data message. PeerJS's JSON connections refuse messages of 16300 bytes or more
 * (and report it as a connection error): 11 KiB is 15020 base64 characters plus a small envelope.
 * Fine for small models; large local files want a raw binary channel (left for later).
 */
export const FILE_CHUNK_BYTES = 11 * 1024;

/** The largest control message (JSON text) PeerJS's json connection delivers: bigger ones are dropped silently. */
export const MAX_CONTROL_MESSAGE_CHARS = 16_000;

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x2000) s += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
