// Serving (Ray Serve style) on browser peers: the pure scheduling state machine, free of DOM,
// PeerJS and jobs so every decision is testable with explicit events.
// - Replicas: groups of tensor_parallel_size eligible peers (ray_actor_options filter them), formed
//   from peers sorted by speed and memory so a group pairs similar peers, between min/max replicas.
// - One FIFO queue (ordered by submission): a request goes to the least-loaded ready replica with
//   fewer than max_ongoing_requests assigned. A replica runs its assigned requests together, in
//   submission order, as long as their completions (n each) fit max_batch_size slots: the peers' batch
//   loop (src/engines/batch-loop.ts) decodes them in one batched forward per step and refills a
//   finished sequence's slot at the next step; the scheduler starts the next assigned request as soon
//   as a running one finishes. batch_wait_timeout_ms is applied by that loop: an idle replica waits that
//   long for companions before its first step. A request with n > max_batch_size runs alone (the loop
//   queues its extra completions). An idle replica steals a waiting request from a full one.
// - Faults: a peer leaving, a failed job or a stalled replica dissolves the replica and puts its
//   requests back in the queue at their original place; a stale attempt's events are ignored, so a
//   request finishes exactly once. Re-run streams skip the tokens already delivered: with a fixed
//   seed the re-run produces the same tokens, so a streaming client sees one uninterrupted text.
// The owner turns commands (load/run/cancel/abandon) into jobs and reports back with loaded(),
// loadFailed(), token(), finished() and runFailed().

import { ineligibility, resolveServeOptions, ServeError, type ServeConfig, type ServeOptions, type ServePeer } from './serve-options';

export { ineligibility, resolveServeOptions, ServeError, type ActorOptions, type Feature, type ServeConfig, type ServeOptions, type ServePeer } from './serve-options';

export interface TokenEvent { index: number; tokenId: number; text: string }

export type RequestState = 'queued' | 'assigned' | 'running' | 'done' | 'failed' | 'cancelled';
export type ReplicaState = 'loading' | 'ready' | 'dead';

export type ServeCommand<Req> =
  | { type: 'load'; replica: string; peers: string[] }
  | { type: 'run'; replica: string; peers: string[]; request: string; attempt: number; payload: Req; slots: number }
  | { type: 'cancel'; replica: string; request: string; attempt: number }
  | { type: 'abandon'; replica: string; peers: string[]; reason: string };

export interface ServeEvent { t: number; kind: 'replica-loading' | 'replica-ready' | 'replica-dead' | 'requeue' | 'request-failed' | 'request-done'; message: string }

export interface RequestInfo {
  id: string; seq: number; label: string; state: RequestState; position: number | null; replica: string | null;
  attempts: number; tokens: number; submittedAt: number; finishedAt: number | null; error: string | null;
}
export interface ReplicaInfo {
  id: string; peers: string[]; state: ReplicaState; ongoing: number;
  running: string | null; // the oldest running request
  batch: string[]; // every running request (they decode together)
  slots: number; // KV-cache slots they occupy (<= max_batch_size unless one request alone needs more)
  peakBatch: number; // most requests that ever ran together on this replica (batch is only the current ones)
  completed: number; gflops: number; reason: string | null;
}

interface Req<P, R> {
  id: string; seq: number; label: string; payload: P; state: RequestState; replica: string | null;
  attempt: number; delivered: number[]; seen: number[]; waitingSince: number; lastProgress: number; slots: number;
  submittedAt: number; finishedAt: number | null; error: string | null;
  onToken?: (ev: TokenEvent) => void; resolve: (r: R) => void; reject: (e: Error) => void;
}
interface Replica { id: string; peers: string[]; state: ReplicaState; assigned: string[]; running: string[]; peakBatch: number; completed: number; reason: string | null }

