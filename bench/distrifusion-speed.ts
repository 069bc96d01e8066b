// DistriFusion SPEED on real GPUs (issue 5 section 6, issue 7 section 3): time per DDIM step of
// full_sync, corrected_async_gn and the no-communication ideal, N = 1, 2, 4 peers, one headless Node
// peer process per GPU over real WebRTC (node-datachannel), driven like bench/multi-gpu.ts: a
// signaling + model server and the Node coordinator here, peers pinned to their GPU by hiding the
// other /dev/nvidiaN in a private mount namespace (root, > 1 GPU). Fresh peer processes per (px, N):
// Dawn-for-Node has aborted when one process allocated a second multi-hundred-MB weight set.
//
// Decisions (issue 5/7 notes):
//  - "px" is the image size as in Stable Diffusion; the U-Net runs on the latent at px / 8 with 4
//    latent channels (SD's VAE factor): 256 / 512 / 1024 px = latent 32 / 64 / 128.
//  - px 32 means fm-unet itself at its trained 32x32 with its real weights (web/public/fm-unet/).
//  - other px: "sd-like", fm-unet's layout widened to inChannels 4, baseCh 320, levels 320 / 640(attn)
//    / 1280(attn), GroupNorm 32, tembDim 1280, timeFreqDim 320 (SD's time_proj width; negligible
//    cost), one ResBlock per level as fm-unet; random weights (src/model/unet/widened.ts), 214M
//    parameters, 857 MB f32, config in the safetensors metadata. WIDTH scales the channels (local runs).
//  - the ideal (MODES entry ideal_async) = corrected_async_gn with commFree: the warm-up steps gather as
//    usual, then the same kernels on the same shapes run with the stale values never refreshed and
//    NOTHING sent per step (no pieces, no eps gather; the final rows are gathered once after the timed
//    steps): what corrected_async_gn would cost with free communication. The old ideal (no_sync with
//    commFree: patch-local attention, zero halos, local GN) does less arithmetic; both are reported.
//  - time per step = the median over steps k >= WARMUP (the same steps for every mode; step 0 also
//    compiles pipelines) of the slowest peer's step (compute + comm wait, from the peers' image-step
//    events); compute / wait are that peer's split. Bytes per step per peer: the flat comm buffer
//    (all layers' halo rows, GroupNorm sums, K/V rows; the per-layer gathers of a sync step move the
//    same floats) + this peer's eps rows; an allGather delivers them to each of the N - 1 others.
// `node distrifusion-speed.mjs peer <link> ...` runs a peer (how the driver starts its children).
// Environment: PX=32,256,512,1024  NS=1,2,4 (capped by GPUs; default 1 and 2 without GPUs)
//   MODES=full_sync,corrected_async_gn,ideal_async,no_sync  STEPS=40  WARMUP=2  WIDTH=1  SEED=1  PORT=5391
//   MODEL_DIR ($TMPDIR/tabmesh-bench-models)  PIN=0|1  BENCH_OUT/OUT (bench/out)  COMMBENCH=1
//   COMMDTYPE=i8 (async modes' flat buffer on the wire: i8, f16 or f32; a list, e.g. f16,i8, runs each side by side; sync gathers are always f32)
//   LABEL (output file prefix)  SAME_HOST=1|0 (default 1: peers on one host link over Unix sockets, src/transport/uds-channel.node.ts, as
//   headless peers do by default; 0 keeps WebRTC; the report names what the links really used)
//   TABMESH_GPU_THREAD=worker|main (the peers' GPU thread; default worker, bundled by `build`)
//   TURN_MS (the GPU backend's longest encoding stretch without an event-loop turn, default 0.5)
//   PEER_NODE_ARGS (Node options for the peers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostGpus, spawnBenchPeer, startBenchServer, stopBenchPeers, LinkTally } from './peer-procs';
import { runHeadlessPeer } from '../src/session/headless.node';
import { startNodeCoordinator, type NodeCoordinator } from '../src/session/coordinator.node';
import type { JobEvent } from '../src/session/protocol';
import type { ImageResult } from '../src/engines/image-engine';
import { buildUnetPatchPlan } from '../src/parallel/patch-unet-plan';
import { unetPatchTuning } from '../src/parallel/patch-unet-gpu';
import { buildUnet, FM_UNET_CONFIG, type UnetConfig } from '../src/model/unet/config';
import { writeWidenedModel } from './unet-widened-model';
import { markdown, summarize, type CaseRow, type StepDetail, type StepSample } from './distrifusion-speed-report';

