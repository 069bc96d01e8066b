// Subgroup-matrix (tensor core) int8 GEMM on Dawn with enable-dawn-features=allow_unsafe_apis (issue 7, second
// part): prints the adapter's subgroup-matrix configs field by field, then, when an i8 -> i32 16x16x32 config
// exists, runs shaders/gemm/gemm_subgroup_matrix_i8.wgsl: both load-unit readings (UNIT 4 = array words, 1 =
// matrix elements) on 256x256x512 with max |error| against the exact CPU product, then the correct one timed at
// 2048^3 and 4096^3 (TOPS = 2*M*N*K / s). Writes gemm-subgroup-matrix-<tag>-<date>.{json,md} under $OUT.
// Without the feature (lavapipe) it records why and exits 0.
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/gemm-subgroup-matrix.ts', '.gpu-node/gemm-sgm.mjs', { minify: true }))"
import { globals } from 'webgpu';
import fs from 'node:fs';
import path from 'node:path';
import { SGM_FEATURE, packI8, planGemmSubgroupMatrix, referenceI8, subgroupMatrixConfigs, subgroupMatrixSupport } from '../src/kernels/gemm-subgroup-matrix';
import { adapterInfo, deviceTools, machine, openDevice } from './gemm-bench-util';

Object.assign(globalThis, globals);
const OUT = process.env.OUT ?? 'bench/out';
const FLAGS = ['enable-dawn-features=allow_unsafe_apis'];
const T0 = performance.now();

interface Row { phase: string; M: number; N: number; K: number; unit: number; tops: number | null; msMedian: number | null;
  maxAbsErr: number | null; ok: boolean; error?: string }

async function main() {
  const { navGpu, adapter, device } = await openDevice(FLAGS, [SGM_FEATURE]);
  const info = adapterInfo(adapter);
  const configs = subgroupMatrixConfigs(adapter.info);
  const why = subgroupMatrixSupport(new Set([...device.features].map(String)), adapter.info);
  console.error('subgroupMatrixConfigs', JSON.stringify(configs), why ?? 'i8 config present');
  const rows: Row[] = [];
  let seed = 99;
  const randI8 = (n: number) => { // uniform -128..127
    const v = new Int8Array(n);
    for (let i = 0; i < n; i++) v[i] = ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24) - 128;
    return v;
  };
  if (!why) {
    const tools = deviceTools(device);
    const ub = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const runShape = async (phase: string, M: number, N: number, K: number, unit: 1 | 4, check: boolean) => {
      const row: Row = { phase, M, N, K, unit, tops: null, msMedian: null, maxAbsErr: null, ok: false };
      rows.push(row);
      const ha = randI8(M * K); // [M, K]
      const hb = randI8(N * K); // [N, K]
      const A = tools.upload(packI8(ha));
      const B = tools.upload(packI8(hb));
      const C = device.createBuffer({ size: M * N * 4, usage: tools.STORAGE }); // [M, N] i32
      try {
        const d = planGemmSubgroupMatrix(M, N, K, unit);
        const pipe = await tools.pipeline(d.kernel);
        device.queue.writeBuffer(ub, 0, d.params.buffer as ArrayBuffer, d.params.byteOffset, d.params.byteLength);
        const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [
          { binding: 0, resource: { buffer: ub } }, { binding: 1, resource: { buffer: A } },
          { binding: 2, resource: { buffer: B } }, { binding: 3, resource: { buffer: C } }] });
        const t = await tools.timeMedian(pipe, bg, d.workgroups, 0.025, 2000);
        row.msMedian = t.ms;
        row.tops = (2 * M * N * K) / (t.ms / 1e3) / 1e12;
        const got = new Int32Array(await tools.read(C, M * N * 4)); // [M, N]
        if (check) { // exact: every entry
          const want = referenceI8(ha, hb, M, N, K);
          let e = 0;
          for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
          row.maxAbsErr = e;
        } else { // 256 sampled entries (a full CPU product at 4096^3 takes minutes)
          let e = 0;
          for (let s = 0; s < 256; s++) {
            const m = (s * 7919) % M;
            const n = (s * 104729 + 13) % N;
            let ref = 0;
            for (let k = 0; k < K; k++) ref += ha[m * K + k] * hb[n * K + k];
            e = Math.max(e, Math.abs(got[m * N + n] - ref));
          }
          row.maxAbsErr = e;
        }
        row.ok = row.maxAbsErr === 0;
      } catch (err) {
        row.error = String(err).slice(0, 500);
      }
      for (const b of [A, B, C]) b.destroy();
      console.error(`${phase} ${M}x${N}x${K} unit ${unit}: ${row.tops?.toFixed(1) ?? '-'} TOPS maxAbsErr ${row.maxAbsErr ?? '-'}${row.error ? ' ERROR ' + row.error : ''}`);
      return row;
    };
    const small = [await runShape('check', 256, 256, 512, 4, true), await runShape('check', 256, 256, 512, 1, true)];
    const good = small.find((r) => r.ok);
    if (good) {
      for (const S of [2048, 4096]) await runShape('timing', S, S, S, good.unit as 1 | 4, false);
    }
    ub.destroy();
  }
  device.destroy();
  void navGpu;
  const date = new Date().toISOString();
  const result = { date, wallSec: (performance.now() - T0) / 1000, flags: FLAGS, machine: machine(), adapter: info, subgroupMatrixConfigs: configs,
    unsupported: why, timing: 'timestamp-query around one compute pass of N dispatches (~25 ms), median of 5 passes', rows };
  const md = [`### gemm subgroup matrix (i8 -> i32): ${String(info.description ?? '')} (${String(info.device ?? '')}), ${date.slice(0, 10)}`, '',
    `Dawn flags ${JSON.stringify(FLAGS)}. Configs: ${configs.map((c) => `${c.componentType}->${c.resultComponentType} M${c.M} N${c.N} K${c.K}`).join(', ') || 'none'}.`,
    why ? `Not run: ${why}.` : `shaders/gemm/gemm_subgroup_matrix_i8.wgsl, 64x64 per subgroup, loads straight from storage. ${result.timing}.`, '',
    '| phase | shape | load unit | TOPS | ms | max abs err (vs exact CPU) |', '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.phase} | ${r.M}x${r.N}x${r.K} | ${r.unit} | ${r.tops?.toFixed(1) ?? '-'} | ${r.msMedian?.toFixed(3) ?? '-'} | ${r.maxAbsErr ?? '-'}${r.error ? ' ' + r.error.slice(0, 160).replace(/\|/g, '/') : ''} |`),
  ].join('\n');
  console.log(md);
  fs.mkdirSync(OUT, { recursive: true });
  const tag = `${String(info.vendor || 'gpu')}-${String(info.device || info.architecture || 'adapter')}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  fs.writeFileSync(path.join(OUT, `gemm-subgroup-matrix-${tag}-${date.slice(0, 10)}.json`), JSON.stringify(result, null, 1));
  fs.writeFileSync(path.join(OUT, `gemm-subgroup-matrix-${tag}-${date.slice(0, 10)}.md`), md + '\n');
}

await main();
process.exit(0);
