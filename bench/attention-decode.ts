// Decode attention bandwidth (issue 7: "attention decode at 70% or more of memory bandwidth"): the old
// kernel (attention.wgsl, one workgroup per head) against the split-KV kernel (attention_split.wgsl +
// attention_combine.wgsl), both through src/kernels/attention.ts on src/gpu, at 7B- and 1B-like shapes and
// contexts up to 16384. Bytes = the K and V rows of the context (2 * ctx * kvDim * 4), which is what
// decode must read; GB/s against the H100's 3.35 TB/s and a measured stream copy (read + write).
// Timing: timestamp queries around ONE compute pass of many attention() calls (flushEvery 0), each call
// on another KV region, rotating over >= ~512 MB of caches so L2 (50 MB on an H100) never holds them.
// Each case's outputs (both kernels, the first region) are checked against the CPU reference() on
// sampled heads. Also a sweep of splitTuning on a few cases. All buffers are allocated once per process.
// Env: QUICK=1 (lavapipe-sized), SWEEP=0 (skip the sweep), TUNE (JSON, splitTuning overrides), OUT (default bench/out),
// MODE=gqa: only the GQA kernel sweep (bench/attention-decode-gqa.ts: fixed-cost floor, block / lane / tile
// kernels and tile knobs at 7B-GQA and 1B-GQA, 4096 and 16384, MHA as a no-regression row).
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/attention-decode.ts', '.gpu-node/attn-decode.mjs', { minify: true }))"
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import streamWgsl from '../shaders/gemm/stream.wgsl?raw';
import { Gpu } from '../src/gpu/gpu';
import { attention, reference, splitChunks, splitPlan, splitTuning, type AttnImpl } from '../src/kernels/attention';
import { attentionBatch, attentionReference, packRows, type BatchRow } from '../src/kernels/batch-decode';
import { params } from '../src/kernels/common';
import { gqaSweep } from './attention-decode-gqa';
import { markWork, warmIfIdle } from './kernel-bench-util';

