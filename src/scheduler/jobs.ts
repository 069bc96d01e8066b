// Jobs the coordinator runs on a group of peers: every member gets the same job (SPMD), and the
// job settles when every member reports done, or fails at the first error or departure.
import type { Job, JobEvent } from '../session/protocol';

export interface JobHandle<R> {
  jobId: string;
  group: string[];
  done: Promise<R[]>; // one result per member, in group (rank) order
}

interface Pending {
  group: string[];
  results: Map<string, unknown>;
  resolve: (r: unknown[]) => void;
  reject: (e: Error) => void;
  onEvent?: (peer: string, ev: JobEvent) => void;
}

/** Starts `job` on its group (Jobs.start bound to a coordinator's connections). */
export type RunJob = <R>(job: Job & { group: string[] }, onEvent?: (peer: string, ev: JobEvent) => void) => JobHandle<R>;

export class JobError extends Error {
  constructor(message: string, readonly peer?: string) {
    super(message);
    this.name = 'JobError';
  }
}

export class Jobs {
  private pending = new Map<string, Pending>();
  private next = 1;

  constructor(private send: (peer: string, msg: { type: 'job'; jobId: string; job: Job } | { type: 'cancel'; jobId: string }) => boolean) {}

  start<R>(job: Job & { group: string[] }, onEvent?: (peer: string, ev: JobEvent) => void): JobHandle<R> {
    const jobId = `j${this.next++}`;
    const done = new Promise<R[]>((resolve, reject) => {
      this.pending.set(jobId, { group: job.group, results: new Map(), resolve: resolve as (r: unknown[]) => void, reject, onEvent });
    });
    for (const peer of job.group) {
      if (!this.send(peer, { type: 'job', jobId, job })) this.fail(jobId, new JobError(`peer ${peer} is not connected`, peer));
    }
    return { jobId, group: job.group, done };
  }

  cancel(jobId: string): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    for (const peer of p.group) this.send(peer, { type: 'cancel', jobId });
  }

  event(peer: string, jobId: string, ev: JobEvent): void {
    this.pending.get(jobId)?.onEvent?.(peer, ev);
  }

  done(peer: string, jobId: string, result: unknown): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    p.results.set(peer, result);
    if (p.results.size === p.group.length) {
      this.pending.delete(jobId);
      p.resolve(p.group.map((g) => p.results.get(g)));
    }
  }

  error(peer: string, jobId: string, error: string): void {
    this.fail(jobId, new JobError(`peer ${peer}: ${error}`, peer));
  }

  /** A peer left: every job it was part of fails, naming it. */
  peerLeft(peer: string): void {
    for (const [jobId, p] of this.pending) {
      if (p.group.includes(peer)) this.fail(jobId, new JobError(`peer ${peer} left during the job`, peer));
    }
  }

  private fail(jobId: string, e: Error): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    this.pending.delete(jobId);
    for (const peer of p.group) this.send(peer, { type: 'cancel', jobId });
    p.reject(e);
  }

  active(): number {
    return this.pending.size;
  }
}
