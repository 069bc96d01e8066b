// Serving's configuration: Ray Serve's deployment options with their names and defaults, checked by
// resolveServeOptions when serve() starts, and the peer filter replicas are formed with (ineligibility,
// from ray_actor_options). The scheduler that uses them is ./serve.ts, which re-exports them.
import { isReduceWire, type ReduceWire } from '../collectives/types';

export type Feature = 'shader-f16' | 'subgroups';

export interface ServePeer {
  id: string;
  gflops: number;
  memoryBytes: number; // largest storage buffer binding: bounds the shard a peer can hold
  features: Feature[];
}

export interface ActorOptions {
  min_memory_bytes?: number;
  min_gflops?: number;
  required_features?: Feature[];
}

export interface ServeOptions {
  model: string;
  tensor_parallel_size?: number;
  max_batch_size?: number;
  batch_wait_timeout_ms?: number;
  max_ongoing_requests?: number;
  target_ongoing_requests?: number;
  health_check_period_ms?: number;
  health_check_timeout_ms?: number;
  min_replicas?: number;
  max_replicas?: number;
  ray_actor_options?: ActorOptions;
  /** How long a request (or serve() itself) waits while no replica exists before failing. */
  queue_timeout_ms?: number;
  /** Runs of one request before it fails (each fault re-queues it). */
  max_attempts?: number;
  /** Peers of a failed replica sit out this long, so a dead peer the roster has not dropped yet is not regrouped. */
  reform_delay_ms?: number;
  /** How a replica's prefill all-reduces travel (tensor_parallel_size > 1): 'f32' exact (default) or 'i8' (a quarter
   *  of the bytes, for peers on slow links; decode stays f32). See LoadRequest.reduceWire. */
  allreduce_wire?: ReduceWire;
}

export type ServeConfig = Required<Omit<ServeOptions, 'ray_actor_options'>> & { ray_actor_options: ActorOptions };

/** An error with the HTTP status the API reports it as. */
export class ServeError extends Error {
  override name = 'ServeError';
  constructor(message: string, readonly status: 400 | 404 | 499 | 500 | 503 = 500) {
    super(message);
  }
}

const FEATURES: Feature[] = ['shader-f16', 'subgroups'];

/** Ray Serve's defaults where it has them; checks every field and names the bad one. */
export function resolveServeOptions(o: ServeOptions): ServeConfig {
  const bad = (m: string): never => {
    throw new ServeError(m, 400);
  };
  if (!o || typeof o.model !== 'string' || !o.model) bad('serve: "model" must be a non-empty string');
  const c: ServeConfig = {
    model: o.model,
    tensor_parallel_size: o.tensor_parallel_size ?? 1,
    max_batch_size: o.max_batch_size ?? 1,
    batch_wait_timeout_ms: o.batch_wait_timeout_ms ?? 10,
    max_ongoing_requests: o.max_ongoing_requests ?? 5,
    target_ongoing_requests: o.target_ongoing_requests ?? 2,
    health_check_period_ms: o.health_check_period_ms ?? 10_000,
    health_check_timeout_ms: o.health_check_timeout_ms ?? 30_000,
    min_replicas: o.min_replicas ?? 1,
    max_replicas: o.max_replicas ?? Infinity,
    ray_actor_options: { ...o.ray_actor_options },
    queue_timeout_ms: o.queue_timeout_ms ?? 60_000,
    max_attempts: o.max_attempts ?? 3,
    reform_delay_ms: o.reform_delay_ms ?? 4_000,
    allreduce_wire: o.allreduce_wire ?? 'f32',
  };
  const ints: (keyof ServeConfig)[] = ['tensor_parallel_size', 'max_batch_size', 'max_ongoing_requests', 'max_attempts'];
  for (const k of ints) if (!Number.isInteger(c[k]) || (c[k] as number) < 1) bad(`serve: ${k} must be an integer >= 1, got ${String(c[k])}`);
  const nonNeg: (keyof ServeConfig)[] = ['batch_wait_timeout_ms', 'target_ongoing_requests', 'health_check_period_ms', 'health_check_timeout_ms', 'queue_timeout_ms', 'reform_delay_ms'];
  for (const k of nonNeg) if (typeof c[k] !== 'number' || !((c[k] as number) >= 0)) bad(`serve: ${k} must be a number >= 0, got ${String(c[k])}`);
  if (!Number.isInteger(c.min_replicas) || c.min_replicas < 0) bad(`serve: min_replicas must be an integer >= 0, got ${c.min_replicas}`);
  if (!(c.max_replicas >= Math.max(1, c.min_replicas))) bad(`serve: max_replicas (${c.max_replicas}) must be >= max(1, min_replicas)`);
  if (c.health_check_period_ms <= 0) bad('serve: health_check_period_ms must be > 0');
  if (!isReduceWire(c.allreduce_wire)) bad(`serve: allreduce_wire must be "f32" or "i8", got ${JSON.stringify(c.allreduce_wire)}`);
  for (const f of c.ray_actor_options.required_features ?? []) if (!FEATURES.includes(f)) bad(`serve: unknown feature "${f}" in ray_actor_options.required_features (known: ${FEATURES.join(', ')})`);
  return c;
}

/** Why a peer cannot be in a replica under these options, or null when it can. */
export function ineligibility(p: ServePeer, opts: ActorOptions): string | null {
  if (opts.min_memory_bytes !== undefined && p.memoryBytes < opts.min_memory_bytes) return `memory ${p.memoryBytes} < min_memory_bytes ${opts.min_memory_bytes}`;
  if (opts.min_gflops !== undefined && p.gflops < opts.min_gflops) return `${p.gflops.toFixed(1)} GFLOPS < min_gflops ${opts.min_gflops}`;
  const missing = (opts.required_features ?? []).filter((f) => !p.features.includes(f));
  return missing.length ? `lacks ${missing.join(', ')}` : null;
}
