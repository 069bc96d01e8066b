// The coordinator minus its UI: the session's PeerJS endpoint, the control connections to peers
// (hello / pong / job reports / local-file reads), the roster with heartbeats, the job table, and
// the small built-in jobs (allreduce test, bench-comm). Two shells use it: the coordinator page
// (web/coordinator.ts, which adds the DOM) and Node (bench/multi-gpu.ts, via coordinator.node.ts).
// PeerJS probes RTCPeerConnection at module load, so in Node import this module only after the
// browser globals are installed (headless.node.ts's installNodeGlobals).
import { Peer, type DataConnection } from 'peerjs';
import { coordinatorPeerId } from './ids';
import { FILE_CHUNK_BYTES, toBase64, HEARTBEAT_PERIOD_MS, type AllReduceResult, type ToCoordinator, type ToPeer } from './protocol';
import type { SignalingOptions } from './peer-agent';
import { Roster } from '../scheduler/roster';
import { Jobs, type RunJob } from '../scheduler/jobs';
import type { BenchOp } from '../collectives/bench';

export type { RunJob };

/** What the shell shows: signaling state, a peer's fatal error, log lines. */
export interface CoordinatorEvents {
  log(line: string): void;
  /** 'open': signaling connected; 'unreachable': the signaling server is gone (peers cannot join). */
  signaling?(state: 'open' | 'unreachable'): void;
  peerFatal?(peer: string, error: string): void;
}

export interface CoordinatorCoreOptions {
  sessionId: string;
  signaling: SignalingOptions;
  events: CoordinatorEvents;
  /** Silence after which a peer is dropped (default HEARTBEAT_TIMEOUT_MS). A bench whose peers are local
   *  processes may raise it: a headless peer loading a multi-GB shard can block its event loop for
   *  seconds, and a peer process that dies closes its connection, which drops it at once anyway. */
  heartbeatTimeoutMs?: number;
}

export interface CommBenchResult {
  n: number;
  rows: unknown[]; // BenchRow[] from src/collectives/bench.ts
  link: unknown; // LinkBenchResult | null (rank 0 -> rank 1 raw channel)
}

export interface CoordinatorCore {
  readonly sessionId: string;
  readonly roster: Roster;
  readonly jobs: Jobs;
  /** Local model files (the page's file input): peers read them range by range over the control channel. */
  readonly localFiles: Map<string, Blob>;
  runJob: RunJob;
  cancel(jobId: string): void;
  /** Resolves once signaling is open (rejects if the signaling server cannot be reached). */
  ready: Promise<void>;
  allReduceTest(opts?: { length?: number; peers?: string[]; timeoutMs?: number; delayPeer?: string; delayMs?: number }): Promise<{ ok: boolean; expected: number; results: AllReduceResult[] }>;
  benchComm(opts?: { peers?: string[]; sizes?: number[]; reps?: number; directMaxBytes?: number; ops?: BenchOp[] }): Promise<CommBenchResult>;
  /** Ends the session: peers see their control connection close. */
  close(): void;
}

