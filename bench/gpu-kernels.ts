// GPU kernel benchmark for Node + Dawn (npm `webgpu`): autotunes and times the f32 GEMM and the f32/f16
// GEMV of src/kernels on the first adapter, checks each against a CPU reference, prints JSON and a
// markdown table, and writes both under $OUT when set. Timing uses timestamp queries around one compute
// pass of many dispatches when the adapter offers them (wall clock over the same pass otherwise).
// Bundle: node scripts/bundle.mjs bench/gpu-kernels.ts .gpu-node/bench.mjs ; small sizes on a software adapter
// (BENCH_QUICK=1 / 0 forces small / full); full-size GEMV cases run one per child process.
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import matmulLlm from '../shaders/llm/matmul.wgsl?raw';
import streamWgsl from '../shaders/gemm/stream.wgsl?raw';
import quantizeQ8Wgsl from '../shaders/gemm/quantize_q8.wgsl?raw';
import { isFallbackAdapter, type Kernel } from '../src/gpu/gpu';
import { MemoryTuneCache, autotune, tuneKey } from '../src/kernels/autotune';
import { GEMM_CANDIDATES, gemmConfigError, gemmShapeKey, planGemm, type GemmConfig } from '../src/kernels/gemm';
import { quantizedWords } from '../src/kernels/quantize-q8';
import { GEMV_CANDIDATES, GEMV_DECODE, GEMV_DECODE_Q8_INT8X, GEMV_DEFAULT, gemvDecodeConfig, gemvWeightBytes, planGemv, unpackF16, type GemvConfig,
  type GemvWeights } from '../src/kernels/gemv';
import { checkGemm } from './gemm-check';
import { deviceTools } from './gemm-bench-util';
import { markWork, warmIfIdle } from './kernel-bench-util';
import { runSelf } from './run-self';

Object.assign(globalThis, globals);
const OUT = process.env.OUT;
if (OUT) fs.mkdirSync(OUT, { recursive: true });

// BENCH_TOGGLES (diagnostic only, e.g. disable_robustness) enables Dawn toggles no browser user has.
const TOGGLES = process.env.BENCH_TOGGLES ?? '';
const GEMM_ONLY = process.env.BENCH_GEMM_ONLY === '1';
// BENCH_SKIP_GEMM=1 and BENCH_GEMV_SHAPES=NxK,... let a driver script run each GEMV shape in its own
// process (Dawn aborted with std::system_error on the 3rd/4th large shape of one process on the H100).
const SKIP_GEMM = process.env.BENCH_SKIP_GEMM === '1';
const GEMV_SEL = process.env.BENCH_GEMV_SHAPES;
const navGpu = create(TOGGLES ? [`enable-dawn-features=${TOGGLES}`] : []) as unknown as GPU;
const adapter = (await navGpu.requestAdapter())!;
const info = adapter.info;
// Small sizes on a software adapter (what `npm run bench` meets on a machine without a GPU: full sizes would
// run for hours there), full sizes on a GPU; BENCH_QUICK=1 / 0 forces either.
const QUICK = process.env.BENCH_QUICK === '1' || (process.env.BENCH_QUICK !== '0' && isFallbackAdapter(adapter));
const feats: GPUFeatureName[] = (['subgroups', 'shader-f16', 'timestamp-query'] as GPUFeatureName[])
  .filter((f) => adapter.features.has(f));
const requiredLimits: Record<string, number> = {};
for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY']) {
  requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
}
const device = await adapter.requestDevice({ requiredFeatures: feats, requiredLimits });
device.onuncapturederror = (e) => console.error('uncaptured:', (e as GPUUncapturedErrorEvent).error.message);
const hasTs = device.features.has('timestamp-query');
const maxSg = (info as unknown as { subgroupMaxSize?: number }).subgroupMaxSize;
const report = { vendor: info.vendor, architecture: info.architecture, description: info.description };
const log = (...a: unknown[]) => console.error(...a);
log('adapter', JSON.stringify({ ...report, device: (info as unknown as { device?: string }).device, maxSg, feats }));

