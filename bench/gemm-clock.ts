// What clock the f32 GEMM runs at (issue 7's "50 TFLOPS, 75% of the ~67 TFLOPS FP32 peak"): the 4096^3
// winner of bench/gemm-sweep.ts (gemm_reg_r16x8, 128x256 tiles, bk16) timed in back-to-back passes for
// DURATION seconds while `nvidia-smi` samples the SM clock and power every 100 ms. The peak at the sampled
// clock (SMs x 128 FP32 lanes x 2 FLOPs x clock, Hopper) says how far the kernel is from that chip's
// ceiling under this load, beside the nominal boost-clock peak. The result is checked on sampled entries
// against an f64 CPU dot product. NVIDIA only (nvidia-smi); elsewhere it reports the TFLOPS alone.
// Env: N=4096  DURATION=8  SMS (default: 132 for H100/H200 SXM)  OUT (default bench/out).
// Bundle: node scripts/bundle.mjs bench/gemm-clock.ts .gpu-node/gemm-clock.mjs
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { create, globals } from 'webgpu';
import { percentile } from '../src/collectives/bench';
import { Gpu } from '../src/gpu/gpu';
import { gemmReg, type GemmRegConfig } from '../src/kernels/gemm-reg';
import { randomF32, timeCalls } from './kernel-bench-util';

Object.assign(globalThis, globals);
const N = Number(process.env.N ?? 4096);
const DURATION = Number(process.env.DURATION ?? 8);
const SMS = Number(process.env.SMS ?? 132);
const OUT = process.env.OUT ?? 'bench/out';
// The 4096^3 winner on H100 and H200 (bench/results/gemm-sweep-nvidia-h200-2026-11-28.md): 48.27 TFLOPS.
const CFG: GemmRegConfig = { wgX: 32, wgY: 8, tm: 16, tn: 8, bk: 16, stages: 1, warpX: 16, groupM: 0, regs: true };

interface Sample { t: number; smMHz: number; maxSmMHz: number; powerW: number; powerLimitW: number; tempC: number }

/** nvidia-smi sampling every 100 ms until stop(); null when there is no nvidia-smi. */
function sampleClocks(): { samples: Sample[]; stop: () => void; name: Promise<string | null> } | null {
  const samples: Sample[] = [];
  let buf = '';
  let name: (v: string | null) => void = () => undefined;
  const named = new Promise<string | null>((r) => (name = r));
  let p;
  try {
    p = spawn('nvidia-smi', ['--query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu', '--format=csv,noheader,nounits', '-lms', '100']);
  } catch {
    return null;
  }
  p.on('error', () => name(null));
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      const f = line.split(',').map((x) => x.trim());
      if (f.length < 6) continue;
      name(f[0]);
      samples.push({ t: performance.now(), smMHz: Number(f[1]), maxSmMHz: Number(f[2]), powerW: Number(f[3]), powerLimitW: Number(f[4]), tempC: Number(f[5]) });
    }
  });
  return { samples, stop: () => p.kill(), name: named };
}

