// Where a decoded token's time goes in the WGSL Llama on one GPU (Node + Dawn), issue 7 §3. For each
// mode (src/gpu GpuTuning + LlamaGpu.persistentScratch + the fused/unfused model; 'base' = all off =
// the code before this work, 'before' = the defaults before kernel fusion and flushEvery 32,
// 'default' = the defaults now) it decodes STEPS greedy tokens after a PROMPT-token prefill and prints per token:
// wall ms, CPU ms (wall minus time awaiting mapAsync), GPU busy/span ms (timestamp queries, in a
// separate profiled pass over the same tokens), submits / readbacks / bind groups / passes / dispatches.
// Also: a tiny write->dispatch->copy->mapAsync round trip (the floor of every read-back), decodeBatch
// at B=1 and B=8, and tp-shaped decode (an identity all-reduce hook: two GPU read-backs per layer, no
// network) to split an all-reduce point into GPU read-back latency vs the network exchange.
// Every mode must decode the same greedy tokens as 'base' (tokens_match).
// Per-kernel breakdown (KERNELS=1, default; 0 skips it): the default mode re-run with every dispatch in a
// pass of its own (sharedPass off), each pass timed and labelled by its shader and entry point, so a
// token's GPU time splits by kernel (pass boundaries add a few us to each: the GPU time of a one-workgroup
// kernel's pass is measured beside it as the floor, and the busy total of the shared pass is printed too).
// Env: SHAPE=1B|7B|tiny (default 1B), KV_HEADS=n, WEIGHTS=f16|q8_0, PROMPT=32, STEPS=64, MODES=base,before,...,default (see MODE_DEFS).
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/llm-decode-profile.ts', '.gpu-node/decode-profile.mjs', { minify: true }))"
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import { Gpu, type GpuStats, type GpuTuning } from '../src/gpu/gpu';
import { DEFAULT_TUNING } from '../src/gpu/timer';
import { LlamaGpu } from '../src/model/llama';
import { SHAPES, benchWeights, shardOf, withKvHeads } from './random-shard';

Object.assign(globalThis, globals);