export function startCoordinatorCore(opts: CoordinatorCoreOptions): CoordinatorCore {
  const { sessionId, events } = opts;
  const log = (line: string) => events.log(line);
  const roster = new Roster();
  const conns = new Map<string, DataConnection>();
  const send = (id: string, msg: ToPeer): boolean => {
    const c = conns.get(id);
    if (!c || !c.open) return false;
    c.send(msg);
    return true;
  };
  const jobs = new Jobs(send);

  const broadcastMesh = (): void => {
    const ids = roster.ids();
    for (const id of ids) send(id, { type: 'mesh', peers: ids });
  };
  const dropPeer = (id: string, why: string): void => {
    conns.get(id)?.close();
    conns.delete(id);
    if (roster.remove(id)) {
      log(`peer ${id.slice(-12)} left (${why})`);
      broadcastMesh();
    }
    jobs.peerLeft(id);
  };

  let resolveReady: () => void = () => undefined;
  let rejectReady: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  ready.catch(() => undefined); // the page never awaits it; an unhandled rejection would only be noise

  const peer = new Peer(coordinatorPeerId(sessionId), opts.signaling);
  peer.on('open', () => {
    events.signaling?.('open');
    resolveReady();
  });
  peer.on('error', (err) => {
    const type = (err as { type?: string }).type ?? '';
    if (['network', 'server-error', 'socket-error', 'socket-closed'].includes(type)) {
      events.signaling?.('unreachable');
      rejectReady(new Error(`signaling server unreachable (${type})`));
    } else if (type !== 'peer-unavailable') {
      log(`signaling error: ${type} ${err.message}`);
    }
  });
  peer.on('connection', (conn) => {
    if (conn.label !== 'control') return void conn.close();
    conn.on('data', (raw) => {
      const msg = raw as ToCoordinator;
      const now = performance.now();
      switch (msg.type) {
        case 'hello':
          if (msg.report.id !== conn.peer) return void conn.close();
          conns.set(conn.peer, conn);
          roster.add(msg.report, now);
          log(`peer ${conn.peer.slice(-12)} joined: ${msg.report.adapter.vendor} ${msg.report.adapter.architecture}, engine ${msg.report.engine ?? 'wgsl'}, ${msg.report.gflops.toFixed(1)} GFLOPS`);
          send(conn.peer, { type: 'welcome', sessionId, meshPeers: roster.ids() });
          broadcastMesh();
          break;
        case 'pong':
          roster.seen(conn.peer, now, now - msg.t);
          break;
        case 'job-progress':
          roster.seen(conn.peer, now);
          jobs.event(conn.peer, msg.jobId, msg.event);
          break;
        case 'job-done':
          jobs.done(conn.peer, msg.jobId, msg.result);
          break;
        case 'job-error':
          jobs.error(conn.peer, msg.jobId, msg.error);
          break;
        case 'fatal':
          events.peerFatal?.(conn.peer, msg.error);
          dropPeer(conn.peer, msg.error);
          break;
        case 'mesh-state':
          break;
        case 'file-read':
          void serveFileRange(conn.peer, msg);
          break;
      }
    });
    conn.on('close', () => dropPeer(conn.peer, 'connection closed'));
    conn.on('error', () => dropPeer(conn.peer, 'connection error'));
  });

  // Heartbeats: ping everyone each period; a peer silent past the timeout leaves the roster.
  const heartbeat = setInterval(() => {
    const now = performance.now();
    for (const id of roster.stale(now, opts.heartbeatTimeoutMs)) dropPeer(id, 'heartbeat timeout');
    for (const id of roster.ids()) send(id, { type: 'ping', t: now });
  }, HEARTBEAT_PERIOD_MS);

  const localFiles = new Map<string, Blob>();
  const serveFileRange = async (peerId: string, m: { reqId: number; name: string; start: number; end: number }): Promise<void> => {
    const f = localFiles.get(m.name);
    if (!f || m.start < 0 || m.end > f.size || m.end < m.start) {
      send(peerId, { type: 'file-error', reqId: m.reqId, error: f ? `bad range [${m.start}, ${m.end}) of ${m.name}` : `no local file named ${m.name} on the coordinator` });
      return;
    }
    const bytes = new Uint8Array(await f.slice(m.start, m.end).arrayBuffer()); // [end - start]
    const count = Math.max(1, Math.ceil(bytes.length / FILE_CHUNK_BYTES));
    for (let i = 0; i < count; i++) {
      send(peerId, { type: 'file-data', reqId: m.reqId, index: i, count, b64: toBase64(bytes.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES)) });
    }
  };

  const runJob: RunJob = (job, onEvent) => jobs.start(job, onEvent);

  return {
    sessionId,
    roster,
    jobs,
    localFiles,
    runJob,
    cancel: (id) => jobs.cancel(id),
    ready,
    async allReduceTest(o = {}) {
      const group = o.peers ?? roster.ids().sort();
      const length = o.length ?? 1024;
      const h = runJob<AllReduceResult>({ kind: 'allreduce', group, length, timeoutMs: o.timeoutMs ?? 10_000, delayPeer: o.delayPeer, delayMs: o.delayMs });
      const results = await h.done;
      // Rank r contributes (r+1)*((i%7)+1), so the exact sum is n(n+1)/2 * sum_i((i%7)+1).
      const n = group.length;
      let base = 0;
      for (let i = 0; i < length; i++) base += (i % 7) + 1;
      const expected = ((n * (n + 1)) / 2) * base;
      return { ok: results.every((r) => r.checksum === expected), expected, results };
    },
    async benchComm(o = {}) {
      const group = o.peers ?? roster.ids().sort();
      const sizes = o.sizes ?? [4096, 65536, 1 << 20, 16 << 20];
      const h = runJob<{ rows: unknown[]; link: unknown }>({ kind: 'bench-comm', group, sizes, reps: o.reps ?? 5, directMaxBytes: o.directMaxBytes, ops: o.ops });
      const res = await h.done;
      return { n: group.length, rows: res[0].rows, link: res[0].link };
    },
    close() {
      clearInterval(heartbeat);
      for (const c of conns.values()) c.close();
      conns.clear();
      peer.destroy();
    },
  };
}
