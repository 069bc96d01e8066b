// Implicit-GEMM conv2d sweep on one GPU: the widened U-Net's conv shapes (3x3 stride 1 and 2, 1x1, whole
// image and a DistriFusion row patch) through conv2d_gemm.wgsl's tiles (the old 'gemm') and every
// conv2d_gemm_r16x8.wgsl tile x split-K count, and what 'gemm' picks now (pickConv2d), side by side in
// one process.
// Per variant: GPU time from timestamp queries around passes of many calls (median of 3 passes; wall
// clock without timestamps), TFLOPS = 2 * cout * cin * k^2 * P / time, and the output's error against the
// 'direct' kernel (conv2d.wgsl, which the unit tests check against the CPU reference); at small shapes
// every tile and a split are also checked against conv2d-ref's CPU reference itself.
// Env: QUICK=1 (lavapipe-sized shapes)  ONLY=substr,substr (shape names to keep)  TILES (r16x8 tiles)
//   SPLITS=1,2,3,4,6,8,12,16  WARMUP_S=10  FINAL=1 (per shape only the old gemm, r128 unsplit and 'gemm')
//   CAL=1 (plain-GEMM ceilings: gemm_reg_r16x8 at 4096^3, and the r16x8 conv as a 1x1 conv there)
//   BUDGET_S=140 (stop timing new variants past this wall time)  OUT (default bench/out)  LABEL  MACHINE
// Results: bench/results/conv-gemm-sweep-{,full-,dev-}nvidia-h200-2026-11-29.md (FINAL=1; the full sweep;
//   the development sweep with the variants the shader no longer has).
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/conv-gemm-sweep.ts', '.gpu-node/conv-sweep.mjs', { minify: true }))"
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomF32, relErr, timeCalls as timeCallsOn } from './kernel-bench-util';
import { Gpu } from '../src/gpu/gpu';
import * as convK from '../src/kernels/diffusion/conv2d';
import { gemmReg, type GemmRegConfig } from '../src/kernels/gemm-reg';

Object.assign(globalThis, globals);
const QUICK = process.env.QUICK === '1';
const ONLY = process.env.ONLY?.split(',') ?? null;
const TILES = (process.env.TILES ?? Object.keys(convK.REG_TILES).join(',')).split(',') as convK.RegTileName[];
const SPLITS = (process.env.SPLITS ?? '1,2,3,4,6,8,12,16').split(',').map(Number);
const BUDGET_S = Number(process.env.BUDGET_S ?? '140');
const FINAL = process.env.FINAL === '1'; // only the old gemm (twice), r128 unsplit and what 'gemm' picks
const OUT = path.resolve(process.env.OUT ?? 'bench/out');
const LABEL = process.env.LABEL ?? '';
const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1e3;
const log = (...a: unknown[]) => console.error(...a);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU, timestamps: true });
const hasTs = gpu.enableTimer();
log(`adapter ${gpu.report.vendor} ${gpu.report.architecture} ${gpu.report.description}; timestamps ${hasTs}`);
// WARMUP_S of GPU work first. On the H200 the first seconds of a process measured up to 2x slow (the same
// config at a shape's start and end: 18.7 vs 25.6 TFLOPS); 2.5 s of warm-up plus a priming pass over the
// first shape did not cure it in bench/results/conv-gemm-sweep-nvidia-h200-2026-11-29 (its first two
// shapes); 10 s is a guess, not yet verified there.
{
  const x = gpu.alloc(1024 * 34 * 32 * 4), w = gpu.alloc(1024 * 1024 * 9 * 4), b = gpu.alloc(1024 * 4);
  const s: convK.Conv2dShape = { cin: 1024, cout: 1024, inRows: 34, width: 32, k: 3, stride: 1, padW: 1 };
  const until = performance.now() + 1e3 * Number(process.env.WARMUP_S ?? (QUICK ? '0' : '10'));
  do {
    for (let i = 0; i < 200; i++) gpu.free(convK.conv2d(gpu, x, w, b, s, 'gemm64'));
    await gpu.sync();
  } while (performance.now() < until);
  for (const buf of [x, w, b]) gpu.free(buf);
}

