// Same-host data plane vs WebRTC between headless Node peer processes (issue 7), in one run: for 2 and 4
// peer processes on this machine, all-reduce latency at the decode hidden-state sizes (8 KB = 1B's
// [2048] f32, 16 KB = 7B's [4096]) and throughput at bulk sizes (2 MB ≈ a 7B prefill [128, 4096] f32,
// 8 MB), with every link over WebRTC (`--same-host off`: node-datachannel / libdatachannel) and then
// over Unix sockets (the default), side by side. Also the raw link (rank 0 -> 1) RTT and bulk rate, and
// allGather / broadcast at the same sizes (the bench-comm job runs all three). No GPU work: the peers
// only measure their adapter at start. Writes JSON + markdown to $BENCH_OUT / $OUT (default bench/out).
// Environment: NS=2,4  TRANSPORTS=webrtc,same-host  SMALL=8192,16384  BULK=2097152,8388608
//   REPS_SMALL=40  REPS_BULK=5  PORT=5391  LABEL.
// Run: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/comm-node.ts', 'bench/out/comm-node.mjs',
//   { external: ['node-datachannel', 'node-datachannel/*', 'bufferutil', 'utf-8-validate'], cjsRequire: true }))"
//   && node bench/out/comm-node.mjs      (`node comm-node.mjs peer <link> …` is how it starts its peers)
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { spawnBenchPeer, startBenchServer, stopBenchPeers } from './peer-procs';
import { runHeadlessPeer } from '../src/session/headless.node';
import { startNodeCoordinator } from '../src/session/coordinator.node';
import type { BenchRow, LinkBenchResult } from '../src/collectives/bench';

if (process.argv[2] === 'peer') process.exit(await runHeadlessPeer(process.argv.slice(3)));

const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);
const env = (k: string, d: string) => process.env[k] ?? d;
const list = (k: string, d: string) => env(k, d).split(',').filter(Boolean);
const NS = list('NS', '2,4').map(Number);
const TRANSPORTS = list('TRANSPORTS', 'webrtc,same-host') as Transport[];
const SMALL = list('SMALL', '8192,16384').map(Number);
const BULK = list('BULK', `${2 << 20},${8 << 20}`).map(Number);
const REPS_SMALL = Number(env('REPS_SMALL', '40'));
const REPS_BULK = Number(env('REPS_BULK', '5'));
const outDir = path.resolve(process.env.BENCH_OUT ?? process.env.OUT ?? 'bench/out');
const self = process.argv[1];

type Transport = 'webrtc' | 'same-host';

interface CaseResult {
  n: number;
  transport: Transport;
  /** Links the peers reported as Unix sockets / WebRTC (each link counted at both ends). */
  links: { same_host: number; webrtc: number };
  rows: BenchRow[];
  /** os.loadavg()[0] when the case started: this bench shares the machine with whatever else runs. */
  load_avg_1m: number;
  link_small: LinkBenchResult | null; // pings + a bulk of max(SMALL)
  link_bulk: LinkBenchResult | null; // pings + a bulk of max(BULK)
  wall_s: number;
}

async function runCase(coord: Awaited<ReturnType<typeof startNodeCoordinator>>, n: number, transport: Transport): Promise<CaseResult> {
  const t0 = performance.now();
  const links = { same_host: 0, webrtc: 0 };
  const onLine = (l: string) => {
    if (/^link to \S+: same-host unix socket/.test(l)) links.same_host++;
    else if (/^link to \S+: webrtc/.test(l)) links.webrtc++;
  };
  const args = ['--same-host', transport === 'same-host' ? 'on' : 'off'];
  log(`n=${n} ${transport}: starting ${n} peer processes`);
  const children = Array.from({ length: n }, (_, i) => spawnBenchPeer(self, i, coord.joinLink, { pin: false, gpus: [], args, onLine }));
  try {
    await coord.waitForPeers(n, 120_000);
    const group = coord.core.roster.list().map((e) => e.id).sort();
    // Untimed: the first calls of each op pay for JIT and allocation (benchCollectives warms up once per size only).
    await coord.core.benchComm({ peers: group, sizes: SMALL, reps: 10 });
    const load = os.loadavg()[0];
    const small = await coord.core.benchComm({ peers: group, sizes: SMALL, reps: REPS_SMALL });
    log(`n=${n} ${transport}: small sizes done`);
    const bulk = await coord.core.benchComm({ peers: group, sizes: BULK, reps: REPS_BULK });
    if (transport === 'webrtc') links.webrtc = Math.max(links.webrtc, n * (n - 1)); // off: the peers log no per-link line
    const rows = [...small.rows, ...bulk.rows] as BenchRow[];
    for (const r of rows.filter((x) => x.op === 'allReduce')) log(`n=${n} ${transport}: allReduce ${r.bytes} B: ${r.p50_ms.toFixed(3)} ms, ${r.throughput_MBps.toFixed(0)} MB/s`);
    return { n, transport, links, rows, load_avg_1m: load, link_small: small.link as LinkBenchResult | null, link_bulk: bulk.link as LinkBenchResult | null, wall_s: (performance.now() - t0) / 1000 };
  } finally {
    await stopBenchPeers(children, coord);
  }
}

