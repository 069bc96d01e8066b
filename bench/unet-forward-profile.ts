// Where a U-Net forward's time goes on one GPU (issue 7 section 3: the 1024-px DistriFusion ideal at
// N = 4 is 29 ms against a 46-ms single-device step, so something other than the GPU work does not
// shrink with the patch). The widened U-Net's whole forward at several sizes, one process, every case
// interleaved per round (drift hits each alike):
//  - host:   timer off, the default tuning (submit every 32 dispatches): wall ms per forward, the wait
//            in mapAsync for the final read-back, encode = wall - that wait (JS + Dawn calls + submits,
//            all on this thread), dispatches / passes / submits / bind groups created per forward.
//  - whole:  the same with flushEvery 0 (one submit at the read-back): encode and GPU run one after
//            the other, so the wait is the GPU's whole time after the last encode.
//  - gpu:    timestamps on the shared passes: GPU busy (sum of pass times) and span (first pass start
//            to last pass end) per forward; span - busy = the GPU idle between passes (waiting for the
//            host's next submit).
//  - kernels: sharedPass off, a pass per dispatch with timestamps: GPU ms per kernel file, summed over
//            the forward (each dispatch timed alone, so the sum is an upper bound on the busy time).
// A smaller px has the same dispatches as the larger one with a quarter of the conv work per halving,
// like a DistriFusion peer's row patch (whose attention still reads all keys).
//  - flushN (FLUSHES=16,64): host with a submit every N dispatches instead of 32.
// Env: PXS=256,512,1024  FLUSHES  WIDTH=1  REPS=5  OUT (bench/out)  LABEL  MACHINE (file name parts)
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/unet-forward-profile.ts', '.gpu-node/unet-forward-profile.mjs', { minify: true }))"
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomF32 } from './kernel-bench-util';
import { Gpu } from '../src/gpu/gpu';
import { DEFAULT_TUNING } from '../src/gpu/timer';
import { loadUnetModel } from '../src/engines/unet-image';
import { UnetGpu } from '../src/model/unet/forward-gpu';
import { randomUnetSafetensorsBytes, sdLikeUnetConfig } from '../src/model/unet/widened';

Object.assign(globalThis, globals);
const PXS = (process.env.PXS ?? '256,512,1024').split(',').map(Number);
const WIDTH = Number(process.env.WIDTH ?? '1');
const REPS = Number(process.env.REPS ?? '5');
const OUT = path.resolve(process.env.OUT ?? 'bench/out');
const LABEL = process.env.LABEL ?? '';
const log = (...a: unknown[]) => console.error(...a);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU, timestamps: true });
log(`adapter ${gpu.report.vendor} ${gpu.report.architecture} ${gpu.report.description}`);