const timeCalls = (enqueue: () => GPUBuffer, targetSec: number) => timeCallsOn(gpu, enqueue, targetSec, QUICK ? 3 : 100);

const readF32 = async (b: GPUBuffer, n: number) => new Float32Array(await gpu.read(b, n * 4));

// ---------------------------------------------------------------- shapes

// The widened U-Net at 1024 px (latent 128; levels 320 @ 128, 640 @ 64, 1280 @ 32): every distinct conv
// shape of its forward, and the four heaviest-by-count 3x3 convs as the row patch one of N = 4 DistriFusion
// peers computes (S/4 output rows + 2 halo rows, full width). QUICK: channels / 10, sizes / 8.
const ch = (c: number) => (QUICK ? Math.max(4, Math.round(c / 10)) : c);
const sz = (s: number) => (QUICK ? Math.max(4, s / 8) : s);
const k3 = (cin: number, cout: number, S: number, stride = 1, rows = S): convK.Conv2dShape =>
  ({ cin: ch(cin), cout: ch(cout), inRows: (stride === 1 ? sz(rows) : sz(S)) + 2, width: sz(S), k: 3, stride, padW: 1 });
const k1 = (cin: number, cout: number, S: number): convK.Conv2dShape =>
  ({ cin: ch(cin), cout: ch(cout), inRows: 1, width: sz(S) * sz(S), k: 1, stride: 1, padW: 0 });
// The first FULL shapes also get the knob variants of r128 (KNOBS).
const FULL = 8;
const ALL_SHAPES: [string, convK.Conv2dShape][] = [
  ['320->320 @ 128x128', k3(320, 320, 128)],
  ['640->640 @ 64x64', k3(640, 640, 64)],
  ['1280->1280 @ 32x32', k3(1280, 1280, 32)],
  ['2560->1280 @ 32x32', k3(2560, 1280, 32)],
  ['320->320 @ 128x128 (N=4 patch)', k3(320, 320, 128, 1, 32)],
  ['640->640 @ 64x64 (N=4 patch)', k3(640, 640, 64, 1, 16)],
  ['1280->1280 @ 32x32 (N=4 patch)', k3(1280, 1280, 32, 1, 8)],
  ['2560->1280 @ 32x32 (N=4 patch)', k3(2560, 1280, 32, 1, 8)],
  ['1280->1280 @ 64x64 (up conv)', k3(1280, 1280, 64)],
  ['640->640 @ 128x128 (up conv)', k3(640, 640, 128)],
  ['960->320 @ 128x128', k3(960, 320, 128)],
  ['1920->640 @ 64x64', k3(1920, 640, 64)],
  ['1x1 640->1920 @ 64x64 (qkv)', k1(640, 1920, 64)],
  ['1x1 1280->3840 @ 32x32 (qkv)', k1(1280, 3840, 32)],
  ['1x1 1280->1280 @ 32x32 (proj)', k1(1280, 1280, 32)],
  ['1x1 2560->1280 @ 32x32 (skip)', k1(2560, 1280, 32)],
  ['320->320 @ 128x128 stride 2', k3(320, 320, 128, 2)],
  ['640->640 @ 64x64 stride 2', k3(640, 640, 64, 2)],
  ['320->640 @ 64x64', k3(320, 640, 64)],
  ['640->1280 @ 32x32', k3(640, 1280, 32)],
  ['4->320 @ 128x128 (conv_in)', { ...k3(4, 320, 128), cin: 4 }],
  ['320->4 @ 128x128 (out conv)', { ...k3(320, 4, 128), cout: 4 }],
];
// Other tiles and knobs of the r16x8 kernel (full shapes, unsplit and at r128's split): why REG_TILES
// holds what it holds.
const R128X256: convK.RegTile = { WG_X: 32, WG_Y: 8, BK: 8, STAGES: 1, WARP_X: 8 }; // 256 threads, 12 KiB
const KNOBS: [string, convK.RegTile, (0 | 2)?][] = [
  ['r128 bk8 s2', { ...convK.REG_TILES.r128, BK: 8, STAGES: 2 }],
  ['r128 warp4', { ...convK.REG_TILES.r128, WARP_X: 4 }],
  ['r128x256', R128X256],
];
const SHAPES = ALL_SHAPES.map(([n, s], i) => ({ name: n, s, full: i < FULL })).filter(({ name }) => !ONLY || ONLY.some((o) => name.includes(o)));