export class ServeScheduler<P, R> {
  readonly config: ServeConfig;
  private peers = new Map<string, ServePeer>();
  private coolUntil = new Map<string, number>(); // peer -> time it may join a replica again
  private unhealthy = new Map<string, string>(); // stalled peers: out until they leave (a reload rejoins as a new peer)
  private reps = new Map<string, Replica>();
  private reqs = new Map<string, Req<P, R>>();
  private queue: string[] = []; // request ids, ascending seq
  private nextReq = 1;
  private nextRep = 1;
  private noReplicaSince: number;
  private lastLoadError: string | null = null;
  private stopped = false;
  private listeners = new Set<() => void>();
  private eventListeners = new Set<(e: ServeEvent) => void>();
  readonly log: ServeEvent[] = [];
  /** Results or failures that arrived for an attempt that was no longer current (ignored). */
  staleReports = 0;

  constructor(options: ServeOptions, private command: (c: ServeCommand<P>) => void, private now: () => number = () => performance.now()) {
    this.config = resolveServeOptions(options);
    this.noReplicaSince = now();
  }

  onChange(cb: () => void): () => void { this.listeners.add(cb); return () => this.listeners.delete(cb); }
  onEvent(cb: (e: ServeEvent) => void): () => void { this.eventListeners.add(cb); return () => this.eventListeners.delete(cb); }

  // ---- peers ----
  peerJoined(p: ServePeer): void {
    this.peersJoined([p]);
  }

  /** Several peers at once (serve() start): grouped together, so similar peers pair up. A peer
   *  joining later is grouped with whichever free peers remain, so serving scales up at once. */
  peersJoined(list: ServePeer[]): void {
    for (const p of list) this.peers.set(p.id, p);
    this.form();
    this.changed();
  }

  peerLeft(id: string): void {
    this.peers.delete(id);
    this.coolUntil.delete(id);
    this.unhealthy.delete(id);
    for (const r of this.reps.values()) if (r.state !== 'dead' && r.peers.includes(id)) this.dissolve(r, `peer ${id} left`);
    this.form();
    this.changed();
  }

  // ---- requests ----
  /** `slots`: KV-cache slots the request occupies while it runs (its number of completions n). */
  submit(payload: P, opts: { onToken?: (ev: TokenEvent) => void; label?: string; slots?: number } = {}): { id: string; done: Promise<R> } {
    if (this.stopped) throw new ServeError('serving is stopped', 503);
    const seq = this.nextReq++;
    const id = `q${seq}`;
    const t = this.now();
    let resolve!: (r: R) => void, reject!: (e: Error) => void;
    const done = new Promise<R>((a, b) => { resolve = a; reject = b; });
    const slots = Math.max(1, Math.floor(opts.slots ?? 1));
    this.reqs.set(id, { id, seq, label: opts.label ?? '', payload, state: 'queued', replica: null, attempt: 0, delivered: [], seen: [], waitingSince: t, lastProgress: t, slots, submittedAt: t, finishedAt: null, error: null, onToken: opts.onToken, resolve, reject });
    this.queue.push(id);
    this.dispatch();
    this.changed();
    return { id, done };
  }

  cancel(id: string): boolean {
    const q = this.reqs.get(id);
    if (!q || q.state === 'done' || q.state === 'failed' || q.state === 'cancelled') return false;
    if (q.state === 'running') {
      // The run ends with finish_reason 'abort' and reports finished() like any other.
      this.command({ type: 'cancel', replica: q.replica!, request: id, attempt: q.attempt });
      return true;
    }
    this.unassign(q);
    this.settle(q, 'cancelled', new ServeError(`request ${id} was cancelled`, 499));
    this.dispatch();
    return true;
  }

  // ---- reports from the owner ----
  loaded(replica: string): void {
    const r = this.reps.get(replica);
    if (!r || r.state !== 'loading') return;
    r.state = 'ready';
    this.lastLoadError = null;
    this.emit('replica-ready', `${r.id} ready on ${r.peers.join(', ')}`);
    this.dispatch();
    this.changed();
  }

  loadFailed(replica: string, error: string): void {
    const r = this.reps.get(replica);
    if (!r || r.state !== 'loading') return;
    this.lastLoadError = error;
    this.dissolve(r, `load failed: ${error}`);
    this.form();
    this.changed();
  }

