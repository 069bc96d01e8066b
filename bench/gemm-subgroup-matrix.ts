// Subgroup-matrix (tensor core) int8 GEMM on Dawn with enable-dawn-features=allow_unsafe_apis (issue 7, second
// part): prints the adapter's subgroup-matrix configs field by field, then, when an i8 -> i32 16x16x32 config
// exists, runs shaders/gemm/gemm_subgroup_matrix_i8.wgsl ("direct": one subgroup per 64x64 block, loads from
// storage) and shaders/gemm/gemm_subgroup_matrix_i8_tiled.wgsl (SG_M x SG_N subgroups staging A/B tiles through
// workgroup memory) in the TILED configs below, side by side:
//   check:  256x256x512, every entry against the exact CPU product; the direct kernel in both load-unit readings
//           (UNIT 4 = array words, 1 = matrix elements), the tiled ones in the unit that validated (else 4);
//   timing: 2048^3 and 4096^3, TOPS = 2*M*N*K / s, 512 sampled entries checked exactly.
// Every kernel variant compiles inside error scopes with getCompilationInfo: a compile or validation error of one
// is recorded in its rows (and printed) and the others still run. C is cleared before every run, so a kernel
// that writes nothing cannot pass on a predecessor's result.
// Writes gemm-subgroup-matrix-<tag>-<date>.{json,md} under $OUT. Without the feature (lavapipe) it says so and exits 0;
// SGM_FORCE=1 runs anyway (every variant then reports the compiler's error: a check of the error path).
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/gemm-subgroup-matrix.ts', '.gpu-node/gemm-sgm.mjs', { minify: true }))"
// Run (GPU machine): OUT=<dir> /tmp/node gemm-sgm.mjs
import { globals } from 'webgpu';
import fs from 'node:fs';
import path from 'node:path';
import {
  SGM_FEATURE, SGM_TILED_DEFAULT, packI8, planGemmSubgroupMatrix, planGemmSubgroupMatrixTiled, referenceI8, sgmTiledConfigError, sgmTiledGeometry,
  sgmTiledLabel, subgroupMatrixConfigs, subgroupMatrixSupport, type SgmTiledConfig, type SgmTiledLimits,
} from '../src/kernels/gemm-subgroup-matrix';
import type { Kernel } from '../src/gpu/gpu';
import { adapterInfo, deviceTools, machine, openDevice } from './gemm-bench-util';

Object.assign(globalThis, globals);
const OUT = process.env.OUT ?? 'bench/out';
const FLAGS = ['enable-dawn-features=allow_unsafe_apis'];
const T0 = performance.now();
// The default (128x128 sg2x2 BK 64 PAD 4, lane-rotated stores: 219.9 TOPS at 4096^3 on the H200, 2026-11-28) beside
// plain stores (193.2 in the same run), BK 32, and the 256x128 / 128x256 blocks. Double buffering lost there and was
// removed (docs/arch-gemm.md; code at ea8a5a5). All exactness-checked.
const TILED: SgmTiledConfig[] = [
  { sgM: 2, sgN: 2, bk: 64, pad: 4, swizzle: false }, SGM_TILED_DEFAULT, { sgM: 2, sgN: 2, bk: 32, pad: 4, swizzle: true },
  { sgM: 4, sgN: 2, bk: 64, pad: 4, swizzle: true }, { sgM: 2, sgN: 4, bk: 64, pad: 4, swizzle: true },
];
const SAMPLES = 512;
const FORCE = process.env.SGM_FORCE === '1';

interface Plan { kernel: Kernel; params: Uint32Array; workgroups: [number, number] }
interface Variant { name: string; config: SgmTiledConfig | null; workgroupBytes: number | null; invalid: string | null; plan: (M: number, N: number, K: number, unit: 1 | 4) => Plan }
interface Row { kernel: string; phase: string; M: number; N: number; K: number; unit: number; workgroupBytes: number | null; tops: number | null;
  msMedian: number | null; maxAbsErr: number | null; checked: string; ok: boolean; error?: string }