// ---------------------------------------------------------------- raw-device plumbing

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const pipes = new Map<string, GPUComputePipeline>();
async function pipeline(k: Kernel): Promise<GPUComputePipeline> {
  const key = k.code + '|' + JSON.stringify(k.constants ?? {});
  let p = pipes.get(key);
  if (!p) {
    const module = device.createShaderModule({ code: k.code, label: k.file });
    const msgs = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    if (msgs.length) throw new Error(`${k.file}: ${msgs.map((m) => `${m.lineNum}:${m.message}`).join('; ')}`);
    device.pushErrorScope('validation');
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants: k.constants } });
    const err = await device.popErrorScope();
    if (err) throw new Error(`${k.file} ${JSON.stringify(k.constants)}: ${err.message}`);
    pipes.set(key, p);
  }
  return p;
}

/** A storage buffer, filled in 16 MiB writeBuffer chunks (no giant mapped ranges) when `fill` is given. */
function buffer(bytes: number, fill?: (u: Uint32Array) => void): GPUBuffer {
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const b = device.createBuffer({ size, usage: STORAGE });
  if (fill) {
    const chunk = new Uint32Array(Math.min(size, 1 << 24) / 4);
    for (let off = 0; off < size; off += chunk.byteLength) {
      const n = Math.min(chunk.byteLength, size - off);
      fill(chunk.subarray(0, n / 4));
      device.queue.writeBuffer(b, off, chunk, 0, n / 4);
    }
  }
  return b;
}

function readBuf(b: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  return deviceTools(device).read(b, bytes);
}

interface Timed { gpuSec: number; wallSec: number; reps: number }

/**
 * What the timed passes of one measure() share: the params buffer, a bind group per set, the query set
 * and its resolve / read-back buffers. Made once per case, not per pass: the warm-up runs hundreds of
 * passes. (This did not cure the aborts of a multi-shape GEMV run, H200 2026-11-29: those are the
 * large-shape aborts noted at BENCH_GEMV_SHAPES, which is why full-size GEMV cases run in child processes.)
 */
interface PassKit { pipe: GPUComputePipeline; groups: GPUBindGroup[]; qs: GPUQuerySet | null; owned: GPUBuffer[]; resolve: GPUBuffer; rb: GPUBuffer }

async function passKit(k: Kernel, params: ArrayBufferView, sets: GPUBuffer[][]): Promise<PassKit> {
  const pipe = await pipeline(k);
  const ub = device.createBuffer({ size: 16 * Math.ceil(params.byteLength / 16), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(ub, 0, params.buffer, params.byteOffset, params.byteLength);
  const groups = sets.map((s) => device.createBindGroup({ layout: pipe.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: ub } }, ...s.map((buf, i) => ({ binding: i + 1, resource: { buffer: buf } }))] }));
  const qs = hasTs ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const rb = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  return { pipe, groups, qs, resolve, rb, owned: [ub, resolve, rb] };
}

function destroyKit(kit: PassKit): void {
  for (const b of kit.owned) b.destroy();
  kit.qs?.destroy();
}

/** One pass of `reps` dispatches rotating over the kit's sets of buffers; seconds per dispatch (GPU and wall). */
async function timePass(kit: PassKit, wg: [number, number], reps: number): Promise<Timed> {
  const { pipe, groups, qs, resolve, rb } = kit;
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  pass.setPipeline(pipe);
  for (let r = 0; r < reps; r++) {
    pass.setBindGroup(0, groups[r % groups.length]);
    pass.dispatchWorkgroups(wg[0], wg[1]);
  }
  pass.end();
  if (qs) {
    enc.resolveQuerySet(qs, 0, 2, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, rb, 0, 16);
  }
  const cmd = enc.finish();
  await device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  device.queue.submit([cmd]);
  await device.queue.onSubmittedWorkDone();
  const wallSec = (performance.now() - t0) / 1000 / reps;
  let gpuSec = wallSec;
  if (qs) {
    await rb.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(rb.getMappedRange().slice(0)); // ns [2]
    gpuSec = Number(t[1] - t[0]) / 1e9 / reps;
    rb.unmap();
  }
  return { gpuSec, wallSec, reps };
}

