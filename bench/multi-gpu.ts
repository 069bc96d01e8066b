// Multi-GPU tensor-parallel scaling in one process tree, no browser: a signaling + model server, a
// Node coordinator (the page's session core and generate flow, src/session/coordinator.node.ts) and
// one headless peer process per GPU (the `tabmesh peer` code), each pinned to its GPU by hiding the
// others' /dev/nvidiaN in a private mount namespace when run as root on a multi-GPU host. For each
// tp it starts fresh peers (Dawn-for-Node has aborted when one process loads a second multi-GB
// weight set), loads a random-weight Llama with tp ranks, times prefill and decode, splits each
// rank's time into compute and collectives, and measures the collectives at the sizes the model
// uses. Writes JSON + markdown to $BENCH_OUT (default bench/out; $OUT on the GPU machine).
// `node multi-gpu.mjs peer <link> …` runs a peer (how the driver starts its children).
// Environment: SHAPE=tiny|1B|7B (default 1B), WEIGHTS=f16|f32, N=peers (default: GPUs, else 2),
// TPS=1,2,4 (default 1 and powers of 2 up to N), PREFILL=128, DECODE=64, REPS=2, PORT=5390,
// MODEL_DIR (default $TMPDIR/tabmesh-bench-models), PIN=0|1 (default: 1 when root with >1 GPU),
// ENCODE_AHEAD=0|1 (default 1: LlamaGpu.encodeAhead in the peers), LABEL (added to the file names),
// SAME_HOST=1|0 (default 1: the peers link to each other over Unix sockets, src/transport/uds-channel.node.ts;
// 0 forces WebRTC data channels, the transport before issue 7, for an A/B in one session),
// REPLICAS=1,2 (default none): after the tp cases, data parallelism in the same session: R fresh peers,
// each a tp=1 replica running its own request of BATCH completions (sampling n, one batched decode per
// step), all R at once; aggregate completion tokens/s against R = 1. What a host with several GPUs
// gets from replicas when the model fits one GPU, beside what tensor parallelism gets.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { hostGpus, spawnBenchPeer, startBenchServer, stopBenchPeers, LinkTally } from './peer-procs';
import { runHeadlessPeer } from '../src/session/headless.node';
import { LlamaGpu } from '../src/model/llama';
import { startNodeCoordinator, type NodeCoordinator } from '../src/session/coordinator.node';
import { SHAPES, benchPrompt, writeBenchModel, type BenchShape } from './multi-gpu-model';
import { caseRow, markdown, type CaseRow, type RunSample } from './multi-gpu-report';
import { MAX_SEQ_LEN, type PeerLlmStats } from '../src/scheduler/llm-flow';
import type { ModelRef } from '../src/session/protocol';
import type { BenchRow } from '../src/collectives/bench';

const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);

if (process.argv[2] === 'peer') {
  // ENCODE_AHEAD=0: the peer encodes each segment after its all-reduce sum is back (the old order), for an A/B in one session.
  if (process.env.ENCODE_AHEAD === '0') LlamaGpu.encodeAheadDefault = false;
  // Peer lines go to the driver's terminal prefixed by the peer's name.
  process.exit(await runHeadlessPeer(process.argv.slice(3)));
}

const env = (k: string, d: string) => process.env[k] ?? d;
const shapeName = env('SHAPE', '1B');
const shape: BenchShape = SHAPES[shapeName] ?? (() => { throw new Error(`SHAPE must be one of ${Object.keys(SHAPES).join(', ')}`); })();
const weights = env('WEIGHTS', 'f16') as 'f16' | 'f32';
const gpus = hostGpus();
const nPeers = Number(env('N', String(gpus.length > 1 ? gpus.length : 2)));
const tps = env('TPS', [1, 2, 4, 8, 16].filter((t) => t <= nPeers).join(',')).split(',').filter(Boolean).map(Number); // TPS= (empty): only the REPLICAS cases
const PREFILL = Number(env('PREFILL', '128'));
const DECODE = Number(env('DECODE', '64'));
const REPS = Number(env('REPS', '2'));
const REPLICAS = env('REPLICAS', '').split(',').filter(Boolean).map(Number).filter((r) => r <= nPeers);
const BATCH = Number(env('BATCH', '8'));
// REDUCE_WIRE=f32,i8: each tp > 1 case once per listed prefill all-reduce wire (fresh peers each), side by side.
const WIRES = env('REDUCE_WIRE', 'f32').split(',') as ('f32' | 'i8')[];
// COMM_AB=1 (default): for tp > 2 also time allReduce by both algorithms at AB_SIZES bytes.
const COMM_AB = env('COMM_AB', '1') === '1';
const AB_SIZES = [4096, 8192, 16384, 32768, 65536, 131072, 262144, 1 << 20, 2 << 20];