Object.assign(globalThis, globals);
const QUICK = process.env.QUICK === '1';
const MODE = process.env.MODE ?? 'all';
const SWEEP = process.env.SWEEP !== '0';
// The bench's head -> kv head maps are regular; KV_SCAN=1 makes the warp kernel scan kvmap as for an irregular one.
const KV_REGULAR = process.env.KV_SCAN !== '1';
// TUNE='{"unroll":1,"targetWorkgroups":1024}' overrides splitTuning for the main and batched rows (and is
// the sweep's reset point), so a sweep's best point can be re-measured without a rebuild.
Object.assign(splitTuning, JSON.parse(process.env.TUNE ?? '{}') as Partial<typeof splitTuning>);
const log = (...a: unknown[]) => console.error(...a);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU, timestamps: true });
gpu.tuning.flushEvery = 0; // one pass of all calls: the timestamps bracket only GPU work
const hasTs = gpu.enableTimer();
// The HBM peak of the GPUs we measure on (H100 SXM HBM3 3.35 TB/s, H200 HBM3e 4.8 TB/s); others: the H100's, named so.
const peakDesc = `${gpu.report.description} ${gpu.report.architecture} ${(gpu.device as unknown as { adapterInfo?: { device?: string } }).adapterInfo?.device ?? ''}`.toLowerCase(); // Dawn: device 'nvidia-h200'
const PEAK_NAME = peakDesc.includes('h200') ? 'H200' : 'H100 SXM';
const PEAK_GBS = PEAK_NAME === 'H200' ? 4800 : 3350;
const sg = (gpu.device as unknown as { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
log(`adapter ${gpu.report.vendor} ${gpu.report.architecture} ${gpu.report.description}; subgroups ${gpu.report.hasSubgroups} ` +
  `(${sg?.subgroupMinSize}-${sg?.subgroupMaxSize}); timestamps ${hasTs}`);

/** GPU seconds per call of `enqueue` (median of `trials` passes of `reps` calls; wall clock without timestamps). */
async function timeCalls(enqueue: (i: number) => void, targetSec: number, trials = 3): Promise<number> {
  const pass = async (reps: number): Promise<number> => {
    await gpu.sync();
    await gpu.gpuTimes(); // drops earlier passes
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) enqueue(i);
    await gpu.sync();
    const wall = (performance.now() - t0) / 1e3;
    const t = await gpu.gpuTimes();
    return (t && t.passes ? t.busyMs / 1e3 : wall) / reps;
  };
  const est = await pass(2); // compiles
  const reps = Math.max(3, Math.min(QUICK ? 6 : 2000, Math.ceil(targetSec / Math.max(est, 1e-7))));
  await warmIfIdle(() => pass(reps));
  const runs: number[] = [];
  for (let i = 0; i < trials; i++) runs.push(await pass(reps));
  markWork();
  runs.sort((a, b) => a - b);
  return runs[Math.floor(trials / 2)];
}

// ---------------------------------------------------------------- caches (allocated once)

const NBUF = 4; // K and V each: NBUF buffers of BUF bytes
const BUF = Math.min(QUICK ? 8 << 20 : 256 << 20, gpu.report.limits.maxStorageBufferBindingSize);
const SEED = (QUICK ? 1 << 20 : 4 << 20); // floats of random data, repeated through every buffer
const kBufs = Array.from({ length: NBUF }, (_, i) => gpu.alloc(BUF, `k${i}`));
const vBufs = Array.from({ length: NBUF }, (_, i) => gpu.alloc(BUF, `v${i}`));

// Stream copy first (K buffer 0 -> 1, before they are filled): the practical bandwidth ceiling.
const streamN = BUF / 16; // vec4s each way
const streamSec = await timeCalls(() => gpu.run({ code: streamWgsl, file: 'shaders/gemm/stream.wgsl', constants: { WG: 256 } },
  params(streamN, { f: 1.5 }, 0, 0), [kBufs[0], kBufs[1]], [Math.min(Math.ceil(streamN / 1024), 65535), 1]), 0.02);
const streamGBs = (2 * BUF) / streamSec / 1e9;
log(`stream copy ${streamGBs.toFixed(0)} GB/s`);

let seed = 12345;
function randomF32(n: number, scale = 1): Float32Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    f[i] = (seed / 4294967296 - 0.5) * scale;
  }
  return f;
}
const kSeed = randomF32(SEED), vSeed = randomF32(SEED);
for (const [bufs, data] of [[kBufs, kSeed], [vBufs, vSeed]] as const) {
  const src = gpu.upload(data, 'seed'); // [SEED]
  for (const b of bufs) for (let off = 0; off < BUF; off += SEED * 4) gpu.copy(src, 0, b, off, Math.min(SEED * 4, BUF - off));
  await gpu.sync();
  src.destroy();
}
/** The first n floats of any buffer (the seed repeated). */
function hostRegion(seedArr: Float32Array, n: number): Float32Array {
  const a = new Float32Array(n); // [n]
  for (let o = 0; o < n; o += seedArr.length) a.set(seedArr.subarray(0, Math.min(seedArr.length, n - o)), o);
  return a;
}

// ---------------------------------------------------------------- cases

interface Shape { name: string; nHeads: number; nKv: number; hd: number }
const SHAPES: Shape[] = [
  { name: '7B-gqa', nHeads: 32, nKv: 8, hd: 128 },
  { name: '7B-mha', nHeads: 32, nKv: 32, hd: 128 },
  { name: '1B', nHeads: 32, nKv: 4, hd: 64 },
];
const CTXS = QUICK ? [1, 40, 300] : [128, 1024, 4096, 16384];

interface Setup { shape: Shape; ctx: number; kvDim: number; q: GPUBuffer; qHost: Float32Array; kvmap: GPUBuffer; kvmapHost: number[];
  out: GPUBuffer; regions: { buf: number; off: number }[]; setBytes: number }

