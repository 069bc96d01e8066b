// U-Net kernel A/B on one GPU (issue 7 section 3: DistriFusion step time): the widened U-Net's convs
// and spatial attention, old kernels against new, side by side in one process.
//  - conv2d: conv2d.wgsl ('direct': one invocation per output element) against conv2d_gemm.wgsl
//    (implicit GEMM; 'gemm' = the tile pickGemmTile chooses, and each fixed tile).
//  - attention: attention_online.wgsl (one workgroup per query) against attention_flash.wgsl
//    (BQ queries per workgroup, K/V read lq / BQ times instead of lq times).
//  - whole forward at PX (default 1024 px = latent 128): {direct, gemm} x {online, flash}, rounds
//    interleaved so drift hits every variant alike; eps of each variant against the old pair's.
//    (The random init has zero biases, and both conv kernels sum K in the same order, so conv-only
//    variants can match the old eps bit for bit; biases are where the two differ, added first or last.)
// Per-op times: timestamp queries around one pass of many calls (wall clock without them); TFLOPS =
// 2 * MACs / time. Each op's output is checked against the old kernel's (which the unit tests check
// against the CPU reference) and, at a cut-down shape, against the CPU reference itself.
// Env: PX=1024  WIDTH=1  REPS=5  NS=1,4 (op shapes: whole image and a 1/N row patch)  CONVK / ATTNK (kernel
//   lists, the old one first)  VARIANTS (forward pairs conv+attn, e.g. direct+online,gemm+flash)  QUICK=1
//   (lavapipe-sized)  OUT (default bench/out)  LABEL  MACHINE (file name parts)
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/unet-kernels.ts', '.gpu-node/unet-kernels.mjs', { minify: true }))"
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomF32, relErr, timeCalls as timeCallsOn } from './kernel-bench-util';
import { Gpu } from '../src/gpu/gpu';
import * as convK from '../src/kernels/diffusion/conv2d';
import * as attnK from '../src/kernels/diffusion/attention';
import { loadUnetModel } from '../src/engines/unet-image';
import { UnetGpu } from '../src/model/unet/forward-gpu';
import { randomUnetSafetensorsBytes, sdLikeUnetConfig } from '../src/model/unet/widened';

Object.assign(globalThis, globals);
const QUICK = process.env.QUICK === '1';
const PX = Number(process.env.PX ?? (QUICK ? '64' : '1024'));
const WIDTH = Number(process.env.WIDTH ?? (QUICK ? '0.1' : '1'));
const REPS = Number(process.env.REPS ?? (QUICK ? '2' : '5'));
const OUT = path.resolve(process.env.OUT ?? 'bench/out');
const LABEL = process.env.LABEL ?? '';
const log = (...a: unknown[]) => console.error(...a);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU, timestamps: true });
const hasTs = gpu.enableTimer();
log(`adapter ${gpu.report.vendor} ${gpu.report.architecture} ${gpu.report.description}; timestamps ${hasTs}`);

const timeCalls = (enqueue: () => GPUBuffer, targetSec: number) => timeCallsOn(gpu, enqueue, targetSec, QUICK ? 4 : 200);

const readF32 = async (b: GPUBuffer, n: number) => new Float32Array(await gpu.read(b, n * 4));

interface OpRow { op: string; shape: string; kernel: string; ms: number; tflops: number; relErrVsOld: number; speedup: number }
const rows: OpRow[] = [];
const s = (c: number) => Math.max(1, Math.round(c * WIDTH)); // channels at WIDTH
const L = PX / 8; // latent size: the U-Net's top level

// ---------------------------------------------------------------- conv2d

