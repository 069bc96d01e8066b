// What encoding a widened U-Net forward costs the host, call by call (issue 7 section 3: a DistriFusion
// peer's step at N = 4 has ~13 ms of GPU work, so the host's encode time decides whether the GPU waits).
// Wraps the Dawn (npm webgpu) prototypes' methods (pass setPipeline / setBindGroup / dispatchWorkgroups,
// encoder beginComputePass / copyBufferToBuffer / finish, queue submit / writeBuffer, device createBindGroup
// / createBuffer / createCommandEncoder) and the Gpu contract's own (run, flush, alloc, free, copy, write,
// writeStaged; the pipeline and bind-group caches, the uniform arena) with a timer each, then times R
// forwards (N = 0) or R async steps of N loopback DistriFusion ranks sharing this Gpu (N > 0: corrected_async_gn
// with the exchange off; the ranks interleave on one thread, so their pooled buffers trade roles and
// bind groups are created that a one-rank process would reuse). Nested calls count in both (Gpu.run
// includes the Dawn calls it makes): read each row as "time inside this call".
// Env: PX=1024  WIDTH=1  R=20  N=0  OUT (bench/out)  LABEL  MACHINE
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/encode-cost.ts', '.gpu-node/encode-cost.mjs', { minify: true }))"
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loopbackComms } from '../src/collectives/loopback';
import { Gpu } from '../src/gpu/gpu';
import { loadUnetModel } from '../src/engines/unet-image';
import { UnetGpu } from '../src/model/unet/forward-gpu';
import { randomUnetSafetensorsBytes, sdLikeUnetConfig } from '../src/model/unet/widened';
import { runUnetPatchParallel } from '../src/parallel/patch-unet';
import { unetGpuPatchBackend } from '../src/parallel/patch-unet-gpu';

Object.assign(globalThis, globals);
const PX = Number(process.env.PX ?? 1024), WIDTH = Number(process.env.WIDTH ?? 1);
const R = Number(process.env.R ?? 20), N = Number(process.env.N ?? 0);
const OUT = path.resolve(process.env.OUT ?? 'bench/out');
const LABEL = process.env.LABEL ?? '';
const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU });
const model = loadUnetModel(randomUnetSafetensorsBytes(sdLikeUnetConfig(PX, WIDTH), 7));
const unet = UnetGpu.shared(gpu, model);
const x = new Float32Array(4 * (PX / 8) ** 2).fill(0.1); // [4, L, L]

const acc = new Map<string, { ms: number; n: number }>();
/** Replaces obj[name] with a timed wrapper that adds to acc under `label`. */
function wrap(obj: Record<string, unknown>, name: string, label: string): void {
  const orig = obj[name] as (...a: unknown[]) => unknown;
  obj[name] = function (this: unknown, ...a: unknown[]) {
    const t = performance.now();
    try {
      return orig.apply(this, a);
    } finally {
      const e = acc.get(label) ?? { ms: 0, n: 0 };
      e.ms += performance.now() - t;
      e.n++;
      acc.set(label, e);
    }
  };
}
const dev = gpu.device;
const enc0 = dev.createCommandEncoder();
const protoOf = (o: object) => Object.getPrototypeOf(o) as Record<string, unknown>;
for (const m of ['setPipeline', 'setBindGroup', 'dispatchWorkgroups', 'end']) wrap(protoOf(enc0.beginComputePass()), m, `pass.${m}`);
for (const m of ['beginComputePass', 'copyBufferToBuffer', 'finish']) wrap(protoOf(enc0), m, `encoder.${m}`);
for (const m of ['submit', 'writeBuffer']) wrap(protoOf(dev.queue), m, `queue.${m}`);
for (const m of ['createBindGroup', 'createBuffer', 'createCommandEncoder']) wrap(protoOf(dev), m, `device.${m}`);
const g = gpu as unknown as Record<string, Record<string, unknown>>;
for (const m of ['run', 'flush', 'alloc', 'free', 'copy', 'write', 'writeStaged']) wrap(g as unknown as Record<string, unknown>, m, `Gpu.${m}`);
wrap(g.pipelines, 'get', 'Gpu pipeline cache get');
wrap(g.binds, 'cached', 'Gpu bind-group cache');
wrap(g.uniforms, 'slice', 'Gpu uniform slice');

let wall = 0;
if (N === 0) {
  for (let r = 0; r < 5; r++) await unet.forward(x, 500, 3); // compiles, fills the pool and caches
  acc.clear();
  for (let r = 0; r < R; r++) {
    const t = performance.now();
    await unet.forward(x, 500, 3);
    wall += performance.now() - t;
  }
} else {
  const comms = loopbackComms(N);
  let t0 = 0;
  await Promise.all(comms.map((comm, rank) => runUnetPatchParallel({
    comm, model, rank, nPeers: N, sampler: { kind: 'ddim', steps: R + 3 }, mode: 'corrected_async_gn', commFree: true, warmupSteps: 2, seed: 1, label: 3, guidance: 1,
    backend: unetGpuPatchBackend(gpu, model),
    onStep: rank !== 0 ? undefined : (ev) => {
      if (ev.step !== 2) return; // the first async step: count from here
      acc.clear();
      t0 = performance.now();
    },
  })));
  wall = performance.now() - t0;
  comms.forEach((c) => c.dispose());
}
const per = N === 0 ? 'forward' : `async step of all ${N} ranks`;
const rows = [...acc.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([call, v]) => ({ call, msPer: v.ms / R, callsPer: v.n / R, usPerCall: (1000 * v.ms) / v.n }));
const md = [
  `# Encode cost per call: ${gpu.report.description || gpu.report.architecture} (${new Date().toISOString().slice(0, 10)})`, '',
  `Widened U-Net at ${PX} px, width ${WIDTH}; ${R} timed ${per}s, ${(wall / R).toFixed(2)} ms wall each. Time inside each call (nested calls count in their callers too).`, '',
  `| call | ms per ${per} | calls | us per call |`, '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.call} | ${r.msPer.toFixed(3)} | ${r.callsPer.toFixed(0)} | ${r.usPerCall.toFixed(2)} |`),
].join('\n');
console.log(md);
fs.mkdirSync(OUT, { recursive: true });
const machine = process.env.MACHINE ?? (gpu.report.description || 'gpu').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
const base = `encode-cost-${LABEL ? LABEL + '-' : ''}${machine}-${new Date().toISOString().slice(0, 10)}`;
fs.writeFileSync(path.join(OUT, `${base}.json`), JSON.stringify({ bench: 'encode-cost', date: new Date().toISOString(), machine, host: os.hostname(), adapter: gpu.report, px: PX, width: WIDTH, reps: R, n: N, wallMsPer: wall / R, rows }, null, 1));
fs.writeFileSync(path.join(OUT, `${base}.md`), md + '\n');
gpu.destroy();
process.exit(0);