function setup(shape: Shape, ctx: number): Setup {
  const kvDim = shape.nKv * shape.hd;
  const floats = ctx * kvDim; // one region [ctx, kvDim]
  const perBuf = Math.floor(BUF / 4 / floats);
  if (perBuf < 1) throw new Error(`${shape.name} ctx ${ctx}: ${floats * 4} bytes > buffer ${BUF}`);
  const setBytes = 2 * floats * 4;
  // Enough regions that one rotation streams >= 512 MB (>= 10x an H100's L2), all there are if fewer.
  const want = Math.max(2, Math.ceil((QUICK ? 8 << 20 : 512 << 20) / setBytes));
  const regions: { buf: number; off: number }[] = [];
  for (let r = 0; r < perBuf && regions.length < want; r++) for (let b = 0; b < NBUF && regions.length < want; b++) regions.push({ buf: b, off: r * floats });
  const qHost = randomF32(shape.nHeads * shape.hd, 4); // [nHeads*hd]: scale 4 gives peaky softmaxes
  const kvmapHost = Array.from({ length: shape.nHeads }, (_, h) => Math.floor((h * shape.nKv) / shape.nHeads));
  return { shape, ctx, kvDim, q: gpu.upload(qHost), qHost, kvmap: gpu.upload(new Uint32Array(kvmapHost)), kvmapHost,
    out: gpu.alloc(shape.nHeads * shape.hd * 4), regions, setBytes };
}

function call(s: Setup, impl: AttnImpl, i: number): void {
  const r = s.regions[i % s.regions.length];
  attention(gpu, s.q, kBufs[r.buf], vBufs[r.buf], s.kvmap, s.out, { T: 1, pos: s.ctx - 1, nHeads: s.shape.nHeads, headDim: s.shape.hd, kvDim: s.kvDim, kvRegular: KV_REGULAR }, r.off, impl);
}

const hostCache = { n: 0, kc: new Float32Array(0), vc: new Float32Array(0) }; // the last region check() built
/** Max |GPU - CPU reference| over sampled heads (first, middle, last) on region 0 (buffer 0, offset 0). */
async function check(s: Setup, impl: AttnImpl): Promise<number> {
  const { nHeads, hd } = s.shape;
  call(s, impl, 0);
  const got = new Float32Array(await gpu.read(s.out, nHeads * hd * 4)); // [nHeads*hd]
  const heads = [...new Set([0, nHeads >> 1, nHeads - 1])];
  const q = new Float32Array(heads.length * hd); // [heads, hd]
  heads.forEach((h, i) => q.set(s.qHost.subarray(h * hd, (h + 1) * hd), i * hd));
  const n = s.ctx * s.kvDim;
  if (hostCache.n !== n) Object.assign(hostCache, { n, kc: hostRegion(kSeed, n), vc: hostRegion(vSeed, n) }); // [ctx, kvDim] each
  const { kc, vc } = hostCache;
  const want = reference(q, kc, vc, heads.map((h) => s.kvmapHost[h]), { T: 1, pos: s.ctx - 1, nHeads: heads.length, headDim: hd, kvDim: s.kvDim });
  let err = 0;
  heads.forEach((h, i) => { for (let d = 0; d < hd; d++) err = Math.max(err, Math.abs(got[h * hd + d] - want[i * hd + d])); });
  return Number.isNaN(err) ? Infinity : err;
}

interface Row { shape: string; nHeads: number; nKv: number; headDim: number; ctx: number; impl: string; tuning: typeof splitTuning | null;
  consts: Record<string, number> | null; chunks: number | null; kvMB: number; regions: number; usGpu: number; GBs: number; pctPeak: number; pctStream: number; maxErr: number | null }
const rows: Row[] = [];
const sweep: Row[] = [];
const defaults = { ...splitTuning };

async function measure(s: Setup, impl: AttnImpl, withCheck: boolean): Promise<Row> {
  const sec = await timeCalls((i) => call(s, impl, i), QUICK ? 0.005 : 0.02);
  const GBs = s.setBytes / sec / 1e9;
  const plan = impl === 'split' ? splitPlan(gpu, s.shape.nHeads, s.shape.hd, s.kvDim, KV_REGULAR) : null;
  return { shape: s.shape.name, nHeads: s.shape.nHeads, nKv: s.shape.nKv, headDim: s.shape.hd, ctx: s.ctx, impl,
    tuning: impl === 'split' ? { ...splitTuning } : null, consts: plan?.consts ?? null, chunks: plan ? splitChunks(plan, s.ctx) : null, kvMB: s.setBytes / 2 ** 20,
    regions: s.regions.length, usGpu: sec * 1e6, GBs, pctPeak: (100 * GBs) / PEAK_GBS, pctStream: (100 * GBs) / streamGBs,
    maxErr: withCheck ? await check(s, impl) : null };
}

