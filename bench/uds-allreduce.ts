// Two-process micro-bench of the same-host data plane: allReduce over a Unix socket between two Node
// processes, built exactly as src/session/peer-mesh.ts builds a same-host link (UdsChannel -> Mesh.addLink
// with udsLinkOptions -> GroupComm), against the floor of the raw socket moving the same bytes.
// Per size (default 8 KB, 256 KB, 1 MiB, 4 MiB of f32), p50/p10/p90 over REPS calls of:
//   allreduce   GroupComm.allReduce (n=2: direct, both ranks send V and sum)
//   raw_xchg    both processes write V bytes on a plain socket and wait for the other's V (allReduce's floor)
//   raw_rtt     rank 0 writes V, rank 1 echoes V back once it has all of it (a one-way pair)
// Why two sockets: the raw phase and the Link must not read each other's bytes.
// Run: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/uds-allreduce.ts', 'bench/out/uds-allreduce.mjs'))"
//   && node bench/out/uds-allreduce.mjs     (it forks itself as rank 1: `… child <socket path>`)
// Env: SIZES=8192,262144,1048576,4194304  REPS=50  WARMUP=5. Prints one JSON line (and a table on stderr).
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Mesh } from '../src/transport/mesh';
import { GroupComm } from '../src/collectives/group';
import { UdsChannel, udsLinkOptions } from '../src/transport/uds-channel.node';

const SIZES = (process.env.SIZES ?? '8192,262144,1048576,4194304').split(',').map(Number);
const REPS = Number(process.env.REPS ?? 50);
const WARMUP = Number(process.env.WARMUP ?? 5);
const IDS = ['rank0', 'rank1'];

/** Reads exactly n bytes from a flowing socket, in arrival order (a tiny byte-queue, no framing). */
class RawReader {
  private have = 0;
  private want = 0;
  private wake: (() => void) | null = null;
  constructor(sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      this.have += c.length; // the bytes are counted, not kept: only their arrival matters here
      if (this.wake && this.have >= this.want) {
        const w = this.wake;
        this.wake = null;
        w();
      }
    });
  }
  read(n: number): Promise<void> {
    if (this.have >= n) {
      this.have -= n;
      return Promise.resolve();
    }
    this.want = n;
    return new Promise((r) => {
      this.wake = () => {
        this.have -= n;
        r();
      };
    });
  }
}

function writeAll(sock: net.Socket, b: Buffer): Promise<void> {
  return new Promise((r) => (sock.write(b) ? r() : sock.once('drain', () => r())));
}

function quant(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function rawPhase(rank: number, sock: net.Socket, rd: RawReader, bytes: number) {
  const buf = Buffer.alloc(bytes, rank + 1); // [bytes]
  const prefix = Buffer.alloc(4); // the same 4-byte prefix UdsChannel adds, so the byte counts match
  prefix.writeUInt32LE(bytes, 0);
  const msg = Buffer.concat([prefix, buf]); // [4 + bytes]
  const xchg: number[] = [];
  const rtt: number[] = [];
  for (let i = 0; i < WARMUP + REPS; i++) {
    const t0 = performance.now();
    await Promise.all([writeAll(sock, msg), rd.read(msg.length)]);
    if (i >= WARMUP) xchg.push(performance.now() - t0);
  }
  for (let i = 0; i < WARMUP + REPS; i++) {
    const t0 = performance.now();
    if (rank === 0) {
      await writeAll(sock, msg);
      await rd.read(msg.length);
    } else {
      await rd.read(msg.length);
      await writeAll(sock, msg);
    }
    if (i >= WARMUP) rtt.push(performance.now() - t0);
  }
  return { xchg, rtt };
}

async function linkPhase(comm: GroupComm, bytes: number) {
  const n = bytes / 4;
  const data = new Float32Array(n); // [n]
  for (let i = 0; i < n; i++) data[i] = ((i * 7 + comm.rank) % 13) * 0.25; // exact in f32: checkable sum
  const ms: number[] = [];
  for (let i = 0; i < WARMUP + REPS; i++) {
    const t0 = performance.now();
    const out = await comm.allReduce(data); // [n]
    if (i >= WARMUP) ms.push(performance.now() - t0);
    if (i === 0) {
      for (let j = 0; j < n; j += 997) {
        const want = ((j * 7) % 13) * 0.25 + ((j * 7 + 1) % 13) * 0.25;
        if (out[j] !== want) throw new Error(`allReduce wrong at ${j}: ${out[j]} != ${want}`);
      }
    }
  }
  return ms;
}

async function runRank(rank: number, raw: net.Socket, linkSock: net.Socket) {
  const rd = new RawReader(raw);
  const mesh = new Mesh(IDS[rank]);
  mesh.addLink(IDS[1 - rank], new UdsChannel(linkSock), udsLinkOptions());
  const comm = new GroupComm(mesh, IDS, IDS[rank], { groupId: 'tp', timeoutMs: 30_000 });
  await comm.barrier();
  const rows = [];
  for (const bytes of SIZES) {
    const ar = await linkPhase(comm, bytes);
    const r = await rawPhase(rank, raw, rd, bytes);
    const st = (xs: number[]) => ({ p50: quant(xs, 0.5), p10: quant(xs, 0.1), p90: quant(xs, 0.9) });
    rows.push({ bytes, allreduce: st(ar), raw_xchg: st(r.xchg), raw_rtt: st(r.rtt) });
    await comm.barrier();
  }
  await comm.barrier();
  mesh.close();
  raw.end();
  return rows;
}

function connect(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(p);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

if (process.argv[2] === 'child') {
  const p = process.argv[3];
  const raw = await connect(p); // first connection: raw
  const link = await connect(p); // second: the Link's
  await runRank(1, raw, link);
  process.exit(0);
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm-bench-'));
  const p = path.join(dir, 's.sock');
  const server = net.createServer();
  const accepted: net.Socket[] = [];
  const both = new Promise<void>((r) => server.on('connection', (s) => accepted.push(s) === 2 && r()));
  await new Promise<void>((r) => server.listen(p, r));
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], 'child', p], { stdio: 'inherit' });
  await both;
  server.close();
  const rows = await runRank(0, accepted[0], accepted[1]);
  await new Promise((r) => child.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
  for (const r of rows) {
    const mbps = (r.bytes / r.allreduce.p50 / 1e3).toFixed(0);
    console.error(
      `${String(r.bytes).padStart(8)} B  allreduce p50 ${r.allreduce.p50.toFixed(3)} ms (${mbps} MB/s)` +
        `  raw_xchg ${r.raw_xchg.p50.toFixed(3)}  raw_rtt ${r.raw_rtt.p50.toFixed(3)}`,
    );
  }
  console.log(JSON.stringify({ label: process.env.LABEL ?? '', load: os.loadavg()[0], rows }));
}
