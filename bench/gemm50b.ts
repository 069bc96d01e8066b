// Issue 7 f32 GEMM push, round 2: mutations of gemm_reg_r16x8 in gemm_reg_q16x8.wgsl, one process, default
// Dawn instance (robustness on), 4096^3 (GEMM50_QUICK=1: 256x512x64 on lavapipe).
// Rows: the current best (r16x8 128x256 bk16 s1 w4) first and again last as the same-run baseline; q16x8
// with every knob off (the struct/function refactor alone), then the knobs one at a time and together
// (U = chunk loop written out, P = branch-free next-tile prefetch), two stages at bk8 (fits 27 KiB at 128x256;
// untested for r16x8 at this tile, so its r16x8 row too), other tiles and warp layouts; the winner repeated and
// in NT. Every row is checked on 256 sampled entries against an f64 CPU dot product (bench/gemm-check.ts).
// Writes gemm50b-<tag>-<date>.{json,md} under $OUT (default bench/out).
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/gemm50b.ts', '.gpu-node/gemm50b.mjs', { minify: true }))"
import { globals } from 'webgpu';
import fs from 'node:fs';
import path from 'node:path';
import { planGemmReg, gemmRegLabel, gemmRegConfigError, type GemmRegConfig } from '../src/kernels/gemm-reg';
import { gemmQError, gemmQLabel, planGemmQ, GEMM_Q_DEFAULT, type GemmQConfig } from '../src/kernels/gemm-q16x8';
import { checkGemm } from './gemm-check';
import { adapterInfo, deviceTools, machine, openDevice } from './gemm-bench-util';

Object.assign(globalThis, globals);
const QUICK = process.env.GEMM50_QUICK === '1';
const OUT = process.env.OUT ?? 'bench/out';
const T0 = performance.now();
const elapsed = () => (performance.now() - T0) / 1000;
const [M, N, K] = QUICK ? [256, 512, 64] : [4096, 4096, 4096];

type Job = { phase: string; bT: boolean } & ({ kind: 'r16x8'; cfg: GemmRegConfig } | { kind: 'q16x8'; cfg: GemmQConfig });
interface Row { phase: string; kernel: string; label: string; layout: 'NN' | 'NT'; config: unknown; tflops: number | null;
  msMedian: number | null; msAll: number[]; reps: number; relErr: number | null; ok: boolean; error?: string }

const BEST: GemmRegConfig = { wgX: 32, wgY: 8, tm: 16, tn: 8, bk: 16, stages: 1, warpX: 4, groupM: 0, regs: true };
const R_BK8_S2: GemmRegConfig = { ...BEST, bk: 8, stages: 2 };
const Q = (o: Partial<GemmQConfig>): GemmQConfig => ({ ...GEMM_Q_DEFAULT, ...o });
const UP = { unrollKc: true, pfUncond: true };
const T128 = { wgX: 16, wgY: 8 }; // 128x128, 128 threads
const T256x128 = { wgX: 16, wgY: 16 }; // 256x128, 256 threads
// Most informative first: the 150 s budget cuts the tail.
const SWEEP: GemmQConfig[] = [
  Q({}), Q({ unrollKc: true }), Q({ pfUncond: true }), Q(UP),
  Q({ bk: 8, stages: 2 }), Q({ bk: 8, stages: 2, ...UP }), Q({ bk: 8, stages: 2, pfUncond: true }),
  Q({ ...UP, warpX: 8 }), Q({ ...UP, warpX: 16 }), Q({ ...UP, warpX: 0 }), Q({ ...UP, groupM: 8 }),
  Q({ ...T128, ...UP }), Q({ ...T128, ...UP, groupM: 8 }), Q({ ...T128, bk: 32, ...UP }), Q({ ...T128, bk: 8, stages: 2, ...UP }),
  Q({ ...T128, bk: 16, stages: 2, ...UP }), Q({ ...T256x128, ...UP }), Q({ ...T256x128, bk: 8, stages: 2, ...UP }),
  Q({ bk: 8, ...UP }), Q({ bk: 8, stages: 2, ...UP, warpX: 8 }),
];

