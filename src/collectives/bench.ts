// Measurements for a browser page (or a loopback test): collective latency/throughput per size, and a raw
// link's round-trip time and bulk throughput. Every member of the group must run benchCollectives with the
// same arguments at the same time; benchLink needs nothing on the remote side (its Link answers by itself).
import type { Comm } from './types';
import { Tag } from '../transport/frame';
import { CONTROL_STREAM, type Mesh } from '../transport/mesh';

/** allReduceI8: allReduce with the int8 wire (ReduceWire 'i8'); `bytes` is still the f32 payload per rank. */
export type BenchOp = 'allReduce' | 'allReduceI8' | 'allGather' | 'broadcast';

export interface BenchRow {
  op: BenchOp;
  bytes: number; // payload per rank (allGather: each rank's contribution; broadcast: the root's data)
  n: number; // group size
  p50_ms: number; // median over reps of the slowest rank's time
  throughput_MBps: number; // bytes / p50, in 10^6 bytes per second
}

export interface BenchOptions {
  ops?: BenchOp[];
  warmup?: number; // untimed calls per (op, size); the first calls pay for allocation and JIT
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

const now = () => performance.now();

/** Times each op at each size (bytes, rounded down to whole floats) `reps` times; p50 over reps of the
 *  slowest rank's time, identical on every rank. */
export async function benchCollectives(
  comm: Comm & { barrier?: () => Promise<void> },
  sizes: number[],
  reps: number,
  opts: BenchOptions = {},
): Promise<BenchRow[]> {
  const ops = opts.ops ?? ['allReduce', 'allGather', 'broadcast'];
  const warmup = opts.warmup ?? 1;
  // Start every timed call together so one rank's lateness is not counted as the collective's time.
  const sync = async () => {
    if (comm.barrier) await comm.barrier();
    else await comm.allReduce(new Float32Array(1));
  };
  const rows: BenchRow[] = [];
  for (const op of ops) {
    for (const size of sizes) {
      const len = Math.floor(size / 4);
      const data = new Float32Array(len).fill(comm.rank + 1); // [len]
      const bytes = new Uint8Array(data.buffer); // [4*len]
      const call = (): Promise<unknown> => {
        if (op === 'allReduce') return comm.allReduce(data);
        if (op === 'allReduceI8') return comm.allReduce(data, 'i8');
        if (op === 'allGather') return comm.allGather(data);
        return comm.broadcast(comm.rank === 0 ? bytes : null, 0);
      };
      for (let i = 0; i < warmup; i++) await call();
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        await sync();
        const t0 = now();
        await call();
        times.push(now() - t0);
      }
      // A rank's own time can mislead (a broadcast root is done once its data is queued): take each rep's
      // slowest rank. Every rank then reports the same rows.
      const all = await comm.allGather(Float32Array.from(times)); // n x [reps]
      const slowest = times.map((_, i) => Math.max(...all.map((t) => t[i])));
      const p50 = percentile(slowest, 0.5);
      rows.push({ op, bytes: len * 4, n: comm.size, p50_ms: p50, throughput_MBps: (len * 4) / (p50 * 1e3) });
    }
  }
  return rows;
}

export interface LinkBenchResult {
  peer: string;
  rtt_p50_ms: number;
  rtt_p90_ms: number;
  bulk_bytes: number;
  bulk_p50_ms: number; // send start until the remote's Ack (one way transfer + one RTT)
  throughput_MBps: number;
}

export interface LinkBenchOptions {
  pings?: number;
  pingBytes?: number;
  bulkBytes?: number;
  bulkReps?: number;
  timeoutMs?: number;
}

const nextSeq = new WeakMap<Mesh, number>();

/** Round trip (Ping/Pong) and one-way bulk throughput (Probe/Ack) over the raw link to `peerId`. */
export async function benchLink(mesh: Mesh, peerId: string, opts: LinkBenchOptions = {}): Promise<LinkBenchResult> {
  const pings = opts.pings ?? 50;
  const pingBytes = opts.pingBytes ?? 8;
  const bulkBytes = opts.bulkBytes ?? 8 * 1024 * 1024;
  const bulkReps = opts.bulkReps ?? 3;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const exchange = async (tag: number, reply: number, payload: Uint8Array): Promise<number> => {
    const seq = nextSeq.get(mesh) ?? 0;
    nextSeq.set(mesh, (seq + 1) >>> 0);
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(new Error(`benchLink: ${peerId} did not answer in ${timeoutMs} ms`)), timeoutMs);
    try {
      const t0 = now();
      const answer = mesh.recv(peerId, { tag: reply, stream: CONTROL_STREAM, seq }, ctrl.signal);
      await Promise.all([answer, mesh.send(peerId, { tag, stream: CONTROL_STREAM, seq }, payload)]);
      return now() - t0;
    } finally {
      clearTimeout(timer);
      ctrl.abort(new Error('benchLink: done')); // withdraws the receive if the send failed first
    }
  };
  const small = new Uint8Array(pingBytes); // [pingBytes]
  const rtts: number[] = [];
  for (let i = 0; i < pings; i++) rtts.push(await exchange(Tag.Ping, Tag.Pong, small));
  const bulk = new Uint8Array(bulkBytes); // [bulkBytes]
  const bulkTimes: number[] = [];
  for (let i = 0; i < bulkReps; i++) bulkTimes.push(await exchange(Tag.Probe, Tag.Ack, bulk));
  const bulkP50 = percentile(bulkTimes, 0.5);
  return {
    peer: peerId,
    rtt_p50_ms: percentile(rtts, 0.5),
    rtt_p90_ms: percentile(rtts, 0.9),
    bulk_bytes: bulkBytes,
    bulk_p50_ms: bulkP50,
    throughput_MBps: bulkBytes / (bulkP50 * 1e3),
  };
}