const canSplit = splitPlan(gpu, 32, 128, 1024) !== null;
if (!canSplit) log('no subgroups: the split kernel does not run here; old kernel only');
const gqa = MODE === 'gqa' && canSplit
  ? await gqaSweep({ gpu, quick: QUICK, kvRegular: KV_REGULAR, streamGBs, peakGBs: PEAK_GBS, log, timeCalls,
    setup: (name, ctx) => setup(SHAPES.find((x) => x.name === name)!, ctx), call, check })
  : null;
for (const shape of MODE === 'gqa' ? [] : SHAPES) {
  for (const ctx of CTXS) {
    const s = setup(shape, ctx);
    for (const impl of (canSplit ? ['shared', 'split'] : ['shared']) as AttnImpl[]) {
      const r = await measure(s, impl, true);
      rows.push(r);
      log(`${shape.name} ctx ${ctx} ${impl}: ${r.usGpu.toFixed(1)} us, ${r.GBs.toFixed(0)} GB/s (${r.pctPeak.toFixed(1)}% of peak, ` +
        `${r.pctStream.toFixed(1)}% of stream), err ${r.maxErr?.toExponential(1)}`);
    }
  }
}

// Batched decode (attentionBatch: B rows, each in its own cache slot of one layer buffer), old vs split.
interface BatchRowResult { shape: string; ctx: number; B: number; impl: string; usGpu: number; GBs: number; pctPeak: number;
  pctStream: number; maxErr: number }
const batchRows: BatchRowResult[] = [];
const BATCH: [string, number, number][] = QUICK ? [['7B-gqa', 40, 3]] : [['7B-gqa', 1024, 4], ['7B-gqa', 1024, 16], ['7B-gqa', 4096, 4], ['7B-gqa', 4096, 16], ['1B', 4096, 16]];
for (const [name, ctx, B] of canSplit && MODE !== 'gqa' ? BATCH : []) {
  const shape = SHAPES.find((x) => x.name === name)!;
  const kvDim = shape.nKv * shape.hd;
  if (B * ctx * kvDim * 4 > BUF) continue;
  const qHost = randomF32(B * shape.nHeads * shape.hd, 4); // [B, nHeads*hd]
  const q = gpu.upload(qHost);
  const kvmapHost = Array.from({ length: shape.nHeads }, (_, h) => Math.floor((h * shape.nKv) / shape.nHeads));
  const kvmap = gpu.upload(new Uint32Array(kvmapHost));
  // Row b in slot B-1-b (slots out of order), every row at the full context.
  const rowList: BatchRow[] = Array.from({ length: B }, (_, b) => ({ base: (B - 1 - b) * ctx, pos: ctx - 1 }));
  const rowBuf = gpu.upload(packRows(rowList));
  const out = gpu.alloc(B * shape.nHeads * shape.hd * 4); // [B, nHeads*hd]
  const shp = { nHeads: shape.nHeads, headDim: shape.hd, kvDim, kvRegular: KV_REGULAR };
  const bytes = B * 2 * ctx * kvDim * 4;
  for (const impl of ['shared', 'split'] as AttnImpl[]) {
    const go = (i: number) => attentionBatch(gpu, q, kBufs[i % NBUF], vBufs[i % NBUF], kvmap, rowBuf, out, B, shp, impl);
    const sec = await timeCalls(go, QUICK ? 0.005 : 0.02);
    go(0);
    const got = new Float32Array(await gpu.read(out, B * shape.nHeads * shape.hd * 4)); // [B, nHeads*hd]
    const kc = hostRegion(kSeed, B * ctx * kvDim), vc = hostRegion(vSeed, B * ctx * kvDim); // [B*ctx, kvDim]
    const n = shape.nHeads * shape.hd;
    const check = [0, B - 1];
    const qs = new Float32Array(check.length * n); // [2, nHeads*hd]
    check.forEach((b, i) => qs.set(qHost.subarray(b * n, (b + 1) * n), i * n));
    const want = attentionReference(qs, kc, vc, kvmapHost, check.map((b) => rowList[b]), shp);
    let err = 0;
    check.forEach((b, i) => { for (let d = 0; d < n; d++) err = Math.max(err, Math.abs(got[b * n + d] - want[i * n + d])); });
    const GBs = bytes / sec / 1e9;
    batchRows.push({ shape: name, ctx, B, impl, usGpu: sec * 1e6, GBs, pctPeak: (100 * GBs) / PEAK_GBS, pctStream: (100 * GBs) / streamGBs,
      maxErr: Number.isNaN(err) ? Infinity : err });
    log(`batch ${name} ctx ${ctx} B ${B} ${impl}: ${(sec * 1e6).toFixed(1)} us, ${GBs.toFixed(0)} GB/s, err ${err.toExponential(1)}`);
  }
}