interface DpRow { adapter?: Record<string, unknown>; replicas: number; batch: number; completion_tokens: number; wall_ms: number; tok_s: number; speedup: number | null; rounds: { wall_ms: number; tokens: number }[] }

/** The data-parallel table (empty without REPLICAS). */
function dpMarkdown(dp: DpRow[]): string {
  if (!dp.length) return '';
  return ['', `Data parallelism, same session: R tp=1 replicas (one peer process per GPU), loaded with ${BATCH} slots as serving loads a replica, each running one request of ${BATCH} completions (sampling n = ${BATCH}, greedy, ${PREFILL}-token prompt, ${DECODE} tokens each) in the peer's continuous-batching loop (one forward for all live sequences per step), all replicas at once; aggregate completion tokens/s over the whole round (prefill included), best of ${REPS}.`, '',
    '| replicas | completion tokens | wall ms | aggregate tok/s | speed-up vs 1 replica |', '| --- | --- | --- | --- | --- |',
    ...dp.map((d) => `| ${d.replicas} | ${d.completion_tokens} | ${d.wall_ms.toFixed(0)} | ${d.tok_s.toFixed(1)} | ${d.speedup === null ? '—' : d.speedup.toFixed(2)} |`), ''].join('\n');
}
const port = Number(env('PORT', '5390'));
const pin = env('PIN', gpus.length > 1 && process.getuid?.() === 0 ? '1' : '0') === '1';
const outDir = path.resolve(process.env.BENCH_OUT ?? process.env.OUT ?? 'bench/out');
const modelDir = path.resolve(env('MODEL_DIR', path.join(os.tmpdir(), 'tabmesh-bench-models')));
const self = process.argv[1]; // this bundle: children run it with `peer`
/** SAME_HOST=1|0 and the link ends the peers reported (bench/peer-procs.ts). */
const links = new LinkTally(env('SAME_HOST', '1') !== '0');


async function runOnce(coord: NodeCoordinator, model: ModelRef, tp: number, group: string[], prompt: string, maxTokens: number, wire: 'f32' | 'i8' = 'f32'): Promise<RunSample> {
  const t0 = performance.now();
  const r = await coord.llm.generate({ model: model.name, prompt, tensor_parallel_size: tp, peers: group, sampling: { temperature: 0, max_tokens: maxTokens, ignore_eos: true }, allreduce_wire: wire }, model);
  return { wall_ms: performance.now() - t0, usage: r.usage, timings: r.timings, per_peer: r.per_peer as PeerLlmStats[] };
}

/** `n` fresh peer processes, peer i on GPU i when pinned. */
function spawnPeers(coord: NodeCoordinator, n: number) {
  return Array.from({ length: n }, (_, i) => spawnBenchPeer(self, i, coord.joinLink, { pin, gpus, args: links.peerArgs, onLine: links.onLine }));
}

/** Waits for `n` peers; ids in GPU order (peer names carry the GPU), so rank r runs on GPU r. */
async function peersInGpuOrder(coord: NodeCoordinator, n: number) {
  await coord.waitForPeers(n, 180_000);
  const entries = coord.core.roster.list();
  return { entries, ids: [...entries].sort((a, b) => a.userAgent.localeCompare(b.userAgent)).map((e) => e.id) };
}