async function main() {
  const { navGpu, adapter, device, limits } = await openDevice([]);
  const tools = deviceTools(device);
  const lim = { maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup };
  let seed = 12345 + M;
  const host = (n: number) => { // uniform [-0.5, 0.5): random data, not zeros (zeros can run faster)
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5;
    return f;
  };
  const hA = host(M * K); // [M, K]
  const hB = host(K * N); // [K, N]; NT reads the same bytes as [N, K] (square shape)
  const A = tools.upload(hA);
  const B = tools.upload(hB);
  const C = device.createBuffer({ size: M * N * 4, usage: tools.STORAGE }); // [M, N]
  const ub = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const rows: Row[] = [];
  const run = async (job: Job): Promise<Row> => {
    const row: Row = { phase: job.phase, kernel: job.kind === 'r16x8' ? 'gemm_reg_r16x8.wgsl' : 'gemm_reg_q16x8.wgsl',
      label: job.kind === 'r16x8' ? gemmRegLabel(job.cfg) : gemmQLabel(job.cfg), layout: job.bT ? 'NT' : 'NN',
      config: job.cfg, tflops: null, msMedian: null, msAll: [], reps: 0, relErr: null, ok: false };
    rows.push(row);
    try {
      const err = job.kind === 'r16x8' ? gemmRegConfigError(job.cfg, lim) : gemmQError(M, N, K, job.cfg, lim);
      if (err) throw new Error(err);
      const d = job.kind === 'r16x8' ? planGemmReg(M, N, K, { config: job.cfg, bT: job.bT }) : planGemmQ(M, N, K, { config: job.cfg, bT: job.bT });
      const pipe = await tools.pipeline(d.kernel);
      device.queue.writeBuffer(ub, 0, d.params.buffer as ArrayBuffer, d.params.byteOffset, d.params.byteLength);
      const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [
        { binding: 0, resource: { buffer: ub } }, { binding: 1, resource: { buffer: A } },
        { binding: 2, resource: { buffer: B } }, { binding: 3, resource: { buffer: C } }] });
      const clr = device.createCommandEncoder();
      clr.clearBuffer(C); // a config that writes nothing must not inherit the previous result
      device.queue.submit([clr.finish()]);
      const t = await tools.timeMedian(pipe, bg, d.workgroups, 0.025, QUICK ? 3 : 2000);
      Object.assign(row, { msMedian: t.ms, msAll: t.all, reps: t.reps, tflops: (2 * M * N * K) / (t.ms / 1e3) / 1e12 });
      const hc = new Float32Array(await tools.read(C, M * N * 4)); // [M, N]
      row.relErr = checkGemm(hA, hB, hc, M, N, K, job.bT);
      row.ok = row.relErr < 1e-4;
    } catch (e) {
      row.error = String(e).slice(0, 400);
    }
    console.error(`${row.layout} ${row.kernel} ${row.label}: ${row.tflops?.toFixed(2) ?? '-'} TFLOPS relErr ${row.relErr?.toExponential(1) ?? '-'}${row.error ? ' ERROR ' + row.error : ''} (${elapsed().toFixed(0)} s)`);
    return row;
  };
  const base = (phase: string) => run({ phase, kind: 'r16x8', cfg: BEST, bT: false });
  await base('baseline');
  await run({ phase: 'sweep', kind: 'r16x8', cfg: R_BK8_S2, bT: false });
  for (const cfg of QUICK ? [Q({}), Q(UP), Q({ bk: 8, stages: 2, ...UP }), Q({ ...T128, bk: 32, ...UP })] : SWEEP) {
    if (elapsed() > 150) { console.error('time budget: skipping the rest of the sweep'); break; }
    await run({ phase: 'sweep', kind: 'q16x8', cfg, bT: false });
  }
  await base('baseline-repeat');
  const win = rows.filter((r) => r.ok && r.kernel === 'gemm_reg_q16x8.wgsl').sort((x, y) => y.tflops! - x.tflops!)[0];
  if (win) {
    await run({ phase: 'winner-repeat', kind: 'q16x8', cfg: win.config as GemmQConfig, bT: false });
    await run({ phase: 'winner-NT', kind: 'q16x8', cfg: win.config as GemmQConfig, bT: true });
  }
  await run({ phase: 'baseline-NT', kind: 'r16x8', cfg: BEST, bT: true });
  for (const b of [A, B, C, ub]) b.destroy();
  const info = adapterInfo(adapter);
  device.destroy();
  void navGpu;

  const date = new Date().toISOString();
  const baseMs = rows.filter((r) => r.phase.startsWith('baseline') && r.layout === 'NN' && r.msMedian).map((r) => r.msMedian!);
  const baseBest = baseMs.length ? Math.min(...baseMs) : null;
  const result = { date, quick: QUICK, wallSec: elapsed(), shape: [M, N, K], machine: machine(), adapter: info, limits,
    timing: 'timestamp-query around one compute pass of N dispatches (~25 ms), median of 5 passes; 256 sampled entries checked against an f64 CPU dot product',
    goalTflops: 50, best: rows.filter((r) => r.ok).sort((x, y) => y.tflops! - x.tflops!)[0] ?? null, rows };
  const f = (v: number | null, d = 2) => (v === null ? '-' : v.toFixed(d));
  const md = [`### gemm50b (issue 7, r16x8 mutations): ${String(info.description ?? '')} (${String(info.device ?? '')}), ${date.slice(0, 10)}`, '',
    `Shape ${M}x${N}x${K} f32; ${result.timing}. Wall time ${elapsed().toFixed(0)} s. Goal: 50 TFLOPS. vs base = baseline ms / row ms (best of the two NN baseline rows). q labels: U = chunk loop written out, P = branch-free next-tile prefetch.`, '',
    '| phase | layout | kernel / config | TFLOPS | ms | vs base | rel err |', '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.phase} | ${r.layout} | ${r.kernel} ${r.label} | ${f(r.tflops)} | ${f(r.msMedian, 3)} | ${r.msMedian && baseBest ? (baseBest / r.msMedian).toFixed(3) : '-'} | ${r.relErr === null ? '-' : r.relErr.toExponential(1)}${r.error ? ' ' + r.error.slice(0, 100).replace(/\|/g, '/') : ''} |`),
  ].join('\n');
  console.log(md);
  fs.mkdirSync(OUT, { recursive: true });
  const tag = `${String(info.vendor || 'gpu')}-${String(info.device || info.architecture || 'adapter')}${QUICK ? '-quick' : ''}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  fs.writeFileSync(path.join(OUT, `gemm50b-${tag}-${date.slice(0, 10)}.json`), JSON.stringify(result, null, 1));
  fs.writeFileSync(path.join(OUT, `gemm50b-${tag}-${date.slice(0, 10)}.md`), md + '\n');
  console.error(`wrote ${OUT}/gemm50b-${tag}-${date.slice(0, 10)}.{json,md} in ${elapsed().toFixed(0)} s`);
}

await main();
process.exit(0);