const only = process.env.SHAPE ?? '1B';
const PROMPT = Number(process.env.PROMPT ?? 32);
const STEPS = Number(process.env.STEPS ?? 64);
const PROFILE_STEPS = Math.min(STEPS, Number(process.env.PROFILE_STEPS ?? 16));
const KERNELS = process.env.KERNELS !== '0';
const weights = benchWeights(); // WEIGHTS=f16 (default) | q8_0
// fused: LlamaGpu.load's fuse option (q|k|v and gate|up stacked, fused rope+cache store, add+norm,
// swiglu: 9 dispatches a layer instead of 15). 'before' = the defaults before fusion and flushEvery 32;
// 'default' = the defaults now (every ratio below is against rows of the same run).
const MODE_DEFS: Record<string, { tuning: GpuTuning; persistent: boolean; fused: boolean }> = {
  base: { tuning: { cacheBindGroups: false, sharedPass: false, flushEvery: 0 }, persistent: false, fused: false },
  before: { tuning: { cacheBindGroups: true, sharedPass: true, flushEvery: 0 }, persistent: true, fused: false },
  'before-flush32': { tuning: { cacheBindGroups: true, sharedPass: true, flushEvery: 32 }, persistent: true, fused: false },
  'fused-noflush': { tuning: { cacheBindGroups: true, sharedPass: true, flushEvery: 0 }, persistent: true, fused: true },
  'fused-flush16': { tuning: { cacheBindGroups: true, sharedPass: true, flushEvery: 16 }, persistent: true, fused: true },
  default: { tuning: { ...DEFAULT_TUNING }, persistent: true, fused: true },
  'fused-flush64': { tuning: { cacheBindGroups: true, sharedPass: true, flushEvery: 64 }, persistent: true, fused: true },
};
const modes = (process.env.MODES ?? 'base,before,before-flush32,fused-noflush,fused-flush16,default,fused-flush64').split(',');
const [shapeName, shape] = Object.entries(SHAPES).find(([n]) => n.startsWith(only))!;
const { label: name, shape: base } = withKvHeads(shapeName, shape); // KV_HEADS=n, as in llm-gpu.ts
const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${l}`);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU, timestamps: true });
log(`adapter ${gpu.report.vendor} ${gpu.report.architecture} ${gpu.report.description}; timestamp-query: ${gpu.device.features.has('timestamp-query')}`);
const setMode = (m: string) => {
  const d = MODE_DEFS[m];
  if (!d) throw new Error(`unknown mode ${m}; known: ${Object.keys(MODE_DEFS).join(', ')}`);
  gpu.flush();
  Object.assign(gpu.tuning, d.tuning);
  model = d.fused ? fusedModel : plainModel!;
  model.persistentScratch = d.persistent;
};
const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
const r2 = (v: number) => Math.round(v * 1000) / 1000;

// ---------------------------------------------------------------- tiny round trip
const ADD = `struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < p.n) { x[g.x] = x[g.x] + 1.0; } }`;
async function roundTrips(reps = 200): Promise<Record<string, unknown>> {
  const k = { code: ADD, file: 'profile-add.wgsl' };
  const buf = gpu.alloc(16, 'rt'); // [4]
  const dev = gpu.device;
  const rb = dev.createBuffer({ size: 16, usage: 0x01 | 0x08 }); // MAP_READ | COPY_DST
  const cases: Record<string, () => Promise<void>> = {
    // What every all-reduce point and every token's logits read does: write, kernel, copy, submit, map.
    'write+dispatch+read (Gpu)': async () => {
      gpu.write(buf, new Float32Array(4));
      gpu.run(k, new Uint32Array([4, 0, 0, 0]), [buf], [1]);
      await gpu.read(buf, 16);
    },
    'copy+submit+mapAsync (raw)': async () => {
      const e = dev.createCommandEncoder();
      e.copyBufferToBuffer(buf, 0, rb, 0, 16);
      dev.queue.submit([e.finish()]);
      await rb.mapAsync(0x01);
      rb.unmap();
    },
    'empty submit+onSubmittedWorkDone': async () => {
      dev.queue.submit([dev.createCommandEncoder().finish()]);
      await dev.queue.onSubmittedWorkDone();
    },
    'copy+submit+onSubmittedWorkDone+mapAsync': async () => {
      const e = dev.createCommandEncoder();
      e.copyBufferToBuffer(buf, 0, rb, 0, 16);
      dev.queue.submit([e.finish()]);
      await dev.queue.onSubmittedWorkDone();
      await rb.mapAsync(0x01);
      rb.unmap();
    },
    'setImmediate (event loop floor)': () => new Promise<void>((r) => setImmediate(r)),
  };
  const out: Record<string, unknown> = {};
  for (const [label, fn] of Object.entries(cases)) {
    for (let i = 0; i < 10; i++) await fn();
    const ms: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
    out[label] = { min_ms: r2(Math.min(...ms)), p50_ms: r2(pct(ms, 0.5)), p90_ms: r2(pct(ms, 0.9)), mean_ms: r2(mean(ms)) };
    log(`round trip ${label}: p50 ${pct(ms, 0.5).toFixed(3)} ms, min ${Math.min(...ms).toFixed(3)}, p90 ${pct(ms, 0.9).toFixed(3)}`);
  }
  gpu.free(buf);
  rb.destroy();
  return out;
}
const rt = await roundTrips();

// ---------------------------------------------------------------- model
const tLoad = performance.now();
// Both weight sets stay alive for the whole run (one allocation set per process: see the GPU rules);
// the unfused one only when a mode needs it.
const shard = shardOf(base, 1, weights);
const fusedModel = await LlamaGpu.load(gpu, shard, { maxSeqLen: PROMPT + STEPS + 8, maxSlots: 8 });
const plainModel = modes.some((m) => MODE_DEFS[m] && !MODE_DEFS[m].fused)
  ? await LlamaGpu.load(gpu, shard, { maxSeqLen: PROMPT + STEPS + 8, maxSlots: 8, fuse: false })
  : null;
let model = fusedModel;
log(`${name}: ${(fusedModel.weightBytes() / 1e9).toFixed(2)} GB of weights (x${plainModel ? 2 : 1}: fused${plainModel ? ' + unfused' : ''}) loaded in ${((performance.now() - tLoad) / 1000).toFixed(1)} s`);
const prompt = new Int32Array(PROMPT).map((_, i) => (i * 7919) % base.vocabSize); // [PROMPT]
const argmax = (l: Float32Array, off = 0, n = l.length) => {
  let b = 0;
  for (let i = 1; i < n; i++) if (l[off + i] > l[off + b]) b = i;
  return b;
};
const identity = async (p: Float32Array) => p; // tp-shaped step without a network: the read-back/write-back cost alone

interface Row { [k: string]: unknown }
const perStep = (s: GpuStats, n: number) => ({
  submits: r2(s.submits / n), readbacks: r2(s.readbacks / n), bind_groups: r2(s.bindGroups / n), bind_hits: r2(s.bindGroupHits / n),
  passes: r2(s.passes / n), dispatches: r2(s.dispatches / n), writes: r2(s.writes / n), map_wait_ms: r2(s.mapWaitMs / n),
});

/** Prefills slot 0, then decodes `steps` greedy tokens; per-token wall ms and stats. */
async function decodeRun(steps: number, reduce: typeof identity | undefined, timed: boolean) {
  model.reset(0);
  const first = await model.forward(prompt, 0, reduce); // [vocab]
  let tok = argmax(first);
  const tokens: number[] = [];
  const wall: number[] = [];
  const gpuBusy: number[] = [];
  const gpuSpan: number[] = [];
  const byLabel: Record<string, { passes: number; ms: number }> = {}; // summed over the steps
  if (timed) await gpu.gpuTimes(); // drop the prefill's passes
  gpu.resetStats();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const logits = await model.forward(Int32Array.of(tok), PROMPT + i, reduce); // [vocab]
    wall.push(performance.now() - t0);
    tok = argmax(logits);
    tokens.push(tok);
    if (timed) {
      const t = await gpu.gpuTimes();
      if (t) {
        gpuBusy.push(t.busyMs);
        gpuSpan.push(t.spanMs);
        for (const [l, v] of Object.entries(t.byLabel)) {
          const o = (byLabel[l] ??= { passes: 0, ms: 0 });
          o.passes += v.passes;
          o.ms += v.ms;
        }
      }
    }
  }
  return { tokens, wall, gpuBusy, gpuSpan, byLabel, stats: gpu.resetStats() };
}

const rows: Row[] = [];
const detail: Record<string, unknown> = {};
let baseTokens: number[] | null = null;
const variants: { label: string; reduce?: typeof identity; modes: string[] }[] = [
  { label: 'decode tp=1', modes },
  { label: 'decode tp-shaped (identity all-reduce, 2 read-backs/layer)', reduce: identity, modes: modes.filter((m) => m === 'base' || m === 'before' || m === 'fused-noflush' || m === 'default') },
];
for (const v of variants) {
  for (const m of v.modes) {
    setMode(m);
    await decodeRun(2, v.reduce, false); // warm-up: pipelines, caches, pool
    const run = await decodeRun(STEPS, v.reduce, false);
    // Profiled pass (timestamp queries around every pass): GPU time per token, separate from the wall timing.
    let prof: Awaited<ReturnType<typeof decodeRun>> | null = null;
    if (gpu.enableTimer()) {
      prof = await decodeRun(PROFILE_STEPS, v.reduce, true);
      gpu.disableTimer();
    }
    const st = perStep(run.stats, STEPS);
    const wallMean = mean(run.wall);
    if (!v.reduce) baseTokens ??= run.tokens;
    const row: Row = {
      case: v.label, mode: m, tok_s: r2(1000 / wallMean), wall_ms_mean: r2(wallMean), wall_ms_p50: r2(pct(run.wall, 0.5)),
      cpu_ms: r2(wallMean - st.map_wait_ms), gpu_busy_ms: prof ? r2(mean(prof.gpuBusy)) : null, gpu_span_ms: prof ? r2(mean(prof.gpuSpan)) : null,
      ...st, read_ms_per_readback: r2(run.stats.mapWaitMs / Math.max(1, run.stats.readbacks)),
      tokens_match: baseTokens ? run.tokens.every((t, i) => t === baseTokens![i]) : null,
    };
    rows.push(row);
    detail[`${v.label} | ${m}`] = { wall_ms: run.wall.map(r2), gpu_busy_ms: prof?.gpuBusy.map(r2), gpu_span_ms: prof?.gpuSpan.map(r2), tokens: run.tokens.slice(0, 16) };
    log(`${v.label} [${m}]: ${(1000 / wallMean).toFixed(1)} tok/s, wall ${wallMean.toFixed(2)} ms/token (cpu ${row.cpu_ms}, map wait ${st.map_wait_ms}), gpu busy ${row.gpu_busy_ms} span ${row.gpu_span_ms}; per token: ${st.submits} submits, ${st.readbacks} readbacks, ${st.bind_groups} bind groups (${st.bind_hits} cached), ${st.passes} passes, ${st.dispatches} dispatches; tokens match base: ${row.tokens_match}`);
    log(`  per-token wall ms: ${run.wall.slice(0, 12).map((x) => x.toFixed(2)).join(' ')} ...`);
  }
}

// ---------------------------------------------------------------- per-kernel breakdown
interface KernelRow { kernel: string; passes_per_token: number; us_per_token: number; us_per_pass: number; us_per_pass_net: number; pct_of_busy: number }
const kernelRows: KernelRow[] = [];
let kernelBusyMs: number | null = null;
// The floors the per-kernel numbers sit on, measured here: a one-workgroup kernel in a pass of its own (GPU
// us per pass: what a pass boundary and a dispatch cost before any work), and the host CPU per Gpu.run of it
// (encode + a submit per flushEvery dispatches; the model's own JS comes on top).
const floors = { pass_us: null as number | null, cpu_us_per_run: null as number | null };
if (KERNELS && modes.includes('default')) {
  setMode('default');
  const k = { code: ADD, file: 'profile-add.wgsl' };
  const buf = gpu.alloc(256, 'floor'); // [64]
  const runAdd = (n: number) => { for (let i = 0; i < n; i++) gpu.run(k, new Uint32Array([64, 0, 0, 0]), [buf], [1]); };
  runAdd(64);
  await gpu.sync();
  const t0 = performance.now();
  runAdd(4096);
  floors.cpu_us_per_run = r2(((performance.now() - t0) * 1000) / 4096);
  await gpu.sync();
  gpu.tuning.sharedPass = false; // a pass (and so a timestamp pair) per dispatch
  if (gpu.enableTimer()) {
    runAdd(256);
    const f = (await gpu.gpuTimes())?.byLabel['profile-add.wgsl:main'];
    floors.pass_us = f ? r2((f.ms * 1000) / f.passes) : null;
    log(`floors: ${floors.pass_us} us of GPU per one-workgroup pass, ${floors.cpu_us_per_run} us of host CPU per Gpu.run`);
    await decodeRun(2, undefined, true); // warm-up with the pass-per-dispatch encoding
    const prof = await decodeRun(PROFILE_STEPS, undefined, true);
    gpu.disableTimer();
    const n = prof.gpuBusy.length;
    kernelBusyMs = r2(mean(prof.gpuBusy));
    for (const [kernel, v] of Object.entries(prof.byLabel)) {
      kernelRows.push({
        kernel, passes_per_token: r2(v.passes / n), us_per_token: r2((v.ms * 1000) / n),
        us_per_pass: r2((v.ms * 1000) / v.passes), us_per_pass_net: r2(Math.max(0, (v.ms * 1000) / v.passes - (floors.pass_us ?? 0))),
        pct_of_busy: r2((100 * v.ms) / n / kernelBusyMs),
      });
    }
    kernelRows.sort((a, b) => b.us_per_token - a.us_per_token);
    for (const k of kernelRows) log(`  ${k.kernel}: ${k.us_per_token} us/token (${k.passes_per_token} x ${k.us_per_pass} us), ${k.pct_of_busy}%`);
    log(`per-kernel busy ${kernelBusyMs} ms/token over ${n} tokens (shared-pass busy: ${rows.find((r) => r.case === 'decode tp=1' && r.mode === 'default')?.gpu_busy_ms ?? '—'} ms)`);
  }
  setMode('default');
  gpu.free(buf);
}

// ---------------------------------------------------------------- batched decode
for (const m of modes.filter((x) => x === 'base' || x === 'before' || x === 'default')) {
  setMode(m);
  for (const B of [1, 8]) {
    for (let s = 0; s < B; s++) { model.reset(s); await model.forward(prompt, 0, undefined, s); }
    const step = (i: number) => model.decodeBatch(Array.from({ length: B }, (_, s) => ({ slot: s, token: (11 + i + s) % base.vocabSize, pos: PROMPT + i })));
    await step(0);
    gpu.resetStats();
    const n = Math.min(STEPS, 32);
    const t0 = performance.now();
    for (let i = 1; i <= n; i++) await step(i);
    const ms = (performance.now() - t0) / n;
    const st = perStep(gpu.resetStats(), n);
    rows.push({ case: `decodeBatch B=${B}`, mode: m, tok_s: r2((1000 * B) / ms), wall_ms_mean: r2(ms), cpu_ms: r2(ms - st.map_wait_ms), ...st });
    log(`decodeBatch B=${B} [${m}]: ${((1000 * B) / ms).toFixed(1)} tok/s, ${ms.toFixed(2)} ms/step; ${st.bind_groups} bind groups, ${st.passes} passes, ${st.submits} submits per step`);
  }
}

const baseRow = rows.find((r) => r.mode === 'base' && r.case === 'decode tp=1');
for (const r of rows) {
  for (const [key, mode] of [['speedup_vs_base', 'base'], ['speedup_vs_before', 'before']]) {
    const ref = rows.find((x) => x.case === r.case && x.mode === mode);
    r[key] = ref ? r2((r.tok_s as number) / (ref.tok_s as number)) : null;
  }
}
const doc = {
  name: 'llm-decode-profile', model: name, weights, prompt: PROMPT, steps: STEPS, profile_steps: PROFILE_STEPS, date: new Date().toISOString(),
  machine: { hostname: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model }, node: process.version, adapter: gpu.report,
  modes: Object.fromEntries(modes.map((m) => [m, MODE_DEFS[m]])), round_trips: rt, rows, detail, base_tok_s: baseRow?.tok_s ?? null,
  kernels: { busy_ms_per_token: kernelBusyMs, floors, rows: kernelRows },
};
const cols = ['case', 'mode', 'tok_s', 'speedup_vs_base', 'speedup_vs_before', 'wall_ms_mean', 'cpu_ms', 'map_wait_ms', 'gpu_busy_ms', 'gpu_span_ms', 'submits', 'readbacks', 'read_ms_per_readback', 'bind_groups', 'passes', 'dispatches', 'tokens_match'];
const md = [
  `# Decode profile (bench/llm-decode-profile.ts): ${name}, random ${weights} weights, prompt ${PROMPT}, ${STEPS} tokens`,
  '', `${doc.date}, ${gpu.report.description || gpu.report.vendor}, ${os.cpus()[0]?.model} x${os.cpus().length}, Node ${process.version}`, '',
  '| round trip | min ms | p50 ms | p90 ms |', '| --- | --- | --- | --- |',
  ...Object.entries(rt).map(([k, v]) => { const o = v as Record<string, number>; return `| ${k} | ${o.min_ms} | ${o.p50_ms} | ${o.p90_ms} |`; }),
  '', `| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${cols.map((c) => (r[c] === undefined || r[c] === null ? '—' : String(r[c]))).join(' | ')} |`),
  ...(kernelRows.length
    ? ['', `Per-kernel GPU time of a decode token (default mode, a pass per dispatch; ${kernelBusyMs} ms busy a token). Floors: ${floors.pass_us} us of GPU per pass of a one-workgroup kernel (net = us/pass minus that), ${floors.cpu_us_per_run} us of host CPU per Gpu.run of it:`, '',
      '| kernel | passes/token | us/token | us/pass | us/pass net | % of busy |', '| --- | --- | --- | --- | --- | --- |',
      ...kernelRows.map((k) => `| ${k.kernel} | ${k.passes_per_token} | ${k.us_per_token} | ${k.us_per_pass} | ${k.us_per_pass_net} | ${k.pct_of_busy} |`)]
    : []),
].join('\n');
console.log(md);
const out = process.env.OUT ?? 'bench/out';
fs.mkdirSync(out, { recursive: true });
const slug = `${only}${process.env.KV_HEADS ? `-kv${process.env.KV_HEADS}` : ''}${weights === 'f16' ? '' : '-' + weights}-p${PROMPT}-${String(gpu.report.description || gpu.report.vendor || 'gpu').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 30)}`;
fs.writeFileSync(`${out}/llm-decode-profile-${slug}.json`, JSON.stringify(doc, null, 2));
fs.writeFileSync(`${out}/llm-decode-profile-${slug}.md`, md + '\n');
log(`wrote ${out}/llm-decode-profile-${slug}.{json,md}`);
process.exit(0);