/** Median of `trials` passes, each sized to last ~targetSec (a few ms; timestamp quantization stays small). */
async function measure(k: Kernel, params: ArrayBufferView, sets: GPUBuffer[][], wg: [number, number], trials = 5, targetSec = 0.02): Promise<Timed> {
  const kit = await passKit(k, params, sets);
  const first = await timePass(kit, wg, 2); // compiles
  const est = Math.max(first.wallSec, first.gpuSec, 1e-6);
  const reps = Math.max(3, Math.min(QUICK ? 8 : 4000, Math.ceil(targetSec / est)));
  await warmIfIdle(() => timePass(kit, wg, reps));
  const runs: Timed[] = [];
  for (let i = 0; i < trials; i++) runs.push(await timePass(kit, wg, reps));
  markWork();
  destroyKit(kit);
  runs.sort((x, y) => x.gpuSec - y.gpuSec);
  return runs[Math.floor(runs.length / 2)];
}

let seed = 12345;
function fillRandomF32(u: Uint32Array): void {
  const f = new Float32Array(u.buffer, u.byteOffset, u.length);
  for (let i = 0; i < f.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    f[i] = seed / 4294967296 - 0.5;
  }
}
function fillRandomF16(u: Uint32Array): void {
  // Two halves per word in [-1, -0.5] U [0.5, 1): random sign and mantissa, exponent 14.
  for (let i = 0; i < u.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    u[i] = (seed & 0x83ff83ff) | 0x38003800;
  }
}

// ---------------------------------------------------------------- GEMM

interface GemmRow { M: number; N: number; K: number; layout: string; kernel: string; config: GemmConfig | null;
  tflops: number; msGpu: number; msWall: number; relErr: number | null }
const gemmRows: GemmRow[] = [];
const tuneLog: Record<string, unknown> = {};
const cache = new MemoryTuneCache();


const gemmSizes = SKIP_GEMM ? [] : QUICK ? [128, 256] : [1024, 2048, 4096];
for (const S of gemmSizes) {
  const [M, N, K] = [S, S, S];
  const A = buffer(M * K * 4, fillRandomF32); // [M, K]
  const B = buffer(K * N * 4, fillRandomF32); // [K, N] (also read as [N, K] for the NT rows)
  const C = buffer(M * N * 4); // [M, N]
  const flop = 2 * M * N * K;
  const candidates = GEMM_CANDIDATES.filter((c) => !gemmConfigError(c) &&
    c.wgX * c.wgY <= device.limits.maxComputeInvocationsPerWorkgroup);
  const tuned = await autotune({
    key: tuneKey(report, gemmShapeKey(M, N, K)),
    candidates,
    cache,
    measure: async (config) => {
      const d = planGemm(M, N, K, { config });
      return (await measure(d.kernel, d.params, [[A, B, C]], d.workgroups, 3, 0.01)).gpuSec;
    },
  });
  tuneLog[`gemm ${S}`] = tuned.trials.map((t) => ({ ...t.config, tflops: flop / t.seconds / 1e12, error: t.error }));
  log(`gemm ${S}: tuned`, JSON.stringify(tuneLog[`gemm ${S}`]));
  const hostA = new Float32Array(await readBuf(A, M * K * 4)); // [M, K]
  const hostB = new Float32Array(await readBuf(B, K * N * 4)); // [K, N]
  for (const bT of [false, true]) {
    const d = planGemm(M, N, K, { config: tuned.best, bT });
    const t = await measure(d.kernel, d.params, [[A, B, C]], d.workgroups);
    const c = new Float32Array(await readBuf(C, M * N * 4)); // [M, N]
    gemmRows.push({ M, N, K, layout: bT ? 'NT' : 'NN', kernel: 'gemm.wgsl', config: tuned.best, tflops: flop / t.gpuSec / 1e12,
      msGpu: t.gpuSec * 1e3, msWall: t.wallSec * 1e3, relErr: checkGemm(hostA, hostB, c, M, N, K, bT) });
  }
  // Baseline: the 64x64-tile matmul of shaders/llm (NT layout), same buffers.
  const base: Kernel = { code: matmulLlm, file: 'shaders/llm/matmul.wgsl', constants: { WTYPE: 0 } };
  const bt = await measure(base, new Uint32Array([M, N, K, 0]), [[A, B, C]], [Math.ceil(N / 64), Math.ceil(M / 64)]);
  const cb = new Float32Array(await readBuf(C, M * N * 4)); // [M, N]
  gemmRows.push({ M, N, K, layout: 'NT', kernel: 'llm/matmul.wgsl (baseline)', config: null, tflops: flop / bt.gpuSec / 1e12,
    msGpu: bt.gpuSec * 1e3, msWall: bt.wallSec * 1e3, relErr: checkGemm(hostA, hostB, cb, M, N, K, true) });
  log(JSON.stringify(gemmRows.slice(-3)));
  for (const b of [A, B, C]) b.destroy();
}