// splitTuning sweep on a few cases (the defaults are one of the points).
if (SWEEP && canSplit && MODE !== 'gqa') {
  // GQA shapes (where 32 lanes per key were shuffle-bound): lanes per key (vpl), loads in flight (unroll),
  // chunk count (targetWorkgroups) and workgroup size; minChunk stays at its default.
  const cases: [string, number][] = QUICK ? [['7B-gqa', 300]] : [['7B-gqa', 1024], ['7B-gqa', 4096], ['7B-gqa', 16384], ['1B', 16384]];
  for (const [name, ctx] of cases) {
    const s = setup(SHAPES.find((x) => x.name === name)!, ctx);
    for (const wg of QUICK ? [128] : [128, 256]) for (const unroll of QUICK ? [1, 2] : [1, 2, 4]) for (const vpl of [2, 4])
      for (const targetWorkgroups of QUICK ? [64, 512] : [512, 1024, 2048]) {
        Object.assign(splitTuning, { wg, unroll, targetWorkgroups, vpl });
        const r = await measure(s, 'split', false);
        sweep.push(r);
        log(`sweep ${name} ctx ${ctx} wg ${wg} unroll ${unroll} vpl ${vpl} target ${targetWorkgroups}: ${r.GBs.toFixed(0)} GB/s (${r.pctPeak.toFixed(1)}%) ` +
          JSON.stringify(r.consts));
      }
    Object.assign(splitTuning, defaults);
  }
}

// ---------------------------------------------------------------- report

const adapter = { ...gpu.report, subgroupMinSize: sg?.subgroupMinSize, subgroupMaxSize: sg?.subgroupMaxSize,
  device: (gpu.device as unknown as { adapterInfo?: { device?: string } }).adapterInfo?.device };