/** The median of the finite values (nvidia-smi prints [N/A] where a GPU has no reading). */
const median = (a: number[]) => percentile(a.filter(Number.isFinite), 0.5);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU, timestamps: true });
gpu.tuning.flushEvery = 0; // one pass of all calls: the timestamps bracket only GPU work
const timed = gpu.enableTimer();
const smi = sampleClocks();
const a = randomF32(N * N); // [N, N]
const b = randomF32(N * N); // [N, N]
const ga = gpu.upload(a); // [N, N]
const gb = gpu.upload(b); // [N, N]
const flops = 2 * N * N * N;
const run = () => gemmReg(gpu, ga, gb, N, N, N, { config: CFG }); // [N, N] pooled
// check a few entries of one product against f64 dot products
const c = new Float32Array(await gpu.read(run(), N * N * 4)); // [N, N]
let err = 0;
for (let s = 0; s < 64; s++) {
  const i = (s * 977) % N, j = (s * 1373 + 11) % N;
  let d = 0, m = 0;
  for (let k = 0; k < N; k++) {
    d += a[i * N + k] * b[k * N + j];
    m += Math.abs(a[i * N + k] * b[k * N + j]);
  }
  err = Math.max(err, Math.abs(c[i * N + j] - d) / m);
}
await new Promise((r) => setTimeout(r, 1000)); // idle samples first
const t0 = performance.now();
const secs: number[] = [];
while (performance.now() - t0 < DURATION * 1000) secs.push(await timeCalls(gpu, run, 0.3, 400));
const t1 = performance.now();
await new Promise((r) => setTimeout(r, 300));
smi?.stop();
const gpuName = smi ? await Promise.race([smi.name, new Promise<null>((r) => setTimeout(() => r(null), 100))]) : null;
const load = (smi?.samples ?? []).filter((s) => s.t > t0 + 1000 && s.t < t1); // the first second ramps up
const idle = (smi?.samples ?? []).filter((s) => s.t < t0);
const sec = median(secs);
const tflops = flops / sec / 1e12;
const clk = median(load.map((s) => s.smMHz));
const maxClk = median(load.map((s) => s.maxSmMHz));
const peakAt = (mhz: number) => (SMS * 128 * 2 * mhz * 1e6) / 1e12; // Hopper: 128 FP32 lanes per SM
const res = {
  name: 'gemm-clock', date: new Date().toISOString(), gpu: gpuName, adapter: gpu.report, timing: timed ? 'timestamp queries' : 'wall clock',
  shape: `${N}^3 NN f32`, config: CFG, passes: secs.length, ms: sec * 1e3, tflops, rel_err: err, sms: SMS,
  sm_clock_mhz_under_load: clk, sm_clock_mhz_max: maxClk, sm_clock_mhz_idle: median(idle.map((s) => s.smMHz)),
  power_w_under_load: median(load.map((s) => s.powerW)), power_limit_w: median(load.map((s) => s.powerLimitW)), temp_c: median(load.map((s) => s.tempC)),
  peak_tflops_at_load_clock: Number.isFinite(clk) ? peakAt(clk) : null, peak_tflops_at_max_clock: Number.isFinite(maxClk) ? peakAt(maxClk) : null,
  pct_of_load_clock_peak: Number.isFinite(clk) ? (100 * tflops) / peakAt(clk) : null, pct_of_max_clock_peak: Number.isFinite(maxClk) ? (100 * tflops) / peakAt(maxClk) : null,
  samples_under_load: load.length,
};
const f = (x: number | null, d = 1) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const md = [
  `# f32 GEMM and the SM clock (${gpuName ?? res.adapter.description}, ${res.date.slice(0, 10)})`, '',
  `${res.shape}, gemm_reg_r16x8 128x256 bk16, ${res.passes} passes over ${DURATION} s, ${res.timing}; rel err ${res.rel_err.toExponential(1)} on 64 sampled entries vs f64. nvidia-smi every 100 ms (${load.length} samples under load, the first second dropped).`, '',
  '| TFLOPS | ms | SM clock under load (MHz) | max SM clock (MHz) | power (W) / limit | temp (C) | FP32 peak at load clock | % of it | FP32 peak at max clock | % of it |',
  '|---|---|---|---|---|---|---|---|---|---|',
  `| ${f(tflops, 2)} | ${f(sec * 1e3, 3)} | ${f(clk, 0)} | ${f(maxClk, 0)} | ${f(res.power_w_under_load, 0)} / ${f(res.power_limit_w, 0)} | ${f(res.temp_c, 0)} | ${f(res.peak_tflops_at_load_clock, 1)} | ${f(res.pct_of_load_clock_peak, 1)} | ${f(res.peak_tflops_at_max_clock, 1)} | ${f(res.pct_of_max_clock_peak, 1)} |`, '',
  `FP32 peak = ${SMS} SMs x 128 lanes x 2 FLOPs x clock. Issue 7's goal: 50 TFLOPS (75% of ~67).`,
].join('\n');
console.log(JSON.stringify(res, null, 2));
console.log(md);
fs.mkdirSync(OUT, { recursive: true });
const base = path.join(OUT, `gemm-clock-${String(gpuName ?? res.adapter.vendor).toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${res.date.slice(0, 10)}`);
fs.writeFileSync(`${base}.json`, JSON.stringify(res, null, 2));
fs.writeFileSync(`${base}.md`, md + '\n');
process.exit(0);