// Calibration: what the plain GEMM kernel (gemm_reg_r16x8, 45-48 TFLOPS at 4096^3 in its own sweep) does
// in this process at 4096^3, and the r16x8 conv as a 1x1 conv (a GEMM) there with either B loader.
interface CalRow { what: string; M: number; N: number; K: number; ms: number; tflops: number; relErr: number }
const calRows: CalRow[] = [];
if ((process.env.CAL ?? '1') === '1' && !QUICK) {
  const gcfg = (bk: number, warpX: number): GemmRegConfig => ({ wgX: 16, wgY: 8, tm: 16, tn: 8, bk, stages: 1, warpX, groupM: 0, regs: true });
  for (const [M, N, K] of [[4096, 4096, 4096]]) {
    const a = gpu.upload(randomF32(M * K), 'a'); // [M, K]
    const bb = gpu.upload(randomF32(K * N), 'b'); // [K, N]
    for (const [label, cfg] of [['gemm_reg_r16x8 128x128 bk16 s1 w4 (18 KiB)', gcfg(16, 4)], ['gemm_reg_r16x8 128x128 bk8 s1 w4 (9 KiB)', gcfg(8, 4)]] as const) {
      const sec = await timeCalls(() => gemmReg(gpu, a, bb, M, N, K, { config: cfg }), 0.015);
      calRows.push({ what: label, M, N, K, ms: sec * 1e3, tflops: (2 * M * N * K) / sec / 1e12, relErr: NaN });
      log(JSON.stringify(calRows[calRows.length - 1]));
    }
    a.destroy();
    bb.destroy();
  }
  const s: convK.Conv2dShape = { cin: 4096, cout: 4096, inRows: 1, width: 4096, k: 1, stride: 1, padW: 0 };
  const x = gpu.upload(randomF32(4096 * 4096), 'x'); // [cin, 1, P]
  const w = gpu.upload(randomF32(4096 * 4096, 2 / 64), 'w'); // [cout, cin, 1, 1]
  const b = gpu.upload(randomF32(4096), 'b'); // [cout]
  const d = convK.conv2d(gpu, x, w, b, s, 'direct');
  const direct = await readF32(d, 4096 * 4096);
  gpu.free(d);
  const calVariants: [string, convK.RegTileName, convK.Conv2dOptions][] = [
    ['conv r128 (k=1, B_MODE 2: vec4 rows)', 'r128', { bMode: 2 }],
    ['conv r128 (k=1, B_MODE 0: im2col gather)', 'r128', { bMode: 0 }],
    ['conv r64x128 (k=1, B_MODE 2)', 'r64x128', { bMode: 2 }],
    ['conv r128 bk8 s2 (k=1, B_MODE 2)', 'r128', { bMode: 2, tile: { ...convK.REG_TILES.r128, BK: 8, STAGES: 2 } }],
    ['conv r128x256 (k=1, B_MODE 2)', 'r128', { bMode: 2, tile: R128X256 }],
  ];
  for (const [label, kern, opts] of calVariants) {
    const o = convK.conv2d(gpu, x, w, b, s, kern, opts);
    const err = relErr(await readF32(o, 4096 * 4096), direct);
    gpu.free(o);
    const sec = await timeCalls(() => convK.conv2d(gpu, x, w, b, s, kern, opts), 0.015);
    calRows.push({ what: label, M: 4096, N: 4096, K: 4096, ms: sec * 1e3, tflops: (2 * 4096 ** 3) / sec / 1e12, relErr: err });
    log(JSON.stringify(calRows[calRows.length - 1]));
  }
  for (const buf of [x, w, b]) buf.destroy();
}