/** Data parallelism: `r` tp=1 replicas (one peer each), each decoding BATCH completions of its own request at once. */
async function runReplicas(coord: NodeCoordinator, model: ModelRef, r: number): Promise<DpRow> {
  log(`replicas=${r}: starting ${r} peer(s)`);
  const children = spawnPeers(coord, r);
  try {
    const { entries, ids } = await peersInGpuOrder(coord, r);
    // Loaded as serving loads a replica (slots for BATCH sequences), then requests run in the peers'
    // continuous-batching loop (batched: one forward for all live sequences per step), as serving runs them.
    await Promise.all(ids.map((id) => coord.core.runJob({ kind: 'llm-load', group: [id], model, maxSeqLen: MAX_SEQ_LEN, maxBatchSize: BATCH, batchWaitMs: 0 }).done));
    const request = (id: string, prompt: string, maxTokens: number) => coord.core.runJob<{ usage: { completion_tokens: number } }>({ kind: 'llm-generate', group: [id], model, prompt, batched: true,
      sampling: { temperature: 0, max_tokens: maxTokens, ignore_eos: true, n: BATCH, seed: 1 } }).done.then((res) => res[0].usage.completion_tokens);
    await Promise.all(ids.map((id) => request(id, 'a', 4))); // pipelines compiled at every batch size
    const prompt = benchPrompt(PREFILL);
    const rounds: { wall_ms: number; tokens: number }[] = [];
    for (let i = 0; i < REPS; i++) {
      const t0 = performance.now();
      const got = await Promise.all(ids.map((id) => request(id, prompt, DECODE)));
      const wall = performance.now() - t0;
      rounds.push({ wall_ms: wall, tokens: got.reduce((a, g) => a + g, 0) });
      log(`replicas=${r}: rep ${i + 1}: ${rounds[i].tokens} completion tokens in ${wall.toFixed(0)} ms`);
    }
    const best = rounds.reduce((a, b) => (b.tokens / b.wall_ms > a.tokens / a.wall_ms ? b : a));
    return { adapter: { ...entries[0].adapter }, replicas: r, batch: BATCH, completion_tokens: best.tokens, wall_ms: best.wall_ms, tok_s: (best.tokens / best.wall_ms) * 1000, speedup: null, rounds };
  } finally {
    await stopBenchPeers(children, coord);
  }
}

async function runCase(coord: NodeCoordinator, origin: string, model: ModelRef, tp: number, wire: 'f32' | 'i8'): Promise<CaseRow> {
  log(`tp=${tp} (prefill all-reduce ${wire}): starting ${tp} peer(s)${pin ? ` on GPUs ${gpus.slice(0, tp).join(',')}` : ''}`);
  const children = spawnPeers(coord, tp);
  try {
    const { entries, ids: group } = await peersInGpuOrder(coord, tp);
    const tLoad = performance.now();
    await runOnce(coord, model, tp, group, 'a', 4, wire); // load + pipeline compilation
    const loadMs = performance.now() - tLoad;
    log(`tp=${tp}: loaded in ${(loadMs / 1000).toFixed(1)} s`);
    const prompt = benchPrompt(PREFILL);
    const prefill: RunSample[] = [];
    const full: RunSample[] = [];
    for (let i = 0; i < REPS; i++) {
      prefill.push(await runOnce(coord, model, tp, group, prompt, 1, wire)); // prefill only: its split is prefill's
      full.push(await runOnce(coord, model, tp, group, prompt, DECODE + 1, wire)); // the first token comes from the prefill
      log(`tp=${tp}: rep ${i + 1}: prefill ${prefill[i].timings.prefill_ms.toFixed(1)} ms, decode ${(full[i].timings.decode_ms / DECODE).toFixed(2)} ms/token`);
    }
    let comm: { rows: unknown[]; link: unknown } | null = null;
    if (tp > 1) {
      // The collectives at the sizes this model uses: decode all-reduce [dim], prefill all-reduce
      // [T, dim], and the logits allGather [vocab/tp + 1] (rows for allGather give its per-rank size).
      const sizes = [shape.dim * 4, PREFILL * shape.dim * 4, (Math.ceil(shape.vocabSize / tp) + 1) * 4];
      comm = await coord.core.benchComm({ peers: group, sizes, reps: 20, ops: WIRES.includes('i8') ? ['allReduce', 'allReduceI8', 'allGather'] : undefined });
    }
    const adapter = entries[0];
    const row = caseRow({ tp, shape, loadMs, prefill, full, decode: DECODE, comm, adapter: { ...adapter.adapter, gflops: entries.map((e) => e.gflops), userAgent: adapter.userAgent } });
    row.reduce_wire = wire;
    if (tp > 2 && COMM_AB) {
      // Both allReduce algorithms at every size on this group (with 2 ranks there is only one): where the
      // direct round stops paying on this transport, for DIRECT_MAX_BYTES in src/collectives/group.ts.
      const one = async (directMaxBytes: number) => (await coord.core.benchComm({ peers: group, sizes: AB_SIZES, reps: 20, directMaxBytes })).rows as BenchRow[];
      const direct = await one(2 ** 30), twoRound = await one(0);
      row.algorithms = AB_SIZES.map((_, i) => ({ bytes: direct[i].bytes, direct_ms: direct[i].p50_ms, two_round_ms: twoRound[i].p50_ms }));
    }
    return row;
  } finally {
    await stopBenchPeers(children, coord);
  }
}