  token(request: string, attempt: number, ev: TokenEvent): void {
    const q = this.reqs.get(request);
    if (!q || q.attempt !== attempt || q.state !== 'running') return;
    q.lastProgress = this.now();
    // A re-run repeats the tokens a failed attempt already streamed (same seed): skip those.
    const seen = (q.seen[ev.index] = (q.seen[ev.index] ?? 0) + 1);
    if (seen <= (q.delivered[ev.index] ?? 0)) return;
    q.delivered[ev.index] = seen;
    q.onToken?.(ev);
    this.changed();
  }

  finished(request: string, attempt: number, result: R): void {
    const q = this.reqs.get(request);
    if (!q || q.attempt !== attempt || q.state !== 'running') return void this.staleReports++;
    const r = this.reps.get(q.replica!);
    this.unassign(q);
    if (r) r.completed++;
    this.settle(q, 'done', null, result);
    this.emit('request-done', `${q.id} done on ${r?.id ?? '?'} (attempt ${q.attempt})`);
    this.dispatch();
  }

  /** `fault`: a peer or replica failure (re-queue, dissolve the replica); else the request's own error (fail it). */
  runFailed(request: string, attempt: number, error: string, fault: boolean): void {
    const q = this.reqs.get(request);
    if (!q || q.attempt !== attempt || q.state !== 'running') return void this.staleReports++;
    const r = this.reps.get(q.replica!)!;
    if (!fault) {
      this.unassign(q);
      this.settle(q, 'failed', new ServeError(error, 400));
      this.dispatch();
      return;
    }
    this.dissolve(r, error);
    this.form();
    this.changed();
  }

  /** Health checks and timeouts; call every health_check_period_ms. */
  tick(): void {
    const t = this.now();
    for (const r of this.reps.values()) {
      if (r.state !== 'ready' || !r.running.length) continue;
      // A batch progresses together: the replica is stalled only if none of its requests moved.
      const last = Math.max(...r.running.map((id) => this.reqs.get(id)!.lastProgress));
      if (t - last > this.config.health_check_timeout_ms) {
        for (const p of r.peers) this.unhealthy.set(p, `stalled in ${r.id}`);
        this.dissolve(r, `health check: no progress for ${Math.round(t - last)} ms (timeout ${this.config.health_check_timeout_ms} ms)`);
      }
    }
    this.form();
    if (this.live().length === 0) {
      const why = this.formationBlocker();
      for (const id of [...this.queue]) {
        const q = this.reqs.get(id)!;
        if (t - Math.max(q.waitingSince, this.noReplicaSince) >= this.config.queue_timeout_ms) {
          this.settle(q, 'failed', new ServeError(`no replica available for ${Math.round(t - q.waitingSince)} ms: ${why}`, 503));
          this.emit('request-failed', `${q.id} failed: ${why}`);
        }
      }
    }
    this.changed();
  }

  /** Fail every waiting request and dissolve every replica. */
  stop(reason = 'serving stopped'): void {
    this.stopped = true;
    for (const r of this.reps.values()) if (r.state !== 'dead') this.dissolve(r, reason, false);
    for (const id of [...this.queue]) this.settle(this.reqs.get(id)!, 'failed', new ServeError(reason, 503));
    this.changed();
  }

  // ---- views ----
  replicas(): ReplicaInfo[] {
    return [...this.reps.values()].map((r) => ({ id: r.id, peers: [...r.peers], state: r.state, ongoing: r.assigned.length, running: r.running[0] ?? null, batch: [...r.running], slots: this.slotsOf(r), peakBatch: r.peakBatch, completed: r.completed, gflops: this.gflops(r.peers), reason: r.reason }));
  }

  request(id: string): RequestInfo | undefined {
    const q = this.reqs.get(id);
    if (!q) return undefined;
    const pos = this.queue.indexOf(id);
    return { id, seq: q.seq, label: q.label, state: q.state, position: pos < 0 ? null : pos, replica: q.replica, attempts: q.attempt, tokens: q.delivered.reduce((a, b) => a + b, 0), submittedAt: q.submittedAt, finishedAt: q.finishedAt, error: q.error };
  }