// ---------------------------------------------------------------- memory-bandwidth ceiling

const streamN = (QUICK ? 1 << 20 : 1 << 28) / 16; // vec4s: 256 MiB each way
const src = buffer(streamN * 16, fillRandomF16);
const dst = buffer(streamN * 16);
const sp = new ArrayBuffer(16);
new DataView(sp).setUint32(0, streamN, true);
new DataView(sp).setFloat32(4, 1.5, true);
const st = await measure({ code: streamWgsl, file: 'shaders/gemm/stream.wgsl', constants: { WG: 256 } }, new Uint8Array(sp),
  [[src, dst]], [Math.min(Math.ceil(streamN / 1024), 65535), 1]);
const streamGBs = (2 * streamN * 16) / st.gpuSec / 1e9;
log(`stream copy: ${streamGBs.toFixed(0)} GB/s`);
src.destroy();
dst.destroy();

// ---------------------------------------------------------------- GEMV

const desc = `${info.description} ${(info as unknown as { device?: string }).device ?? ''}`.toLowerCase();
const peakGBs = desc.includes('h200') ? 4800 : desc.includes('h100') ? 3350 : null;
interface GemvRow { N: number; K: number; wtype: GemvWeights; config: GemvConfig; GBs: number; pctPeak: number | null;
  pctStream: number; usGpu: number; usWall: number; copies: number; relErr: number;
  // The same weights through other kernels in the same process: what decode runs untuned (matmul()'s config),
  // what it ran before 2026-11-29 (workgroup-memory reduction), for q8_0 the float-x form beside the int8-x one
  // (and the quantize dispatch), and the retired one-row-per-workgroup shaders/llm/matvec_sg.wgsl when
  // BENCH_OLD_MATVEC names a copy of it (git show 5a64fba:shaders/llm/matvec_sg.wgsl).
  others: { name: string; GBs: number; pctPeak: number | null; usGpu: number }[] }