// The widened U-Net's 3x3 convs at PX: (cin, cout, S) per level; the up path's first conv sees the concat.
// Each also at the row patch one of N DistriFusion peers computes (S / N rows + 2 halo rows, full width).
const CONVS = [
  { cin: s(320), cout: s(320), S: L },
  { cin: s(640), cout: s(640), S: L / 2 },
  { cin: s(1280), cout: s(1280), S: L / 4 },
  { cin: s(2560), cout: s(1280), S: L / 4 },
];
// The first kernel of each list is the old one: the speedups and the error columns are against it.
const CONV_KERNELS = (process.env.CONVK ?? 'direct,gemm,gemm64,gemm64x128,gemm128').split(',') as convK.Conv2dKernel[];
const ATTN_KERNELS = (process.env.ATTNK ?? 'online,flash').split(',') as attnK.AttentionKernel[];
const NS = (process.env.NS ?? '1,4').split(',').map(Number); // 1 = the whole image
const patchTag = (n: number) => (n === 1 ? '' : ` (N=${n} patch)`);
for (const n of NS) {
  for (const c of CONVS) {
    if (c.S % n) continue; // (QUICK sizes)
    const rowsOut = c.S / n; // output rows of this peer
    const shape: convK.Conv2dShape = { cin: c.cin, cout: c.cout, inRows: rowsOut + 2, width: c.S, k: 3, stride: 1, padW: 1 };
    const x = gpu.upload(randomF32(c.cin * (rowsOut + 2) * c.S), 'x'); // [cin, rows+2, S]
    const w = gpu.upload(randomF32(c.cout * c.cin * 9, 2 / Math.sqrt(c.cin * 9)), 'w'); // [cout, cin, 3, 3]
    const b = gpu.upload(randomF32(c.cout), 'b'); // [cout]
    const px = rowsOut * c.S; // output pixels
    const flops = 2 * c.cout * c.cin * 9 * px;
    let old: Float32Array | null = null;
    let oldMs = 0;
    for (const k of CONV_KERNELS) {
      const o = convK.conv2d(gpu, x, w, b, shape, k); // [cout, rows, S]
      const got = await readF32(o, c.cout * px);
      gpu.free(o);
      old ??= got;
      const sec = await timeCalls(() => convK.conv2d(gpu, x, w, b, shape, k), 0.2);
      if (k === CONV_KERNELS[0]) oldMs = sec * 1e3;
      const pick = convK.pickConv2d(shape); // what 'gemm' runs: tile and split-K
      const name = k === 'gemm' ? `gemm (${pick.kernel}${pick.splitK > 1 ? ` split ${pick.splitK}` : ''})` : k;
      rows.push({ op: 'conv3x3', shape: `${c.cin}->${c.cout} @ ${c.S}x${c.S}${patchTag(n)}`, kernel: name, ms: sec * 1e3, tflops: flops / sec / 1e12, relErrVsOld: relErr(got, old), speedup: oldMs / (sec * 1e3) });
      log(JSON.stringify(rows[rows.length - 1]));
    }
    for (const buf of [x, w, b]) buf.destroy();
  }

  // Levels with attention: 640 channels at L/2 (L^2/4 keys), 1280 at L/4; a patch's queries attend over all keys.
  const ATTNS = [{ c: s(640), S: L / 2 }, { c: s(1280), S: L / 4 }];
  for (const a of ATTNS) {
    const l = a.S * a.S; // keys
    if (l % n) continue;
    const lq = l / n; // this peer's queries
    const q = gpu.upload(randomF32(a.c * lq, 2), 'q'); // [c, lq]
    const kv = gpu.upload(randomF32(2 * a.c * l, 2), 'kv'); // [2c, L]: K then V
    const sh: attnK.AttentionShape = { c: a.c, lq, lk: l, qBase: 0, kBase: 0, vBase: a.c * l };
    const flops = 4 * a.c * lq * l; // q k^T and p v
    let old: Float32Array | null = null;
    let oldMs = 0;
    for (const k of ATTN_KERNELS) {
      const o = attnK.attention(gpu, q, kv, sh, k); // [c, lq]
      const got = await readF32(o, a.c * lq);
      gpu.free(o);
      old ??= got;
      const sec = await timeCalls(() => attnK.attention(gpu, q, kv, sh, k), 0.2);
      if (k === ATTN_KERNELS[0]) oldMs = sec * 1e3;
      rows.push({ op: 'attention', shape: `c ${a.c}, ${lq} queries x ${l} keys${patchTag(n)}`, kernel: k, ms: sec * 1e3, tflops: flops / sec / 1e12, relErrVsOld: relErr(got, old), speedup: oldMs / (sec * 1e3) });
      log(JSON.stringify(rows[rows.length - 1]));
    }
    q.destroy();
    kv.destroy();
  }
}

// A cut-down conv and attention against the CPU reference (the full shapes would take minutes in JS).
const cpuChecks: Record<string, number> = {};
{
  const shape: convK.Conv2dShape = { cin: 96, cout: 80, inRows: 18, width: 16, k: 3, stride: 1, padW: 1 };
  const xh = randomF32(96 * 18 * 16), wh = randomF32(80 * 96 * 9, 0.1), bh = randomF32(80);
  const [x, w, b] = [gpu.upload(xh), gpu.upload(wh), gpu.upload(bh)];
  const ref = convK.reference(xh, wh, bh, shape);
  for (const k of ['direct', 'gemm'] as const) {
    const o = convK.conv2d(gpu, x, w, b, shape, k);
    cpuChecks[`conv ${k}`] = relErr(await readF32(o, ref.length), ref);
    gpu.free(o);
  }
  const c = 700, l = 96;
  const qh = randomF32(3 * c * l, 2);
  const q = gpu.upload(qh);
  const sh: attnK.AttentionShape = { c, lq: l, lk: l, qBase: 0, kBase: c * l, vBase: 2 * c * l };
  const aref = attnK.reference(qh, qh, sh);
  for (const k of ['online', 'flash'] as const) {
    const o = attnK.attention(gpu, q, q, sh, k);
    cpuChecks[`attention ${k}`] = relErr(await readF32(o, aref.length), aref);
    gpu.free(o);
  }
  log('cpu checks', JSON.stringify(cpuChecks));
}