interface Variant { label: string; kernel: convK.Conv2dKernel; opts: convK.Conv2dOptions }
interface Row { shape: string; label: string; kernel: string; splitK: number; ms: number; tflops: number; relErrVsDirect: number; vsOld: number }
const rows: Row[] = [];
interface Summary { shape: string; oldGemm: string; oldTflops: number; best: string; bestTflops: number; gemm: string; gemmTflops: number; speedup: number }
const summary: Summary[] = [];

const gemmLabel = (s: convK.Conv2dShape) => {
  const p = convK.pickConv2d(s);
  return p.splitK > 1 ? `${p.kernel} split ${p.splitK}` : p.kernel;
};

// The first shape runs twice, the first pass unrecorded (see WARMUP_S).
for (const [pass, { name, s, full }] of [[0, SHAPES[0]] as const, ...SHAPES.map((x) => [1, x] as const)]) {
  const { outRows, outW } = convK.conv2dOutSize(s);
  const px = outRows * outW;
  const kTot = s.cin * s.k * s.k;
  const flops = 2 * s.cout * kTot * px;
  const x = gpu.upload(randomF32(s.cin * s.inRows * s.width), 'x'); // [cin, inRows, width]
  const w = gpu.upload(randomF32(s.cout * kTot, 2 / Math.sqrt(kTot)), 'w'); // [cout, cin, k, k]
  const b = gpu.upload(randomF32(s.cout), 'b'); // [cout]
  const d = convK.conv2d(gpu, x, w, b, s, 'direct'); // [cout, outRows, outW]
  const direct = await readF32(d, s.cout * px);
  gpu.free(d);

  const oldName = convK.pickGemmTile(s.cout, px); // what 'gemm' ran before conv2d_gemm_r16x8.wgsl
  const variants: Variant[] = [{ label: `${oldName} (old gemm)`, kernel: oldName, opts: {} }];
  if (FINAL) variants.push({ label: 'r128 unsplit', kernel: 'r128', opts: { splitK: 1 } }); // register tiling alone
  else variants.push({ label: oldName === 'gemm64' ? 'gemm64x128' : 'gemm64', kernel: oldName === 'gemm64' ? 'gemm64x128' : 'gemm64', opts: {} });
  for (const t of FINAL ? [] : TILES) {
    const tile = convK.REG_TILES[t];
    const { bm, bn } = convK.regTileSize(tile);
    const tiles = Math.ceil(s.cout / bm) * Math.ceil(px / bn);
    const seen = new Set<number>();
    for (const sk of SPLITS) {
      const eff = convK.splitKSize(tile, kTot, sk).splits; // the split count that really runs
      if (seen.has(eff) || (eff > 1 && (kTot / eff < 256 || tiles * eff > 1400))) continue;
      seen.add(eff);
      variants.push({ label: eff > 1 ? `${t} split ${eff}` : t, kernel: t, opts: { splitK: eff } });
    }
  }
  if (full && !FINAL) {
    const sk = convK.pickSplitK('r128', s.cout, px, kTot);
    for (const [label, tile, bMode] of KNOBS) {
      for (const k of new Set([1, sk])) variants.push({ label: k > 1 ? `${label} split ${k}` : label, kernel: 'r128', opts: { splitK: k, tile, bMode } });
    }
  }
  // The old kernel again at the end (clock drift): the baseline is the faster of its two times.
  variants.push({ label: `${oldName} (old gemm, again)`, kernel: oldName, opts: {} });
  variants.push({ label: `gemm = ${gemmLabel(s)}`, kernel: 'gemm', opts: {} });

  const timed: Row[] = [];
  for (const v of variants) {
    if (elapsed() > BUDGET_S && v.kernel !== 'gemm' && !v.label.includes('old')) continue;
    const o = convK.conv2d(gpu, x, w, b, s, v.kernel, v.opts);
    const err = relErr(await readF32(o, s.cout * px), direct);
    gpu.free(o);
    const sec = await timeCalls(() => convK.conv2d(gpu, x, w, b, s, v.kernel, v.opts), QUICK ? 0.005 : 0.015);
    const r: Row = {
      shape: name, label: v.label, kernel: v.kernel, splitK: v.opts.splitK ?? 0, ms: sec * 1e3, tflops: flops / sec / 1e12,
      relErrVsDirect: err, vsOld: 0,
    };
    if (pass === 0) continue; // priming pass
    rows.push(r);
    timed.push(r);
    log(`${elapsed().toFixed(0)}s ${JSON.stringify(r)}`);
  }
  if (pass === 0) {
    for (const buf of [x, w, b]) buf.destroy();
    continue;
  }
  const olds = timed.filter((r) => r.label.includes('(old gemm'));
  const old = olds.reduce((a, r) => (r.ms < a.ms ? r : a), olds[0]);
  for (const r of timed) r.vsOld = old.ms / r.ms;
  const reg = timed.filter((r) => r.kernel.startsWith('r'));
  const best = reg.reduce((a, r) => (r.tflops > a.tflops ? r : a), reg[0] ?? timed[0]);
  const g = timed[timed.length - 1];
  summary.push({
    shape: name, oldGemm: oldName, oldTflops: old.tflops, best: best.label, bestTflops: best.tflops,
    gemm: g.label, gemmTflops: g.tflops, speedup: g.vsOld,
  });
  for (const buf of [x, w, b]) buf.destroy();
  gpu.clearBindGroupCache();
}