// q8_0 as repack() lays it out: N*K int8 quants (random bytes), then one f32 scale per 32 (0.004..0.012).
const fillQ8 = (N: number, K: number) => {
  let i = 0;
  const qWords = (N * K) / 4;
  return (u: Uint32Array) => {
    for (let j = 0; j < u.length; j++, i++) {
      u[j] = i < qWords ? (Math.random() * 2 ** 32) >>> 0 : new Uint32Array(new Float32Array([0.004 + 0.008 * Math.random()]).buffer)[0];
    }
  };
};
const oldMatvec = process.env.BENCH_OLD_MATVEC ? fs.readFileSync(process.env.BENCH_OLD_MATVEC, 'utf8') : null;
const hasDot4I8 = (navGpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false;
const decodeCfg = (t: GemvWeights) => gemvDecodeConfig({ report: { hasSubgroups: device.features.has('subgroups'), subgroupMaxSize: maxSg, hasDot4I8 } as never }, t);
const gemvRows: GemvRow[] = [];
const gemvShapes: [number, number][] = GEMM_ONLY ? [] : GEMV_SEL
  ? GEMV_SEL.split(',').map((s) => s.split('x').map(Number) as [number, number])
  : QUICK ? [[256, 256], [128, 512]] : [[4096, 4096], [8192, 8192], [4096, 14336], [14336, 4096]];
// Full-size GEMV cases run one per child process (this script again, one shape and weight type each) unless
// a shape was named: Dawn-for-Node aborted (std::system_error, glibc mutex asserts, futex errors) after a
// few multi-GB cases in one process, on the H100 and again on the H200 (2026-11-29). BENCH_GEMV_CHILDREN=1
// forces children at any size (how the child path is tried on a software adapter).
const gemvChildren = process.env.BENCH_GEMV_CHILD !== '1' && !GEMV_SEL && (!QUICK || process.env.BENCH_GEMV_CHILDREN === '1');
function gemvChild(N: number, K: number, wtype: GemvWeights): void {
  // its progress lines (stderr) show; its table is merged into ours
  const r = runSelf<{ gemv: GemvRow[]; tuning: Record<string, unknown> }>(
    { BENCH_GEMV_CHILD: '1', BENCH_SKIP_GEMM: '1', BENCH_GEMV_SHAPES: `${N}x${K}`, BENCH_GEMV_TYPES: wtype }, false);
  if (!r.doc) {
    log(`gemv ${wtype} ${N}x${K}: child exited ${r.exit}; no row`);
    tuneLog[`gemv ${wtype} ${N}x${K}`] = { error: `child exited ${r.exit}` };
    return;
  }
  gemvRows.push(...r.doc.gemv);
  Object.assign(tuneLog, r.doc.tuning);
}
for (const [N, K] of gemvShapes) {
  for (const wtype of (process.env.BENCH_GEMV_TYPES ?? 'f16,f32').split(',') as GemvWeights[]) {
    if (gemvChildren) {
      gemvChild(N, K, wtype);
      continue;
    }
    log(`gemv ${wtype} ${N}x${K} ...`);
    const wBytes = gemvWeightBytes(N, K, wtype);
    const scaleOff = wtype === 'q8_0' ? (N * K) / 4 : 0; // q8_0: the scale table's first word
    // Enough weight copies that one rotation (>= 400 MB) overflows the L2 cache: every dispatch reads DRAM.
    const copies = Math.max(2, Math.ceil((QUICK ? 4e6 : 4e8) / wBytes));
    const W0 = buffer(wBytes, wtype === 'f32' ? fillRandomF32 : wtype === 'f16' ? fillRandomF16 : fillQ8(N, K)); // [N, K]
    const Ws = [W0];
    const e = device.createCommandEncoder();
    for (let i = 1; i < copies; i++) {
      Ws.push(buffer(wBytes));
      e.copyBufferToBuffer(W0, 0, Ws[i], 0, Math.ceil(wBytes / 16) * 16);
    }
    device.queue.submit([e.finish()]);
    const X = buffer(K * 4, fillRandomF32); // [K]
    const Ys = Ws.map(() => buffer(N * 4)); // [N] each: distinct outputs, so no barriers between dispatches
    const sets = Ws.map((w, i) => [w, X, Ys[i]]);
    const candidates = GEMV_CANDIDATES.filter((c) => c.wg <= device.limits.maxComputeInvocationsPerWorkgroup &&
      (!c.subgroups || (device.features.has('subgroups') && (maxSg ?? 128) <= c.wg / c.rows)));
    const tuned = await autotune({
      key: tuneKey(report, `gemv|${wtype}|${N}x${K}`),
      candidates,
      cache,
      measure: async (config) => {
        const d = planGemv(N, K, wtype, config, scaleOff);
        const sec = (await measure(d.kernel, d.params, sets, d.workgroups, 3, 0.01)).gpuSec;
        log(`  ${JSON.stringify(config)}: ${(wBytes / sec / 1e9).toFixed(0)} GB/s`);
        return sec;
      },
    });
    tuneLog[`gemv ${wtype} ${N}x${K}`] = tuned.trials.map((t) => ({ ...t.config, GBs: wBytes / t.seconds / 1e9, error: t.error }));
    const d = planGemv(N, K, wtype, tuned.best, scaleOff);
    const t = await measure(d.kernel, d.params, sets, d.workgroups);
    const bytes = wBytes + K * 4 + N * 4;
    const others: GemvRow['others'] = [];
    const other = async (name: string, k: Kernel, p: ArrayBufferView, s: GPUBuffer[][], wg: [number, number]) => {
      const o = await measure(k, p, s, wg);
      const GBs = bytes / o.gpuSec / 1e9;
      others.push({ name, GBs, pctPeak: peakGBs ? (100 * GBs) / peakGBs : null, usGpu: o.gpuSec * 1e6 });
    };
    // q8_0 decode runs on int8 x where WGSL has dot4I8Packed (GEMV_DECODE_Q8_INT8X): x quantized once into Xq.
    const Xq = wtype === 'q8_0' ? buffer(quantizedWords(K) * 4) : null; // [K/4 + K/32] words
    if (Xq) {
      const qk = { code: quantizeQ8Wgsl, file: 'shaders/gemm/quantize_q8.wgsl' };
      await other('quantize x (its own dispatch, once per projection)', qk, new Uint32Array([K, 0, 0, 0]), [[X, Xq]], [Math.ceil(K / 32 / 64), 1]);
    }
    const cases: [string, GemvConfig][] = [['decode', decodeCfg(wtype)], ['decode before', GEMV_DEFAULT]];
    if (wtype === 'q8_0' && decodeCfg(wtype).xq) {
      cases.push(['float x', GEMV_DECODE.q8_0], ...[{ rt: 2, rows: 4 }, { rt: 4, rows: 8 }].map((v) => ['int8 x', { ...GEMV_DECODE_Q8_INT8X, ...v }] as [string, GemvConfig]));
    }
    for (const [name, cfg] of cases) {
      const dd = planGemv(N, K, wtype, cfg, scaleOff);
      const xs = cfg.xq ? Ws.map((w, i) => [w, Xq!, Ys[i]]) : sets;
      await other(`${name}: wg${cfg.wg} rows${cfg.rows}${cfg.rt ? ` rt${cfg.rt}` : ''}${cfg.subgroups ? ' sg' : ''}${cfg.xq ? ' int8x' : ''}`, dd.kernel, dd.params, xs, dd.workgroups);
    }
    Xq?.destroy();
    if (oldMatvec && wtype === 'q8_0' && device.features.has('subgroups')) {
      await other('retired llm/matvec_sg', { code: oldMatvec, file: 'matvec_sg.wgsl (retired)', constants: { WTYPE: 2 } },
        new Uint32Array([N, K, scaleOff, 0]), Ws.map((w, i) => [X, w, Ys[i]]), [Math.min(N, 65535), Math.ceil(N / 65535)]);
    }
    // Check 64 rows of y (from the first weight copy) against an f64 CPU dot product of what the GPU saw.
    const y = new Float32Array(await readBuf(Ys[0], N * 4)); // [N]
    const x = new Float32Array(await readBuf(X, K * 4)); // [K]
    const wHost = await readBuf(W0, Math.ceil(wBytes / 16) * 16);
    const scales = wtype === 'q8_0' ? new Float32Array(wHost, scaleOff * 4, (N * K) / 32) : new Float32Array(0); // [N*K/32]
    let num = 0;
    let den = 0;
    for (let s = 0; s < 64; s++) {
      const n = (s * 7919) % N;
      const row = wtype === 'f32' ? new Float32Array(wHost, n * K * 4, K) : wtype === 'f16'
        ? unpackF16(new Uint32Array(wHost, n * K * 2, K / 2), K)
        : Float32Array.from(new Int8Array(wHost, n * K, K), (q, k) => q * scales[(n * K + k) >> 5]);
      let ref = 0;
      for (let k = 0; k < K; k++) ref += row[k] * x[k];
      num += (y[n] - ref) ** 2;
      den += ref * ref;
    }
    const GBs = bytes / t.gpuSec / 1e9;
    gemvRows.push({ N, K, wtype, config: tuned.best, GBs, pctPeak: peakGBs ? (100 * GBs) / peakGBs : null,
      pctStream: (100 * GBs) / streamGBs, usGpu: t.gpuSec * 1e6, usWall: t.wallSec * 1e6, copies,
      relErr: Number.isFinite(num) ? Math.sqrt(num / den) : Infinity, others });
    log(JSON.stringify(gemvRows[gemvRows.length - 1]));
    for (const b of [...Ws, X, ...Ys]) b.destroy();
  }
}

// ---------------------------------------------------------------- report

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}
const date = new Date().toISOString();
const result = {
  date, quick: QUICK, toggles: TOGGLES || null,
  machine: { hostname: os.hostname(), cpu: os.cpus()[0]?.model, gpu: sh('nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader') },
  adapter: { ...report, device: (info as unknown as { device?: string }).device, subgroupMaxSize: maxSg, features: [...device.features].sort() },
  timing: hasTs ? 'timestamp-query around one pass of N dispatches, median of 5 passes' : 'wall clock per pass (no timestamp-query)',
  peakGBs, streamGBs, gemm: gemmRows, gemv: gemvRows, tuning: tuneLog, tuneCache: cache.entries(),
};
const f = (v: number, d = 1) => v.toFixed(d);
const md = [
  `### ${TOGGLES ? `[diagnostic, Dawn toggles: ${TOGGLES}] ` : ''}${info.description || info.vendor} (${(info as unknown as { device?: string }).device ?? ''}), ${date.slice(0, 10)}`,
  '', `Dawn (npm webgpu) on Vulkan; ${result.timing}. Stream copy (read+write): ${f(streamGBs, 0)} GB/s.`, '',
  '| matmul | layout | kernel / config | TFLOPS | ms | rel err |', '|---|---|---|---|---|---|',
  ...gemmRows.map((r) => `| ${r.M}x${r.N}x${r.K} | ${r.layout} | ${r.kernel} ${r.config ? `${8 * r.config.wgY}x${8 * r.config.wgX} bk${r.config.bk}${r.config.swiz ? ' swiz' : ''}` : ''} | ${f(r.tflops)} | ${f(r.msGpu, 3)} | ${r.relErr?.toExponential(1)} |`),
  '', '| gemv | weights | config | GB/s | % of peak | % of stream | us | rel err |', '|---|---|---|---|---|---|---|---|',
  ...gemvRows.map((r) => `| ${r.N}x${r.K} | ${r.wtype} | wg${r.config.wg} rows${r.config.rows}${r.config.rt ? ` rt${r.config.rt}` : ''}${r.config.subgroups ? ' sg' : ''} | ${f(r.GBs, 0)} | ${r.pctPeak === null ? '-' : f(r.pctPeak)} | ${f(r.pctStream)} | ${f(r.usGpu)} | ${r.relErr.toExponential(1)} |`),
  '', 'Same weights, same process, other kernels:', '', '| gemv | weights | kernel | GB/s | % of peak | us | vs tuned |', '|---|---|---|---|---|---|---|',
  ...gemvRows.flatMap((r) => r.others.map((o) => `| ${r.N}x${r.K} | ${r.wtype} | ${o.name} | ${f(o.GBs, 0)} | ${o.pctPeak === null ? '-' : f(o.pctPeak)} | ${f(o.usGpu)} | ${f(o.GBs / r.GBs, 2)}x |`)),
].join('\n');
if (!OUT) console.log(JSON.stringify(result));
console.log(md);
if (OUT) {
  const tag = `${(info.vendor || 'gpu')}-${((info as unknown as { device?: string }).device || info.architecture || 'adapter')}${TOGGLES ? '-' + TOGGLES : ''}${GEMV_SEL ? '-gemv-' + GEMV_SEL.replace(/,/g, '_') : ''}${process.env.BENCH_GEMV_TYPES ? '-' + process.env.BENCH_GEMV_TYPES.replace(/,/g, '_') : ''}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, `gpu-kernels-${tag}-${date.slice(0, 10)}.json`), JSON.stringify(result, null, 1));
  if (!SKIP_GEMM) fs.writeFileSync(path.join(OUT, `gpu-kernels-${tag}-${date.slice(0, 10)}.md`), md + '\n');
}
device.destroy();
process.exit(0);