fs.mkdirSync(modelDir, { recursive: true });
fs.mkdirSync(outDir, { recursive: true });
const fileName = `random-${shapeName}-${weights}.gguf`;
const bytes = writeBenchModel(path.join(modelDir, fileName), shape, weights, log);
log(`model ${fileName}: ${(bytes / 1e9).toFixed(2)} GB; peers: ${nPeers}; tp: ${tps.join(', ')}; GPUs: ${gpus.length ? gpus.join(',') : 'none'}${pin ? ' (pinned)' : ''}`);
const server = await startBenchServer(port, modelDir);
// A headless peer loading a 7B shard blocks its event loop for several seconds at a time (seen on an
// H100: dropped by the page's 3.5 s heartbeat timeout mid-load); a dead peer process still drops at once.
const coord = await startNodeCoordinator(server.origin, log, { heartbeatTimeoutMs: Number(env('HEARTBEAT_TIMEOUT_MS', '120000')) });
const model: ModelRef = { name: fileName.replace(/\.gguf$/, ''), url: `${server.origin}/models/${fileName}` };
const rows: CaseRow[] = [];
const dp: DpRow[] = [];
let failure: string | null = null;
try {
  for (const tp of tps) for (const wire of tp > 1 ? WIRES : ['f32' as const]) rows.push(await runCase(coord, server.origin, model, tp, wire));
  for (const r of REPLICAS) dp.push(await runReplicas(coord, model, r));
} catch (e) {
  failure = (e as Error).stack ?? String(e);
  log(`FAILED: ${failure}`);
}
const base = rows.find((r) => r.tp === 1);
for (const r of rows) {
  r.speedup_prefill = base ? r.prefill_tok_s / base.prefill_tok_s : null;
  r.speedup_decode = base ? r.decode_tok_s / base.decode_tok_s : null;
}
const dp1 = dp.find((d) => d.replicas === 1);
for (const d of dp) d.speedup = dp1 ? d.tok_s / dp1.tok_s : null;
const date = new Date().toISOString();
const adapter = rows[0]?.adapter ?? dp[0]?.adapter ?? null;
const doc = {
  name: 'multi-gpu', date, machine: { hostname: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_GB: os.totalmem() / 1e9, gpus: gpus.length, pinned: pin },
  node: process.version, adapter, shape: { name: shapeName, ...shape, weights, file_GB: bytes / 1e9 }, prefill_tokens: PREFILL, decode_tokens: DECODE, reps: REPS,
  transport: links.line(),
  same_host: { requested: links.sameHost, link_ends: links.ends },
  encode_ahead: process.env.ENCODE_AHEAD !== '0', label: process.env.LABEL ?? null,
  rows, data_parallel: dp.length ? { batch: BATCH, decode_tokens: DECODE, rows: dp } : null, failure,
};
const label = process.env.LABEL ? `${process.env.LABEL.replace(/[^A-Za-z0-9_-]+/g, '-')}-` : '';
const slug = `${label}${shapeName}-${weights}-${String(adapter?.description || adapter?.vendor || 'unknown').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40)}-${date.slice(0, 10)}`;
fs.writeFileSync(path.join(outDir, `multi-gpu-${slug}.json`), JSON.stringify(doc, null, 2));
const md = markdown(doc) + dpMarkdown(dp);
fs.writeFileSync(path.join(outDir, `multi-gpu-${slug}.md`), md);
console.log(md);
log(`wrote ${path.join(outDir, `multi-gpu-${slug}.{json,md}`)}`);
coord.close();
server.close();
process.exit(failure ? 1 : 0);