  requests(): RequestInfo[] {
    return [...this.reqs.keys()].map((id) => this.request(id)!);
  }

  /** Forget settled requests beyond the newest `keep` (the page keeps a bounded history). */
  prune(keep: number): void {
    const settled = [...this.reqs.values()].filter((q) => q.finishedAt !== null);
    for (const q of settled.slice(0, Math.max(0, settled.length - keep))) this.reqs.delete(q.id);
  }

  /** Why no (more) replica can be formed now, in words. */
  formationBlocker(): string {
    const tp = this.config.tensor_parallel_size;
    const t = this.now();
    const reasons: string[] = [];
    let ok = 0;
    for (const p of this.peers.values()) {
      if (this.inReplica(p.id)) continue;
      const why = this.unhealthy.get(p.id) ?? ineligibility(p, this.config.ray_actor_options) ?? ((this.coolUntil.get(p.id) ?? 0) > t ? 'cooling down after a fault' : null);
      if (why) reasons.push(`${p.id}: ${why}`);
      else ok++;
    }
    let s = `tensor_parallel_size=${tp} needs ${tp} free eligible peers, ${ok} available (${this.peers.size} connected)`;
    if (reasons.length) s += `; ${reasons.join('; ')}`;
    if (this.lastLoadError) s += `; last load error: ${this.lastLoadError}`;
    return s;
  }

  // ---- internals ----
  private live(): Replica[] {
    return [...this.reps.values()].filter((r) => r.state !== 'dead');
  }

  private inReplica(peer: string): boolean {
    return this.live().some((r) => r.peers.includes(peer));
  }

  private gflops(peers: string[]): number {
    return peers.reduce((a, p) => a + (this.peers.get(p)?.gflops ?? 0), 0);
  }

  /** Group free eligible peers into new replicas: sorted by speed then memory, so neighbours are alike. */
  private form(): void {
    if (this.stopped) return;
    const t = this.now();
    const tp = this.config.tensor_parallel_size;
    const pool = [...this.peers.values()]
      .filter((p) => !this.inReplica(p.id) && !this.unhealthy.has(p.id) && (this.coolUntil.get(p.id) ?? 0) <= t && ineligibility(p, this.config.ray_actor_options) === null)
      .sort((a, b) => b.gflops - a.gflops || b.memoryBytes - a.memoryBytes || a.id.localeCompare(b.id));
    while (pool.length >= tp && this.live().length < this.config.max_replicas) {
      const group = pool.splice(0, tp).map((p) => p.id);
      const r: Replica = { id: `r${this.nextRep++}`, peers: group, state: 'loading', assigned: [], running: [], peakBatch: 0, completed: 0, reason: null };
      this.reps.set(r.id, r);
      this.noReplicaSince = Infinity;
      this.emit('replica-loading', `${r.id} loading ${this.config.model} on ${group.join(', ')}`);
      this.command({ type: 'load', replica: r.id, peers: group });
    }
  }

  private dissolve(r: Replica, reason: string, requeue = true): void {
    r.state = 'dead';
    r.reason = reason;
    const t = this.now();
    for (const p of r.peers) if (this.peers.has(p)) this.coolUntil.set(p, t + this.config.reform_delay_ms);
    this.emit('replica-dead', `${r.id} dissolved: ${reason}`);
    this.command({ type: 'abandon', replica: r.id, peers: [...r.peers], reason });
    const orphans = r.assigned.map((id) => this.reqs.get(id)!);
    r.assigned = [];
    r.running = [];
    for (const q of orphans) {
      q.replica = null;
      if (!requeue) continue;
      if (q.attempt >= this.config.max_attempts) {
        this.settle(q, 'failed', new ServeError(`failed after ${q.attempt} attempts; last: ${reason}`, 503));
        continue;
      }
      q.state = 'queued';
      q.waitingSince = t;
      this.enqueue(q);
      this.emit('requeue', `${q.id} re-queued (attempt ${q.attempt} on ${r.id} lost: ${reason})`);
    }
    if (this.live().length === 0) this.noReplicaSince = t;
    this.dispatch();
  }