const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);

// TURN_MS: the GPU backend's longest encoding stretch without an event-loop turn (the peers inherit it).
if (process.env.TURN_MS) unetPatchTuning.turnEveryMs = Number(process.env.TURN_MS);
if (process.argv[2] === 'peer') process.exit(await runHeadlessPeer(process.argv.slice(3)));

const env = (k: string, d: string) => process.env[k] ?? d;
const gpus = hostGpus();
const maxPeers = gpus.length > 1 ? gpus.length : 2;
const PX = env('PX', '32,256,512,1024').split(',').map(Number);
const NS = env('NS', [1, 2, 4].filter((n) => n <= maxPeers).join(',')).split(',').map(Number).filter((n) => n <= maxPeers);
const MODES = env('MODES', 'full_sync,corrected_async_gn,ideal_async,no_sync').split(',') as CaseRow['mode'][];
// 40: an idle H200 needs ~2 s of work before it runs at full speed (bench/results/decode-warmup-*), and a
// 1024-px step is ~40 ms, so with 8 steps the case that ran first after the peers loaded was timed cold
// (the ideal at 57 ms against corrected_async_gn's 40, distrifusion-speed-cold-*-h200x2-*); the median over
// 40 steps is past the ramp.
const STEPS = Number(env('STEPS', '40'));
const WARMUP = Number(env('WARMUP', '2'));
const WIDTH = Number(env('WIDTH', '1'));
const SEED = Number(env('SEED', '1'));
const COMMDTYPES = env('COMMDTYPE', 'i8').split(',') as ('f16' | 'f32' | 'i8')[];
const port = Number(env('PORT', '5391'));
const pin = env('PIN', gpus.length > 1 && process.getuid?.() === 0 ? '1' : '0') === '1';
const commBench = env('COMMBENCH', '1') === '1';
const LABEL = env('LABEL', ''); // prefix of the output files' names (e.g. uds / webrtc)
const links = new LinkTally(env('SAME_HOST', '1') !== '0');
const outDir = path.resolve(process.env.BENCH_OUT ?? process.env.OUT ?? 'bench/out');
const modelDir = path.resolve(env('MODEL_DIR', path.join(os.tmpdir(), 'tabmesh-bench-models')));
const self = process.argv[1]; // this bundle: children run it with `peer`
if (STEPS <= WARMUP) throw new Error(`STEPS ${STEPS} must exceed WARMUP ${WARMUP} (timed steps are k >= WARMUP)`);

/** fm-unet's real weights: the repo's web/public copy (bundle in .gpu-node/ or bench/out/: two levels up is the repo). */
function fmUnetFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const root of [path.resolve(here, '..'), path.resolve(here, '../..'), process.cwd()]) {
    const f = path.join(root, 'web/public/fm-unet/fm-unet.safetensors');
    if (fs.existsSync(f)) return f;
  }
  throw new Error('web/public/fm-unet/fm-unet.safetensors not found (run from the repo)');
}


const zeroGetter = () => new Float32Array(0); // buildUnet for the plan's layout only: no weights needed

interface ModelCase { px: number; name: string; url: string; config: UnetConfig; label: string; params: number | null }

