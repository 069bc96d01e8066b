// Local transport throughput for the DistriFusion speed bench: two node-datachannel (libdatachannel)
// peer connections in ONE Node process (loopback UDP), a Mesh + Link on each, then
//  - benchLink: one-way bulk (Probe/Ack) and RTT over the raw link;
//  - GroupComm allGather of big Float32 buffers (both directions at once, as a DistriFusion step does).
// One process means both ends share one JS thread: a lower bound for two processes, and what one peer
// of an allGather pays anyway (it sends and receives at once). Usage (tsx or bundled):
//   node bench/out/distrifusion-speed-link.mjs   env: BYTES=8388608,33554432 REPS=3 FRAME=... HIGH=... SCTP=0|1 (1: the larger SCTP window below)
import * as rtc from 'node-datachannel/polyfill';
import ndc from 'node-datachannel';
import { Mesh } from '../src/transport/mesh';
import { GroupComm } from '../src/collectives/group';
import { benchLink, percentile } from '../src/collectives/bench';

const env = (k: string, d: string) => process.env[k] ?? d;
const BYTES = env('BYTES', '1048576,8388608,33554432').split(',').map(Number);
const REPS = Number(env('REPS', '3'));
const FRAME = process.env.FRAME ? Number(process.env.FRAME) : undefined;
const HIGH = process.env.HIGH ? Number(process.env.HIGH) : undefined;
// An experiment, not a product setting: bigger usrsctp buffers, a 64-MTU initial congestion window and a
// 5 ms delayed SACK, meant to keep more bytes in flight per round trip. On this 2-core machine it gave
// no measurable gain (the CPU bounds both ends here), and together with 256 KiB frames an allGather
// timed out, so no peer applies it; it stays to be measured where the CPU is not the bound. node-datachannel reads these when an association starts: set before the first RTCPeerConnection.
if (env('SCTP', '0') === '1') {
  ndc.setSctpSettings({
    recvBufferSize: 16 * 1024 * 1024, // 16 MiB
    sendBufferSize: 16 * 1024 * 1024,
    maxChunksOnQueue: 64 * 1024, // usrsctp counts chunks (~1200 B each)
    initialCongestionWindow: 64, // MTUs
    delayedSackTime: 5, // ms (usrsctp's default 200 ms suits Internet paths)
  });
}

type Pc = InstanceType<typeof rtc.RTCPeerConnection>;
type Dc = ReturnType<Pc['createDataChannel']>;

async function connect(): Promise<{ a: Pc; b: Pc; da: Dc; db: Dc }> {
  const a = new rtc.RTCPeerConnection();
  const b = new rtc.RTCPeerConnection();
  a.onicecandidate = (e) => { if (e.candidate) void b.addIceCandidate(e.candidate); };
  b.onicecandidate = (e) => { if (e.candidate) void a.addIceCandidate(e.candidate); };
  const gotB = new Promise<Dc>((res) => (b.ondatachannel = (e) => res(e.channel)));
  const da = a.createDataChannel('tm', { ordered: true });
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription!);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription!);
  const db = await gotB;
  const open = (d: Dc) => (d.readyState === 'open' ? Promise.resolve() : new Promise<void>((r) => d.addEventListener('open', () => r())));
  await Promise.all([open(da), open(db)]);
  return { a, b, da, db };
}

const { a, b, da, db } = await connect();
const mmA = (a.sctp as { maxMessageSize?: number } | null)?.maxMessageSize;
const linkOpts = { maxMessageSize: mmA, frameBytes: FRAME, highWaterBytes: HIGH };
const ma = new Mesh('A');
const mb = new Mesh('B');
ma.addLink('B', da as never, linkOpts);
mb.addLink('A', db as never, linkOpts);
console.log(`sctp.maxMessageSize ${mmA}, frame ${FRAME ?? 'default'}, high water ${HIGH ?? 'default'}`);
for (const bytes of BYTES) {
  const r = await benchLink(ma, 'B', { bulkBytes: bytes, bulkReps: REPS, pings: 20 });
  console.log(`one-way ${(bytes / 2 ** 20).toFixed(1)} MiB: ${r.throughput_MBps.toFixed(1)} MB/s (p50 ${r.bulk_p50_ms.toFixed(1)} ms), rtt p50 ${r.rtt_p50_ms.toFixed(2)} ms`);
}
const ga = new GroupComm(ma, ['A', 'B'], 'A', { groupId: 'bulk' });
const gb = new GroupComm(mb, ['A', 'B'], 'B', { groupId: 'bulk' });
for (const bytes of BYTES) {
  const xa = new Float32Array(bytes / 4).fill(1); // [bytes/4]
  const xb = new Float32Array(bytes / 4).fill(2); // [bytes/4]
  const ts: number[] = [];
  for (let i = 0; i <= REPS; i++) {
    const t0 = performance.now();
    const [ra, rb] = await Promise.all([ga.allGather(xa), gb.allGather(xb)]);
    if (ra[1][0] !== 2 || rb[0][xb.length - 1] !== 1) throw new Error('allGather delivered wrong data');
    if (i > 0) ts.push(performance.now() - t0);
  }
  const p50 = percentile(ts, 0.5);
  console.log(`allGather n=2 ${(bytes / 2 ** 20).toFixed(1)} MiB each way: ${p50.toFixed(1)} ms, ${(bytes / (p50 * 1e3)).toFixed(1)} MB/s per direction`);
}
console.log(JSON.stringify({ statsA: ma.stats().B }));
ga.dispose();
gb.dispose();
ma.close();
mb.close();
a.close();
b.close();
setTimeout(() => process.exit(0), 200);