// Small shapes against the CPU reference (the full shapes would take minutes in JS): every r16x8 tile,
// unsplit and split in 3, the new default and the old kernel; 3x3 stride 1 and 2 and a 1x1 with ragged K.
const cpuChecks: Record<string, number> = {};
{
  const small: [string, convK.Conv2dShape][] = [
    ['96->80 k3 18x16', { cin: 96, cout: 80, inRows: 18, width: 16, k: 3, stride: 1, padW: 1 }],
    ['33->70 k3 s2 17x15', { cin: 33, cout: 70, inRows: 17, width: 15, k: 3, stride: 2, padW: 1 }],
    ['150->130 k1 1x300', { cin: 150, cout: 130, inRows: 1, width: 300, k: 1, stride: 1, padW: 0 }],
  ];
  for (const [name, s] of small) {
    const kTot = s.cin * s.k * s.k;
    const xh = randomF32(s.cin * s.inRows * s.width), wh = randomF32(s.cout * kTot, 0.1), bh = randomF32(s.cout);
    const [x, w, b] = [gpu.upload(xh), gpu.upload(wh), gpu.upload(bh)];
    const ref = convK.reference(xh, wh, bh, s);
    const vs: Variant[] = [{ label: 'direct', kernel: 'direct', opts: {} }, { label: 'gemm64', kernel: 'gemm64', opts: {} }, { label: 'gemm', kernel: 'gemm', opts: {} }];
    for (const t of TILES) for (const sk of [1, 3]) vs.push({ label: `${t}${sk > 1 ? ` split ${sk}` : ''}`, kernel: t, opts: { splitK: sk } });
    for (const [label, tile, bMode] of KNOBS) vs.push({ label: `${label} split 3`, kernel: 'r128', opts: { splitK: 3, tile, bMode } });
    for (const v of vs) {
      const o = convK.conv2d(gpu, x, w, b, s, v.kernel, v.opts);
      cpuChecks[`${name} ${v.label}`] = relErr(await readF32(o, ref.length), ref);
      gpu.free(o);
    }
    for (const buf of [x, w, b]) buf.destroy();
  }
  log('cpu checks', JSON.stringify(cpuChecks));
}