const f = (x: number | undefined, d: number) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

function markdown(doc: { date: string; machine: Record<string, unknown>; cases: CaseResult[]; failure: string | null }): string {
  const get = (n: number, t: Transport) => doc.cases.find((c) => c.n === n && c.transport === t);
  const lines = [
    '# Same-host Unix sockets vs WebRTC between headless Node peers',
    '',
    `${doc.date}, ${String(doc.machine.hostname)} (${String(doc.machine.cpus)} CPUs: ${String(doc.machine.cpu)}), Node ${process.version}. One peer process per rank, all on this machine; p50 over reps of the slowest rank (src/collectives/bench.ts). ratio = WebRTC time / socket time.`,
    '',
    '| n | op | bytes | WebRTC p50 ms | socket p50 ms | ratio | WebRTC MB/s | socket MB/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const n of NS) {
    const w = get(n, 'webrtc');
    const s = get(n, 'same-host');
    const keys = (w ?? s)?.rows.map((r) => `${r.op}:${r.bytes}`) ?? [];
    // allReduce first: it is what tensor parallelism calls 44-64 times per token.
    keys.sort((a, b) => Number(!a.startsWith('allReduce')) - Number(!b.startsWith('allReduce')));
    for (const k of keys) {
      const rw = w?.rows.find((r) => `${r.op}:${r.bytes}` === k);
      const rs = s?.rows.find((r) => `${r.op}:${r.bytes}` === k);
      const [op, bytes] = k.split(':');
      lines.push(`| ${n} | ${op} | ${bytes} | ${f(rw?.p50_ms, 3)} | ${f(rs?.p50_ms, 3)} | ${rw && rs ? f(rw.p50_ms / rs.p50_ms, 1) : '—'} | ${f(rw?.throughput_MBps, 0)} | ${f(rs?.throughput_MBps, 0)} |`);
    }
  }
  lines.push('', '| n | transport | links (socket / WebRTC ends) | raw RTT p50 ms | raw bulk MB/s (bytes) | case wall s | load avg (1 min) |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const c of doc.cases) {
    lines.push(`| ${c.n} | ${c.transport} | ${c.links.same_host} / ${c.links.webrtc} | ${f(c.link_small?.rtt_p50_ms, 3)} | ${f(c.link_bulk?.throughput_MBps, 0)} (${c.link_bulk?.bulk_bytes ?? '—'}) | ${f(c.wall_s, 1)} | ${f(c.load_avg_1m, 1)} |`);
  }
  if (doc.failure) lines.push('', `**Failed:** ${doc.failure.split('\n')[0]}`);
  return lines.join('\n') + '\n';
}

fs.mkdirSync(outDir, { recursive: true });
const server = await startBenchServer(Number(env('PORT', '5391')), os.tmpdir());
const coord = await startNodeCoordinator(server.origin, log, { heartbeatTimeoutMs: 60_000 });
const cases: CaseResult[] = [];
let failure: string | null = null;
try {
  for (const n of NS) for (const t of TRANSPORTS) cases.push(await runCase(coord, n, t));
} catch (e) {
  failure = (e as Error).stack ?? String(e);
  log(`FAILED: ${failure}`);
}
for (const c of cases) {
  // A "same-host" case whose links fell back to WebRTC would compare WebRTC with itself: say so.
  if (c.transport === 'same-host' && c.links.same_host < c.n * (c.n - 1)) failure ??= `n=${c.n}: only ${c.links.same_host} of ${c.n * (c.n - 1)} link ends used the socket`;
}
const date = new Date().toISOString();
const doc = {
  name: 'comm-node', date,
  machine: { hostname: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_GB: os.totalmem() / 1e9 },
  node: process.version, sizes: { small: SMALL, bulk: BULK }, reps: { small: REPS_SMALL, bulk: REPS_BULK }, label: process.env.LABEL ?? null,
  cases, failure,
};
const slug = `${process.env.LABEL ? `${process.env.LABEL.replace(/[^A-Za-z0-9_-]+/g, '-')}-` : ''}${os.hostname().replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 30)}-${date.slice(0, 10)}`;
fs.writeFileSync(path.join(outDir, `comm-node-${slug}.json`), JSON.stringify(doc, null, 2));
const md = markdown(doc);
fs.writeFileSync(path.join(outDir, `comm-node-${slug}.md`), md);
console.log(md);
log(`wrote ${path.join(outDir, `comm-node-${slug}.{json,md}`)}`);
coord.close();
server.close();
process.exit(failure ? 1 : 0);