/** One image job: every peer's per-step events and results. */
async function runImage(coord: NodeCoordinator, group: string[], m: ModelCase, mode: CaseRow['mode'], steps: number, commDtype = COMMDTYPES[0]): Promise<{ samples: StepSample[][]; results: ImageResult[]; wallMs: number }> {
  const samples: StepSample[][] = group.map(() => []);
  const t0 = performance.now();
  const h = coord.core.runJob<ImageResult>({
    kind: 'image', group, model: { name: m.name, url: m.url }, seed: SEED, steps, sampler: 'ddim', mode: mode === 'ideal_async' ? 'corrected_async_gn' : mode,
    warmupSteps: WARMUP, withSingle: false, label: 0, guidance: 1, backend: 'gpu', commFree: mode === 'no_sync' || mode === 'ideal_async', commDtype,
  }, (peer: string, ev: JobEvent) => {
    if (ev.kind !== 'image-step') return;
    const detail = (ev as { detail?: StepDetail }).detail; // the runner's fine timers ride on the event (UnetStepEvent)
    samples[group.indexOf(peer)].push({ step: ev.step, computeMs: ev.computeMs, commWaitMs: ev.commWaitMs, sync: ev.sync, detail });
  });
  const results = await h.done;
  return { samples, results, wallMs: performance.now() - t0 };
}

async function runCase(coord: NodeCoordinator, m: ModelCase, n: number): Promise<CaseRow[]> {
  log(`${m.label} N=${n}: starting ${n} peer(s)${pin ? ` on GPUs ${gpus.slice(0, n).join(',')}` : ''}`);
  const spawnAll = () => Array.from({ length: n }, (_, i) => spawnBenchPeer(self, i, coord.joinLink, { pin, gpus, args: links.peerArgs, onLine: links.onLine }));
  let children = spawnAll();
  try {
    try {
      await coord.waitForPeers(n, 90_000);
    } catch (e) {
      // seen once on a 2-CPU box: one peer's PeerJS join never reached the coordinator; start afresh once
      log(`${m.label} N=${n}: ${(e as Error).message}; restarting the peers`);
      await stopBenchPeers(children, coord);
      children = spawnAll();
      await coord.waitForPeers(n, 180_000);
    }
    const entries = coord.core.roster.list();
    const group = [...entries].sort((a, b) => a.userAgent.localeCompare(b.userAgent)).map((e) => e.id); // rank r on GPU r
    const tLoad = performance.now();
    await runImage(coord, group, m, 'no_sync', 1); // download + parse + weight upload + most pipelines
    const loadMs = performance.now() - tLoad;
    log(`${m.label} N=${n}: loaded in ${(loadMs / 1000).toFixed(1)} s`);
    const plan = n > 1 ? buildUnetPatchPlan(buildUnet(zeroGetter, m.config), n) : null; // sizes only
    const rows: CaseRow[] = [];
    // One peer: every mode is the same single-device run, measured once (as no_sync) whatever MODES lists,
    // since every N > 1 row's speed-up is against it.
    const modes: CaseRow['mode'][] = n === 1 ? ['no_sync'] : MODES;
    for (const mode of modes) for (const dt of mode === 'corrected_async_gn' ? COMMDTYPES : [COMMDTYPES[0]]) {
      const r = await runImage(coord, group, m, mode, STEPS, dt);
      const free = mode === 'no_sync' || mode === 'ideal_async'; // nothing per timed step
      const epsBytes = free || n === 1 ? 0 : (m.config.inChannels * m.config.size * m.config.size * 4) / n;
      // async: what the runner reports it put on the wire per step (its carriers); full_sync gathers f32
      const flatBytes = free || !plan ? 0 : mode === 'full_sync' ? plan.registry.total(0) * 4 : r.results[0].timings.bytesSentPerStep;
      const row = summarize({
        px: m.px, model: m.label, latent: m.config.size, n, mode, commDtype: dt, steps: STEPS, warmup: WARMUP, loadMs, samples: r.samples, results: r.results,
        wallMs: r.wallMs, flatBytes, epsBytes,
      });
      log(`${m.label} N=${n} ${mode} (${dt}): ${row.step_ms.toFixed(1)} ms/step (compute ${row.compute_ms.toFixed(1)}, wait ${row.comm_wait_ms.toFixed(1)}), ${(row.bytes_per_step_per_peer / 1e6).toFixed(2)} MB/step/peer`);
      rows.push(row);
    }
    if (commBench && n > 1 && plan) {
      // the allGather of the flat buffer in isolation, at this case's size (what an async step overlaps)
      try {
        const res = await coord.core.benchComm({ peers: group, sizes: [plan.registry.total(0) * 4], reps: 3 });
        for (const row of rows) row.comm_bench = res.rows;
      } catch (e) {
        log(`${m.label} N=${n}: comm bench failed: ${(e as Error).message}`);
      }
    }
    const a = entries[0];
    for (const row of rows) row.adapter = { ...a.adapter, features: a.features, limits: a.limits, gflops: entries.map((e) => e.gflops), userAgent: a.userAgent };
    return rows;
  } finally {
    await stopBenchPeers(children, coord);
  }
}