// ---------------------------------------------------------------- whole forward

const config = sdLikeUnetConfig(PX, WIDTH);
log(`building the widened U-Net at ${PX} px (latent ${L}), width ${WIDTH}`);
const model = loadUnetModel(randomUnetSafetensorsBytes(config, 7));
const unet = UnetGpu.shared(gpu, model);
const xin = randomF32(config.inChannels * L * L, 2); // [4, L, L]
// conv+attn pairs; the first is the old pair (speedups and eps errors are against it)
const VARIANTS = (process.env.VARIANTS ?? 'direct+online,gemm+online,direct+flash,gemm+flash').split(',').map((p) => {
  const [conv, attn] = p.split('+') as [Parameters<typeof convK.setAutoConv2dKernel>[0], Parameters<typeof attnK.setAutoAttentionKernel>[0]];
  return { name: `${conv} + ${attn}`, conv, attn };
});
const fwdMs = VARIANTS.map(() => [] as number[]);
const eps: Float32Array[] = [];
for (let r = -1; r < REPS; r++) {
  for (const [i, v] of VARIANTS.entries()) {
    convK.setAutoConv2dKernel(v.conv);
    attnK.setAutoAttentionKernel(v.attn);
    const t0 = performance.now();
    const e = await unet.forward(xin, 500, 3); // [4, L, L]
    const ms = performance.now() - t0;
    if (r < 0) eps[i] = e; // round -1 compiles
    else fwdMs[i].push(ms);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const forward = VARIANTS.map((v, i) => ({
  variant: v.name, ms: med(fwdMs[i]), all: fwdMs[i].map((m) => +m.toFixed(1)),
  speedup: med(fwdMs[0]) / med(fwdMs[i]), relErrVsOld: relErr(eps[i], eps[0]),
}));
for (const f of forward) log(JSON.stringify(f));

// ---------------------------------------------------------------- report

const f = (v: number, d = 2) => v.toFixed(d);
const md = [
  `# U-Net kernels A/B: ${gpu.report.description || gpu.report.architecture} (${new Date().toISOString().slice(0, 10)})`, '',
  `Widened U-Net at ${PX} px (latent ${L}), width ${WIDTH}; timestamps ${hasTs}. Speedup = old kernel's time / this one's, same process.`, '',
  '| op | shape | kernel | ms | TFLOPS | speedup | rel err vs old |', '|---|---|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.op} | ${r.shape} | ${r.kernel} | ${f(r.ms, 3)} | ${f(r.tflops)} | ${f(r.speedup)}x | ${r.relErrVsOld.toExponential(1)} |`), '',
  `CPU reference checks (rel err): ${Object.entries(cpuChecks).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`, '',
  `Whole forward (median of ${REPS} interleaved rounds):`, '',
  '| variant | ms | speedup | rel err vs old | all ms |', '|---|---:|---:|---:|---|',
  ...forward.map((r) => `| ${r.variant} | ${f(r.ms, 1)} | ${f(r.speedup)}x | ${r.relErrVsOld.toExponential(1)} | ${r.all.join(', ')} |`),
].join('\n');
console.log(md);
fs.mkdirSync(OUT, { recursive: true });
// MACHINE (e.g. nvidia-h200) names the file as bench/results/ wants; the adapter's description otherwise.
const machine = process.env.MACHINE ?? (gpu.report.description || 'gpu').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
const base = `unet-kernels-${LABEL ? LABEL + '-' : ''}${machine}-${new Date().toISOString().slice(0, 10)}`;
fs.writeFileSync(path.join(OUT, `${base}.json`), JSON.stringify({
  bench: 'unet-kernels', date: new Date().toISOString(), machine, host: os.hostname(), adapter: gpu.report, px: PX, width: WIDTH, reps: REPS,
  ops: rows, cpuChecks, forward,
}, null, 1));
fs.writeFileSync(path.join(OUT, `${base}.md`), md + '\n');
gpu.destroy?.();
process.exit(0);