async function main() {
  const { navGpu, adapter, device } = await openDevice(FLAGS, [SGM_FEATURE]);
  const info = adapterInfo(adapter);
  const configs = subgroupMatrixConfigs(adapter.info);
  const why = subgroupMatrixSupport(new Set([...device.features].map(String)), adapter.info);
  console.error('subgroupMatrixConfigs', JSON.stringify(configs), why ?? 'i8 config present');
  if (why) console.error(`no subgroup-matrix config usable here (${why}): nothing to time; writing the probe and exiting.`);
  const rows: Row[] = [];
  let seed = 99;
  const randI8 = (n: number) => { // uniform -128..127
    const v = new Int8Array(n);
    for (let i = 0; i < n; i++) v[i] = ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24) - 128;
    return v;
  };
  if (!why || FORCE) {
    const tools = deviceTools(device);
    const lim = device.limits;
    const limits: SgmTiledLimits = { maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX, subgroupMaxSize: Number((adapter.info as unknown as Record<string, unknown>).subgroupMaxSize) || undefined };
    const variants: Variant[] = [
      { name: 'direct 64x64 (1 subgroup, storage loads)', config: null, workgroupBytes: 0, invalid: null, plan: (M, N, K, u) => planGemmSubgroupMatrix(M, N, K, u) },
      ...TILED.map((c): Variant => ({ name: sgmTiledLabel(c), config: c, workgroupBytes: sgmTiledGeometry(c).workgroupBytes,
        invalid: sgmTiledConfigError(c, limits), plan: (M, N, K, u) => planGemmSubgroupMatrixTiled(M, N, K, c, u, limits) })),
    ];
    for (const v of variants) if (v.invalid) console.error(`${v.name}: skipped, ${v.invalid}`);
    const pipes = new Map<string, Promise<GPUComputePipeline>>(); // name|unit -> pipeline (or its compile error)
    const compile = (v: Variant, k: Kernel, unit: number) => {
      const key = `${v.name}|${unit}`;
      if (!pipes.has(key)) pipes.set(key, compileKernel(device, k));
      return pipes.get(key)!;
    };
    const ub = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });

    // One shape's inputs, uploaded once and shared by every variant.
    const withShape = async (M: number, N: number, K: number, fn: (ha: Int8Array, hb: Int8Array, bufs: GPUBuffer[]) => Promise<void>) => {
      const ha = randI8(M * K); // [M, K]
      const hb = randI8(N * K); // [N, K]
      const bufs = [tools.upload(packI8(ha)), tools.upload(packI8(hb)), device.createBuffer({ size: M * N * 4, usage: tools.STORAGE })]; // A, B, C [M, N] i32
      try { await fn(ha, hb, bufs); } finally { for (const b of bufs) b.destroy(); }
    };
    const run = async (v: Variant, phase: string, M: number, N: number, K: number, unit: 1 | 4, full: boolean, ha: Int8Array, hb: Int8Array, [A, B, C]: GPUBuffer[]) => {
      const row: Row = { kernel: v.name, phase, M, N, K, unit, workgroupBytes: v.workgroupBytes, tops: null, msMedian: null, maxAbsErr: null, checked: '-', ok: false };
      rows.push(row);
      try {
        if (v.invalid) throw new Error(`config: ${v.invalid}`);
        const d = v.plan(M, N, K, unit);
        const pipe = await compile(v, d.kernel, unit);
        device.queue.writeBuffer(ub, 0, d.params.buffer as ArrayBuffer, d.params.byteOffset, d.params.byteLength);
        const enc = device.createCommandEncoder();
        enc.clearBuffer(C);
        device.queue.submit([enc.finish()]);
        device.pushErrorScope('validation');
        let t: { ms: number } | null = null;
        try {
          const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [
            { binding: 0, resource: { buffer: ub } }, { binding: 1, resource: { buffer: A } },
            { binding: 2, resource: { buffer: B } }, { binding: 3, resource: { buffer: C } }] });
          t = await tools.timeMedian(pipe, bg, d.workgroups, 0.025, 2000);
        } finally {
          const err = await device.popErrorScope();
          if (err) throw new Error(`dispatch: ${err.message}`); // eslint-disable-line no-unsafe-finally
        }
        row.msMedian = t.ms;
        row.tops = (2 * M * N * K) / (t.ms / 1e3) / 1e12;
        const got = new Int32Array(await tools.read(C, M * N * 4)); // [M, N]
        let e = 0;
        if (full) { // exact: every entry
          const want = referenceI8(ha, hb, M, N, K); // [M, N]
          for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
          row.checked = 'all';
        } else { // sampled entries, the two corners included (a full CPU product at 4096^3 takes minutes)
          for (let s = 0; s < SAMPLES; s++) {
            const m = s === 0 ? 0 : s === 1 ? M - 1 : (s * 7919) % M;
            const n = s === 0 ? 0 : s === 1 ? N - 1 : (s * 104729 + 13) % N;
            let ref = 0;
            for (let k = 0; k < K; k++) ref += ha[m * K + k] * hb[n * K + k];
            e = Math.max(e, Math.abs(got[m * N + n] - ref));
          }
          row.checked = `${SAMPLES} sampled`;
        }
        row.maxAbsErr = e;
        row.ok = e === 0;
      } catch (err) {
        row.error = String(err instanceof Error ? err.message : err).slice(0, 800);
      }
      console.error(`${phase} ${v.name} ${M}x${N}x${K} unit ${unit}: ${row.tops?.toFixed(1) ?? '-'} TOPS ${row.msMedian?.toFixed(3) ?? '-'} ms maxAbsErr ${row.maxAbsErr ?? '-'}${row.error ? ' ERROR ' + row.error : ''}`);
      return row;
    };

    let unit: 1 | 4 = 4;
    await withShape(256, 256, 512, async (ha, hb, bufs) => {
      const direct = [await run(variants[0], 'check', 256, 256, 512, 4, true, ha, hb, bufs), await run(variants[0], 'check', 256, 256, 512, 1, true, ha, hb, bufs)];
      unit = (direct.find((r) => r.ok)?.unit ?? 4) as 1 | 4;
      for (const v of variants.slice(1)) await run(v, 'check', 256, 256, 512, unit, true, ha, hb, bufs);
    });
    for (const S of [2048, 4096]) {
      await withShape(S, S, S, async (ha, hb, bufs) => {
        for (const v of variants) await run(v, 'timing', S, S, S, unit, false, ha, hb, bufs);
      });
    }
    ub.destroy();
  }
  device.destroy();
  void navGpu;
  const date = new Date().toISOString();
  const result = { date, wallSec: (performance.now() - T0) / 1000, flags: FLAGS, machine: machine(), adapter: info, subgroupMatrixConfigs: configs,
    unsupported: why, tiledConfigs: TILED, timing: 'timestamp-query around one compute pass of N dispatches (~25 ms), median of 5 passes', rows };
  const md = [`### gemm subgroup matrix (i8 -> i32): ${String(info.description ?? '')} (${String(info.device ?? '')}), ${date.slice(0, 10)}`, '',
    `Dawn flags ${JSON.stringify(FLAGS)}. Configs: ${configs.map((c) => `${c.componentType}->${c.resultComponentType} M${c.M} N${c.N} K${c.K}`).join(', ') || 'none'}.`,
    why ? `Not run: no subgroup-matrix config usable here (${why}).`
      : `direct = shaders/gemm/gemm_subgroup_matrix_i8.wgsl (64x64 per subgroup, loads from storage); tiled = shaders/gemm/gemm_subgroup_matrix_i8_tiled.wgsl (block BMxBN, SG_MxSG_N subgroups, BK, PAD words; swz = SWZ 1 lane-rotated staging stores, plain = SWZ 0). ${result.timing}.`, '',
    '| kernel | phase | shape | unit | wg bytes | TOPS | ms | max abs err (vs exact CPU) | checked |', '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.kernel} | ${r.phase} | ${r.M}x${r.N}x${r.K} | ${r.unit} | ${r.workgroupBytes ?? '-'} | ${r.tops?.toFixed(1) ?? '-'} | ${r.msMedian?.toFixed(3) ?? '-'} | ${r.maxAbsErr ?? '-'}${r.error ? ' ERROR ' + r.error.slice(0, 300).replace(/\|/g, '/').replace(/\n/g, ' ') : ''} | ${r.checked} |`),
  ].join('\n');
  console.log(md);
  fs.mkdirSync(OUT, { recursive: true });
  const tag = `${String(info.vendor || 'gpu')}-${String(info.device || info.architecture || 'adapter')}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  fs.writeFileSync(path.join(OUT, `gemm-subgroup-matrix-${tag}-${date.slice(0, 10)}.json`), JSON.stringify(result, null, 1));
  fs.writeFileSync(path.join(OUT, `gemm-subgroup-matrix-${tag}-${date.slice(0, 10)}.md`), md + '\n');
}

/** Pipeline for k, or a rejection carrying every compile message and validation/internal error (scopes always popped). */
async function compileKernel(device: GPUDevice, k: Kernel): Promise<GPUComputePipeline> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: k.code, label: k.file });
  const modErr = await device.popErrorScope();
  const msgs = (await module.getCompilationInfo()).messages;
  for (const m of msgs) if (m.type !== 'error') console.error(`${k.file} ${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  const errs = msgs.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  if (errs.length || modErr) throw new Error(`${k.file} compile: ${errs.join('; ') || modErr!.message}`);
  device.pushErrorScope('validation');
  device.pushErrorScope('internal');
  let pipe: GPUComputePipeline | null = null;
  let thrown: unknown = null;
  try {
    pipe = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: k.entryPoint ?? 'main', constants: k.constants } });
  } catch (e) {
    thrown = e;
  }
  const e1 = await device.popErrorScope();
  const e2 = await device.popErrorScope();
  if (thrown || e1 || e2 || !pipe) {
    const msg = [thrown ? String((thrown as Error).message ?? thrown) : '', e1?.message ?? '', e2?.message ?? ''].filter(Boolean).join('; ');
    throw new Error(`${k.file} ${JSON.stringify(k.constants ?? {})} pipeline: ${msg}`);
  }
  return pipe;
}

await main();
process.exit(0);