const result = {
  bench: 'attention-decode', date: new Date().toISOString(), quick: QUICK,
  machine: { hostname: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model }, node: process.version, adapter,
  timing: hasTs ? 'timestamp queries around one pass of many calls' : 'wall clock (no timestamp-query)',
  peakGBs: PEAK_GBS, streamGBs, defaults, rows, batch: batchRows, sweep, gqa: gqa?.json ?? null,
};
const f = (x: number | null | undefined, d = 1) => (x == null ? '-' : x.toFixed(d));
const md: string[] = [
  `# Decode attention: old kernel vs split-KV (${adapter.description || adapter.vendor}, ${result.date.slice(0, 10)})`, '',
  `Dawn (npm webgpu); ${result.timing}. f32 KV cache; bytes = K+V of the context. Stream copy ${f(streamGBs, 0)} GB/s; ` +
    `peak ${PEAK_GBS} GB/s (${PEAK_NAME}). Split defaults: ${JSON.stringify(defaults)}; subgroup size ` +
    `${adapter.subgroupMinSize}-${adapter.subgroupMaxSize}; shader overrides: ` +
    SHAPES.map((sh) => `${sh.name} ${JSON.stringify(rows.find((r) => r.impl === 'split' && r.shape === sh.name)?.consts ?? null)}`).join(', ') + '.', '',
  '| shape | ctx | K+V MB | old us | old GB/s | split us | split GB/s | % of peak | % of stream | speedup | chunks | err old / split |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const shape of SHAPES) for (const ctx of CTXS) {
  const o = rows.find((r) => r.shape === shape.name && r.ctx === ctx && r.impl === 'shared');
  const n = rows.find((r) => r.shape === shape.name && r.ctx === ctx && r.impl === 'split');
  if (!o) continue;
  md.push(`| ${shape.name} (${shape.nHeads}q/${shape.nKv}kv/${shape.hd}) | ${ctx} | ${f(o.kvMB, 2)} | ${f(o.usGpu)} | ${f(o.GBs, 0)} | ` +
    `${f(n?.usGpu)} | ${f(n?.GBs, 0)} | ${f(n?.pctPeak)} | ${f(n?.pctStream)} | ${n ? f(o.usGpu / n.usGpu, 2) + 'x' : '-'} | ${n?.chunks ?? '-'} | ` +
    `${o.maxErr?.toExponential(1)} / ${n?.maxErr?.toExponential(1) ?? '-'} |`);
}
if (MODE === 'gqa') md.splice(3); // no main table in the GQA sweep
if (batchRows.length) {
  md.push('', '## Batched decode (attentionBatch, every row at ctx, rows in their own slots)', '',
    '| shape | ctx | B | old us | old GB/s | split us | split GB/s | % of peak | % of stream | err old / split |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, ctx, B] of BATCH) {
    const o = batchRows.find((r) => r.shape === name && r.ctx === ctx && r.B === B && r.impl === 'shared');
    const n = batchRows.find((r) => r.shape === name && r.ctx === ctx && r.B === B && r.impl === 'split');
    if (!o || !n) continue;
    md.push(`| ${name} | ${ctx} | ${B} | ${f(o.usGpu)} | ${f(o.GBs, 0)} | ${f(n.usGpu)} | ${f(n.GBs, 0)} | ${f(n.pctPeak)} | ${f(n.pctStream)} | ` +
      `${o.maxErr.toExponential(1)} / ${n.maxErr.toExponential(1)} |`);
  }
}
if (sweep.length) {
  md.push('', '## splitTuning sweep', '', '| shape | ctx | wg | unroll | vpl | targetWorkgroups | S x VPL, G, U | chunks | us | GB/s | % of peak |',
    '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of sweep) {
    const t = r.tuning!, c = r.consts!;
    md.push(`| ${r.shape} | ${r.ctx} | ${t.wg} | ${t.unroll} | ${t.vpl} | ${t.targetWorkgroups} | ${c.S}x${c.VPL}, ${c.G}, ${c.U} | ${r.chunks} | ` +
      `${f(r.usGpu)} | ${f(r.GBs, 0)} | ${f(r.pctPeak)} |`);
  }
  // Best point per case, so the defaults can be set from one read.
  md.push('', '| case | best GB/s | % of peak | wg | unroll | vpl | targetWorkgroups |', '|---|---|---|---|---|---|---|');
  for (const key of [...new Set(sweep.map((r) => `${r.shape} ${r.ctx}`))]) {
    const best = sweep.filter((r) => `${r.shape} ${r.ctx}` === key).reduce((a, b) => (b.GBs > a.GBs ? b : a));
    const t = best.tuning!;
    md.push(`| ${key} | ${f(best.GBs, 0)} | ${f(best.pctPeak)} | ${t.wg} | ${t.unroll} | ${t.vpl} | ${t.targetWorkgroups} |`);
  }
}
if (gqa) md.push('', ...gqa.md);
const text = md.join('\n') + '\n';
console.log(text);
const out = process.env.OUT ?? 'bench/out';
fs.mkdirSync(out, { recursive: true });
const tag = `${(adapter.description || adapter.vendor || 'gpu').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40)}-${result.date.replace(/[:.]/g, '').slice(0, 17)}`;
const stem = `${out}/attention-decode${MODE === 'gqa' ? '-gqa' : ''}-${tag}`;
fs.writeFileSync(`${stem}.json`, JSON.stringify(result, null, 1));
fs.writeFileSync(`${stem}.md`, text);
log(`wrote ${stem}.{json,md}`);
gpu.destroy();
