// Control messages between the coordinator page and peer pages (PeerJS 'json' connections).
// Tensor bytes never travel here: they use the raw data-channel mesh (src/transport).

export interface PeerReport {
  id: string;
  adapter: { vendor: string; architecture: string; description: string; isFallback: boolean };
  features: { shaderF16: boolean; subgroups: boolean };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number };
  gflops: number;
  userAgent: string;
}

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
  | { type: 'cancel'; jobId: string };

export type ToCoordinator =
  | { type: 'hello'; report: PeerReport }
  | { type: 'pong'; t: number }
  | { type: 'job-progress'; jobId: string; event: JobEvent }
  | { type: 'job-done'; jobId: string; result: unknown }
  | { type: 'job-error'; jobId: string; error: string }
  | { type: 'fatal'; error: string }
  | { type: 'mesh-state'; connected: string[] };

export type Job =
  | { kind: 'allreduce'; group: string[]; length: number; timeoutMs: number; delayPeer?: string; delayMs?: number }
  | { kind: 'bench-comm'; group: string[]; sizes: number[]; reps: number }
  | { kind: 'image'; group: string[]; model: ModelRef; seed: number; steps: number; sampler: 'ddpm' | 'ddim'; mode: 'full_sync' | 'corrected_async_gn' | 'stale_gn' | 'sync_gn' | 'no_sync'; warmupSteps: number; withSingle: boolean }
  | { kind: 'llm-load'; group: string[]; model: ModelRef; maxSeqLen: number }
  | { kind: 'llm-generate'; group: string[]; model: ModelRef; prompt: string; sampling: Record<string, unknown> };

export interface ModelRef {
  name: string;
  url: string; // absolute URL (app server or any CORS host), fetched by HTTP Range
}

export type JobEvent =
  | { kind: 'progress'; loaded: number; total: number; label: string }
  | { kind: 'token'; index: number; tokenId: number; text: string }
  | { kind: 'stats'; computeMs: number; commMs: number; tokens: number };

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