// ---------------------------------------------------------------- report

const f = (v: number, dd = 2) => v.toFixed(dd);
const worstCpu = Math.max(...Object.values(cpuChecks));
const worstDirect = Math.max(...rows.map((r) => r.relErrVsDirect));
const md = [
  `# Implicit-GEMM conv2d sweep: ${gpu.report.description || gpu.report.architecture} (${new Date().toISOString().slice(0, 10)})`, '',
  `Widened U-Net conv shapes at 1024 px${QUICK ? ' (QUICK: cut down)' : ''}; timestamps ${hasTs}; wall ${f(elapsed(), 0)} s. ` +
    'TFLOPS = 2 cout cin k^2 P / time; "vs old" = the old \'gemm\' (conv2d_gemm.wgsl, pickGemmTile; the faster of its two runs, first and last of the shape) time / this one, same process. ' +
    `Worst error vs the direct kernel ${worstDirect.toExponential(1)}; worst vs the CPU reference (small shapes, every tile) ${worstCpu.toExponential(1)}.`, '',
  ...(calRows.length ? ['## Calibration: plain GEMM (gemm_reg_r16x8) and the r16x8 conv as a 1x1 conv', '',
    '| kernel | M | N | K | ms | TFLOPS | rel err vs direct |', '|---|---:|---:|---:|---:|---:|---:|',
    ...calRows.map((r) => `| ${r.what} | ${r.M} | ${r.N} | ${r.K} | ${f(r.ms, 3)} | ${f(r.tflops)} | ${Number.isNaN(r.relErr) ? '-' : r.relErr.toExponential(1)} |`), ''] : []),
  '## Per shape: old gemm, best r16x8 variant, what gemm picks now', '',
  '| shape | old gemm | TFLOPS | best r16x8 | TFLOPS | gemm now | TFLOPS | speedup vs old |', '|---|---|---:|---|---:|---|---:|---:|',
  ...summary.map((r) => `| ${r.shape} | ${r.oldGemm} | ${f(r.oldTflops)} | ${r.best} | ${f(r.bestTflops)} | ${r.gemm} | ${f(r.gemmTflops)} | ${f(r.speedup)}x |`), '',
  '## Every variant', '',
  '| shape | variant | ms | TFLOPS | vs old | rel err vs direct |', '|---|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.shape} | ${r.label} | ${f(r.ms, 3)} | ${f(r.tflops)} | ${f(r.vsOld)}x | ${r.relErrVsDirect.toExponential(1)} |`), '',
  `CPU reference checks (rel err): ${Object.entries(cpuChecks).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`,
].join('\n');
console.log(md);
fs.mkdirSync(OUT, { recursive: true });
// MACHINE (e.g. nvidia-h200) names the file as bench/results/ wants; the adapter's description otherwise.
const machine = process.env.MACHINE ?? (gpu.report.description || 'gpu').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
const base = `conv-gemm-sweep-${LABEL ? LABEL + '-' : ''}${machine}-${new Date().toISOString().slice(0, 10)}`;
fs.writeFileSync(path.join(OUT, `${base}.json`), JSON.stringify({
  bench: 'conv-gemm-sweep', date: new Date().toISOString(), machine, host: os.hostname(), adapter: gpu.report, quick: QUICK,
  wallS: elapsed(), calibration: calRows, summary, variants: rows, cpuChecks,
}, null, 1));
fs.writeFileSync(path.join(OUT, `${base}.md`), md + '\n');
gpu.destroy?.();
process.exit(0);