  /** Back into the queue at its original place: the queue stays in submission order. */
  private enqueue(q: Req<P, R>): void {
    let i = this.queue.length;
    while (i > 0 && this.reqs.get(this.queue[i - 1])!.seq > q.seq) i--;
    this.queue.splice(i, 0, q.id);
  }

  private unassign(q: Req<P, R>): void {
    const qi = this.queue.indexOf(q.id);
    if (qi >= 0) this.queue.splice(qi, 1);
    const r = q.replica ? this.reps.get(q.replica) : undefined;
    if (r) {
      r.assigned = r.assigned.filter((x) => x !== q.id);
      r.running = r.running.filter((x) => x !== q.id);
    }
    q.replica = null;
  }

  private settle(q: Req<P, R>, state: RequestState, err: Error | null, result?: R): void {
    if (q.finishedAt !== null) return; // exactly once
    this.unassign(q);
    q.state = state;
    q.finishedAt = this.now();
    q.error = err?.message ?? null;
    if (err) q.reject(err);
    else q.resolve(result as R);
    this.changed();
  }

  private dispatch(): void {
    const ready = () => [...this.reps.values()].filter((r) => r.state === 'ready');
    while (this.queue.length) {
      const cands = ready().filter((r) => r.assigned.length < this.config.max_ongoing_requests);
      if (!cands.length) break;
      cands.sort((a, b) => a.assigned.length - b.assigned.length || this.gflops(b.peers) - this.gflops(a.peers) || a.id.localeCompare(b.id));
      const r = cands[0];
      const q = this.reqs.get(this.queue.shift()!)!;
      q.state = 'assigned';
      q.replica = r.id;
      r.assigned.push(q.id);
    }
    const waiting = (r: Replica) => r.assigned.filter((id) => !r.running.includes(id));
    // Start assigned requests in order while their slots fit the batch (continuous batching: a slot
    // freed by a finished request is taken by the next one at once). Strict order: a big request at
    // the head is not overtaken by smaller ones behind it, so it cannot starve.
    const start = () => {
      for (const r of ready()) {
        for (const id of waiting(r)) {
          const q = this.reqs.get(id)!;
          const used = this.slotsOf(r);
          if (used > 0 && used + q.slots > this.config.max_batch_size) break;
          r.running.push(q.id);
          r.peakBatch = Math.max(r.peakBatch, r.running.length);
          q.state = 'running';
          q.attempt++;
          q.seen = [];
          q.lastProgress = this.now();
          this.command({ type: 'run', replica: r.id, peers: [...r.peers], request: q.id, attempt: q.attempt, payload: q.payload, slots: q.slots });
        }
      }
    };
    start();
    // What still waits sits behind a full batch: an idle replica takes the newest waiting request of
    // the replica with the most waiting instead of leaving it behind long generations.
    for (const idle of ready().filter((r) => r.assigned.length === 0)) {
      const donor = ready().filter((r) => waiting(r).length > 0).sort((a, b) => waiting(b).length - waiting(a).length)[0];
      if (!donor) break;
      const id = waiting(donor).at(-1)!;
      donor.assigned = donor.assigned.filter((x) => x !== id);
      this.reqs.get(id)!.replica = idle.id;
      idle.assigned.push(id);
    }
    start();
    this.changed();
  }

  private slotsOf(r: Replica): number {
    return r.running.reduce((a, id) => a + this.reqs.get(id)!.slots, 0);
  }

  private emit(kind: ServeEvent['kind'], message: string): void {
    const e = { t: this.now(), kind, message };
    this.log.push(e);
    if (this.log.length > 500) this.log.shift();
    for (const cb of this.eventListeners) cb(e);
  }

  private changed(): void {
    for (const cb of this.listeners) cb();
  }
}