// flushN: 'host' with flushEvery N (FLUSHES=16,64 adds those modes: the submit cadence's host cost vs the GPU's earlier start)
type Mode = 'host' | 'whole' | 'gpu' | 'kernels' | `flush${number}`;
const FLUSHES = (process.env.FLUSHES ?? '').split(',').filter(Boolean).map(Number);
const MODES: Mode[] = ['host', 'whole', 'gpu', 'kernels', ...FLUSHES.map((n) => `flush${n}` as const)];
const flushOf = (m: Mode): number => (m === 'whole' ? 0 : m.startsWith('flush') ? Number(m.slice(5)) : DEFAULT_TUNING.flushEvery);
interface Sample { wall: number; mapWait: number; dispatches: number; passes: number; submits: number; bindGroups: number; busy: number; span: number; byLabel: Record<string, number> }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/** One forward under `mode`'s tuning and timer; the counters and GPU times of just that forward. */
async function once(unet: UnetGpu, x: Float32Array, mode: Mode): Promise<Sample> {
  Object.assign(gpu.tuning, DEFAULT_TUNING, { flushEvery: flushOf(mode), sharedPass: mode !== 'kernels' });
  if (mode === 'gpu' || mode === 'kernels') gpu.enableTimer();
  else gpu.disableTimer();
  await gpu.sync();
  gpu.resetStats();
  const t0 = performance.now();
  await unet.forward(x, 500, 3); // [4, L, L]
  const wall = performance.now() - t0;
  const st = gpu.resetStats();
  const times = await gpu.gpuTimes();
  const byLabel: Record<string, number> = {};
  for (const [k, v] of Object.entries(times?.byLabel ?? {})) byLabel[k.replace(/^shaders\//, '').replace(/:main$/, '')] = v.ms;
  return {
    wall, mapWait: st.mapWaitMs, dispatches: st.dispatches, passes: st.passes, submits: st.submits, bindGroups: st.bindGroups,
    busy: times?.busyMs ?? NaN, span: times?.spanMs ?? NaN, byLabel,
  };
}

interface Row { px: number; mode: Mode; wallMs: number; mapWaitMs: number; encodeMs: number; gpuBusyMs: number; gpuSpanMs: number; dispatches: number; passes: number; submits: number; bindGroupsCreated: number; all: number[] }
const rows: Row[] = [];
const kernels: { px: number; kernel: string; ms: number; share: number }[] = [];
for (const px of PXS) {
  const config = sdLikeUnetConfig(px, WIDTH);
  const L = px / 8;
  log(`U-Net at ${px} px (latent ${L}), width ${WIDTH}`);
  const unet = UnetGpu.create(gpu, loadUnetModel(randomUnetSafetensorsBytes(config, 7)));
  const x = randomF32(config.inChannels * L * L, 2); // [4, L, L]
  const samples = new Map<Mode, Sample[]>(MODES.map((m) => [m, []]));
  for (let r = -1; r < REPS; r++) {
    for (const m of MODES) {
      const s = await once(unet, x, m);
      if (r >= 0) samples.get(m)!.push(s); // round -1 compiles and fills the caches
    }
  }
  for (const m of MODES) {
    const ss = samples.get(m)!;
    const last = ss[ss.length - 1];
    const wall = med(ss.map((s) => s.wall)), mapWait = med(ss.map((s) => s.mapWait));
    rows.push({
      px, mode: m, wallMs: wall, mapWaitMs: mapWait, encodeMs: med(ss.map((s) => s.wall - s.mapWait)),
      gpuBusyMs: med(ss.map((s) => s.busy)), gpuSpanMs: med(ss.map((s) => s.span)),
      dispatches: last.dispatches, passes: last.passes, submits: last.submits, bindGroupsCreated: last.bindGroups, all: ss.map((s) => +s.wall.toFixed(2)),
    });
    log(JSON.stringify(rows[rows.length - 1]));
  }
  const ks = samples.get('kernels')!;
  const total = med(ks.map((s) => s.busy));
  for (const k of Object.keys(ks[0].byLabel)) {
    const ms = med(ks.map((s) => s.byLabel[k] ?? 0));
    kernels.push({ px, kernel: k, ms, share: ms / total });
  }
  unet.destroy();
}

const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
const md = [
  `# U-Net forward profile: ${gpu.report.description || gpu.report.architecture} (${new Date().toISOString().slice(0, 10)})`, '',
  `Widened U-Net (sdLikeUnetConfig), width ${WIDTH}, medians of ${REPS} rounds (modes interleaved per round). host: default tuning, timer off; whole: one submit per forward; gpu: + pass timestamps; kernels: a timed pass per dispatch. encode = wall - mapAsync wait.`, '',
  '| px | mode | wall ms | encode ms | read wait ms | GPU busy ms | GPU span ms | dispatches | passes | submits | bind groups created | all wall ms |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.px} | ${r.mode} | ${f(r.wallMs)} | ${f(r.encodeMs)} | ${f(r.mapWaitMs)} | ${f(r.gpuBusyMs)} | ${f(r.gpuSpanMs)} | ${r.dispatches} | ${r.passes} | ${r.submits} | ${r.bindGroupsCreated} | ${r.all.join(', ')} |`), '',
  'GPU time per kernel file (kernels mode, each dispatch its own pass):', '',
  '| px | kernel | ms | share |', '|---|---|---:|---:|',
  ...kernels.sort((a, b) => a.px - b.px || b.ms - a.ms).map((k) => `| ${k.px} | ${k.kernel} | ${f(k.ms, 3)} | ${(100 * k.share).toFixed(1)}% |`),
].join('\n');
console.log(md);
fs.mkdirSync(OUT, { recursive: true });
const machine = process.env.MACHINE ?? (gpu.report.description || 'gpu').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
const base = `unet-forward-profile-${LABEL ? LABEL + '-' : ''}${machine}-${new Date().toISOString().slice(0, 10)}`;
fs.writeFileSync(path.join(OUT, `${base}.json`), JSON.stringify({
  bench: 'unet-forward-profile', date: new Date().toISOString(), machine, host: os.hostname(), adapter: gpu.report, width: WIDTH, reps: REPS, rows, kernels,
}, null, 1));
fs.writeFileSync(path.join(OUT, `${base}.md`), md + '\n');
gpu.destroy();
process.exit(0);