fs.mkdirSync(modelDir, { recursive: true });
fs.mkdirSync(outDir, { recursive: true });
const models: ModelCase[] = [];
const server = await startBenchServer(port, modelDir);
for (const px of PX) {
  if (px === 32) {
    const dst = path.join(modelDir, 'fm-unet.safetensors');
    if (!fs.existsSync(dst)) fs.symlinkSync(fmUnetFile(), dst);
    models.push({ px, name: 'fm-unet', url: `${server.origin}/models/fm-unet.safetensors`, config: FM_UNET_CONFIG, label: 'fm-unet 32x32', params: null });
  } else {
    const f = writeWidenedModel(modelDir, px, WIDTH, SEED, log);
    models.push({ px, name: f.name, url: `${server.origin}/models/${f.name}`, config: f.config, label: `sd-like${WIDTH !== 1 ? ` x${WIDTH}` : ''} ${px}px (latent ${f.config.size})`, params: f.params });
  }
}
log(`px: ${PX.join(', ')}; N: ${NS.join(', ')}; modes: ${MODES.join(', ')}; steps ${STEPS} (timed k >= ${WARMUP}); GPUs: ${gpus.length ? gpus.join(',') : 'none'}${pin ? ' (pinned)' : ''}`);
const coord = await startNodeCoordinator(server.origin, log, { heartbeatTimeoutMs: Number(env('HEARTBEAT_TIMEOUT_MS', '120000')) });
const rows: CaseRow[] = [];
let failure: string | null = null;
const started = new Date().toISOString();
/** JSON + markdown after every case too: a run cut short by the device's time limit keeps what it measured. */
function writeResults(final: boolean): void {
  const date = new Date().toISOString();
  const adapter = rows[0]?.adapter ?? null;
  const doc = {
    name: 'distrifusion-speed', date, started, complete: final,
    machine: { hostname: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_GB: os.totalmem() / 1e9, gpus: gpus.length, pinned: pin },
    node: process.version, adapter, steps: STEPS, warmup: WARMUP, sampler: 'ddim', width: WIDTH,
    models: models.map((m) => ({ px: m.px, label: m.label, latent: m.config.size, params: m.params, config: m.config })),
    transport: links.line(),
    same_host: { requested: links.sameHost, link_ends: links.ends },
    timing: 'step_ms = median over steps k >= warmup of the slowest peer\'s compute + comm wait (image-step events)',
    rows, failure,
  };
  const slug = `${LABEL ? `${LABEL}-` : ''}${String((adapter as { description?: string } | null)?.description || 'unknown').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40)}-${started.slice(0, 19).replace(/:/g, '')}`;
  const md = markdown(doc);
  fs.writeFileSync(path.join(outDir, `distrifusion-speed-${slug}.json`), JSON.stringify(doc, null, 2));
  fs.writeFileSync(path.join(outDir, `distrifusion-speed-${slug}.md`), md);
  if (final) {
    console.log(md);
    log(`wrote ${path.join(outDir, `distrifusion-speed-${slug}.{json,md}`)}`);
  }
}
try {
  for (const m of models) {
    for (const n of NS) {
      rows.push(...(await runCase(coord, m, n)));
      writeResults(false);
    }
  }
} catch (e) {
  failure = (e as Error).stack ?? String(e);
  log(`FAILED: ${failure}`);
}
writeResults(true);
coord.close();
server.close();
process.exit(failure ? 1 : 0);
