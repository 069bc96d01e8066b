// GPU time per kernel of a DistriFusion peer's step (issue 7 section 3): what does not shrink when the
// widened U-Net's 1024-px step is split over N peers? N ranks run corrected_async_gn with the exchange
// off (the speed bench's ideal: same kernels and shapes as the real exchange) in this one process, on
// its one GPU, over loopback collectives, all encoding onto one Gpu: the queue runs their work one
// dispatch after another, so with a timed pass per dispatch (sharedPass off) each kernel's time is its
// own even while the ranks interleave. Per (N, kernel file): GPU ms per rank per async step, and the
// dispatch count. N = 1 is the single device (no_sync on one rank: the plain forward's kernels).
// Times are upper bounds on the kernels' share of a shared-pass step (a pass each adds its boundary).
// Env: PX=1024  NS=1,2,4  STEPS=6  WARMUP=2  WIDTH=1  OUT (bench/out)  LABEL  MACHINE
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/distrifusion-kernels.ts', '.gpu-node/distrifusion-kernels.mjs', { minify: true }))"
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loopbackComms } from '../src/collectives/loopback';
import { Gpu } from '../src/gpu/gpu';
import { loadUnetModel } from '../src/engines/unet-image';
import { randomUnetSafetensorsBytes, sdLikeUnetConfig } from '../src/model/unet/widened';
import { runUnetPatchParallel } from '../src/parallel/patch-unet';
import { unetGpuPatchBackend } from '../src/parallel/patch-unet-gpu';

Object.assign(globalThis, globals);
const PX = Number(process.env.PX ?? '1024');
const NS = (process.env.NS ?? '1,2,4').split(',').map(Number);
const STEPS = Number(process.env.STEPS ?? '6');
const WARMUP = Number(process.env.WARMUP ?? '2');
const WIDTH = Number(process.env.WIDTH ?? '1');
const OUT = path.resolve(process.env.OUT ?? 'bench/out');
const LABEL = process.env.LABEL ?? '';
const log = (...a: unknown[]) => console.error(...a);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU, timestamps: true });
if (!gpu.enableTimer()) throw new Error('distrifusion-kernels: the adapter has no timestamp-query');
gpu.tuning.sharedPass = false; // a timed pass per dispatch, labelled by its kernel file
const model = loadUnetModel(randomUnetSafetensorsBytes(sdLikeUnetConfig(PX, WIDTH), 7));
log(`adapter ${gpu.report.description}; U-Net ${PX} px width ${WIDTH}`);

interface KRow { n: number; kernel: string; msPerRankStep: number; dispatchesPerRankStep: number; share: number }
const rows: KRow[] = [];
const totals: { n: number; gpuMsPerRankStep: number; dispatchesPerRankStep: number; timedSteps: number }[] = [];
for (const n of NS) {
  const byKernel = new Map<string, { ms: number; passes: number }>();
  let timedSteps = 0;
  let pending: Promise<void> = Promise.resolve();
  const comms = loopbackComms(n);
  await gpu.gpuTimes(); // drop what came before
  await Promise.all(comms.map((comm, rank) => runUnetPatchParallel({
    comm, model, rank, nPeers: n, sampler: { kind: 'ddim', steps: STEPS }, mode: n === 1 ? 'no_sync' : 'corrected_async_gn', commFree: n > 1,
    warmupSteps: WARMUP, seed: 1, label: 3, guidance: 1, backend: unetGpuPatchBackend(gpu, model),
    // Rank 0's step ends mark the windows: the window ending at step k (> WARMUP) holds about one async step of every rank.
    onStep: rank !== 0 ? undefined : (ev) => {
      const timed = ev.step > WARMUP;
      pending = pending.then(async () => {
        const t = await gpu.gpuTimes();
        if (!timed || !t) return;
        timedSteps++;
        for (const [k, v] of Object.entries(t.byLabel)) {
          const e = byKernel.get(k) ?? { ms: 0, passes: 0 };
          e.ms += v.ms;
          e.passes += v.passes;
          byKernel.set(k, e);
        }
      });
    },
  })));
  await pending;
  comms.forEach((c) => c.dispose());
  const per = timedSteps * n;
  const total = [...byKernel.values()].reduce((a, v) => a + v.ms, 0) / per;
  const disp = [...byKernel.values()].reduce((a, v) => a + v.passes, 0) / per;
  totals.push({ n, gpuMsPerRankStep: total, dispatchesPerRankStep: disp, timedSteps });
  for (const [k, v] of byKernel) {
    rows.push({ n, kernel: k.replace(/^shaders\//, '').replace(/:main$/, ''), msPerRankStep: v.ms / per, dispatchesPerRankStep: v.passes / per, share: v.ms / per / total });
  }
  log(`N=${n}: ${total.toFixed(2)} GPU ms and ${disp.toFixed(0)} dispatches per rank per step (${timedSteps} windows)`);
}

const f = (v: number, d = 2) => v.toFixed(d);
const md = [
  `# DistriFusion kernels per peer step: ${gpu.report.description || gpu.report.architecture} (${new Date().toISOString().slice(0, 10)})`, '',
  `Widened U-Net at ${PX} px, width ${WIDTH}; N ranks of corrected_async_gn with the exchange off (N = 1: the single device) in one process on one GPU, a timed pass per dispatch; DDIM ${STEPS} steps, warm-up ${WARMUP}, windows after it.`, '',
  '| N | GPU ms per rank-step | dispatches per rank-step | speed-up of the GPU work vs N=1 |', '|---|---:|---:|---:|',
  ...totals.map((t) => `| ${t.n} | ${f(t.gpuMsPerRankStep)} | ${f(t.dispatchesPerRankStep, 0)} | ${f(totals[0].gpuMsPerRankStep / t.gpuMsPerRankStep)}x |`), '',
  '| N | kernel | ms per rank-step | dispatches | share |', '|---|---|---:|---:|---:|',
  ...rows.sort((a, b) => a.n - b.n || b.msPerRankStep - a.msPerRankStep).map((r) => `| ${r.n} | ${r.kernel} | ${f(r.msPerRankStep, 3)} | ${f(r.dispatchesPerRankStep, 0)} | ${(100 * r.share).toFixed(1)}% |`),
].join('\n');
console.log(md);
fs.mkdirSync(OUT, { recursive: true });
const machine = process.env.MACHINE ?? (gpu.report.description || 'gpu').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
const base = `distrifusion-kernels-${LABEL ? LABEL + '-' : ''}${machine}-${new Date().toISOString().slice(0, 10)}`;
fs.writeFileSync(path.join(OUT, `${base}.json`), JSON.stringify({ bench: 'distrifusion-kernels', date: new Date().toISOString(), machine, host: os.hostname(), adapter: gpu.report, px: PX, width: WIDTH, steps: STEPS, warmup: WARMUP, totals, rows }, null, 1));
fs.writeFileSync(path.join(OUT, `${base}.md`), md + '\n');
gpu.destroy();
process.exit(0);
