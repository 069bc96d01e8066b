// GPU time of decode's add+rmsnorm (the scalar add_rmsnorm.wgsl and the vec4 add_rmsnorm4.wgsl) and swiglu, alone,
// followed by quantize_q8, and with the q8_0 int8 output fused (`main_q8`; the scalar kernel had one until the vec4
// kernel replaced it: bench/results/fused-quant-nvidia-h200-2026-11-29.md), at Llama 7B widths (dim 4096, hidden
// 11008) for 1 and 16 token rows (Node + Dawn, timestamp queries). Each variant is one compute pass of many
// repetitions of its dispatch sequence (median of 5 passes), the variants of a case alternating twice, after 1 s of
// warm-up (the GPU idles at 345 MHz). One JSON + markdown file under $OUT (default bench/out).
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/fused-quant.ts', '.gpu-node/fq.mjs', { minify: true }))"
import { globals } from 'webgpu';
import fs from 'node:fs';
import path from 'node:path';
import addNormWgsl from '../shaders/llm/add_rmsnorm.wgsl?raw';
import addNorm4Wgsl from '../shaders/llm/add_rmsnorm4.wgsl?raw';
import swigluWgsl from '../shaders/llm/swiglu.wgsl?raw';
import quantWgsl from '../shaders/gemm/quantize_q8.wgsl?raw';
import { quantizedWords } from '../src/kernels/quantize-q8';
import { adapterInfo, deviceTools, machine, openDevice } from './gemm-bench-util';

Object.assign(globalThis, globals);
const OUT = process.env.OUT ?? 'bench/out';
const REPS = Number(process.env.REPS ?? 400); // repetitions per pass (a small number for a smoke run on a CPU adapter)
const { navGpu, adapter, device } = await openDevice([]);
const { pipeline, timeSeq } = deviceTools(device);
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const buf = (floats: number, fill = true) => {
  const b = device.createBuffer({ size: Math.ceil(floats / 4) * 16, usage: STORAGE });
  if (fill) device.queue.writeBuffer(b, 0, Float32Array.from({ length: Math.ceil(floats / 4) * 4 }, (_, i) => Math.sin(i) * 0.5));
  return b;
};
const uniform = (words: ArrayBuffer) => {
  const b = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, words);
  return b;
};
type Step = { pipe: GPUComputePipeline; bg: GPUBindGroup; wg: [number, number] };
async function step(code: string, file: string, entryPoint: string, bufs: GPUBuffer[], wg: number,
  constants?: Record<string, number>): Promise<Step> {
  const pipe = await pipeline({ code, file, entryPoint, constants });
  const bg = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: bufs.map((b, i) => ({ binding: i, resource: { buffer: b } })) });
  return { pipe, bg, wg: [wg, 1] };
}
const median = async (steps: Step[]) => {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) xs.push(await timeSeq(steps, REPS));
  return xs.sort((a, b) => a - b)[2] * 1e6; // us
};

const rows: Record<string, unknown>[] = [];
for (const M of [1, 16]) {
  const dim = 4096, hid = 11008;
  const eps = new Float32Array([1e-5]);
  const pNorm = uniform(new Uint32Array([M, dim, new Uint32Array(eps.buffer)[0], 0]).buffer);
  const pSw = uniform(new Uint32Array([M, hid, 0, 0]).buffer);
  const pQd = uniform(new Uint32Array([M * dim, 0, 0, 0]).buffer);
  const pQh = uniform(new Uint32Array([M * hid, 0, 0, 0]).buffer);
  const x = buf(M * dim), d = buf(M * dim), w = buf(dim), y = buf(M * dim, false); // [M, dim] x3, [dim]
  const gu = buf(M * 2 * hid), h = buf(M * hid, false); // [M, 2*hid], [M, hid]
  const xq = buf(quantizedWords(M * hid), false); // int8 scratch, big enough for both
  const norm = await step(addNormWgsl, 'add_rmsnorm.wgsl', 'main', [pNorm, x, d, w, y], M);
  const norm4 = await step(addNorm4Wgsl, 'add_rmsnorm4.wgsl', 'main', [pNorm, x, d, w, y], M, { DIM: dim });
  const norm4Q = await step(addNorm4Wgsl, 'add_rmsnorm4.wgsl', 'main_q8', [pNorm, x, d, w, y, xq], M, { DIM: dim });
  const quantY = await step(quantWgsl, 'quantize_q8.wgsl', 'main', [pQd, y, xq], Math.ceil(M * dim / 32 / 64));
  const sw = await step(swigluWgsl, 'swiglu.wgsl', 'main', [pSw, gu, h], Math.ceil(M * hid / 256));
  const swQ = await step(swigluWgsl, 'swiglu.wgsl', 'main_q8', [pSw, gu, h, xq], Math.ceil(M * hid / 4 / 64));
  const quantH = await step(quantWgsl, 'quantize_q8.wgsl', 'main', [pQh, h, xq], Math.ceil(M * hid / 32 / 64));
  for (const t0 = performance.now(); performance.now() - t0 < 1000;) await timeSeq([norm, quantY, sw, quantH], 200); // warm-up
  // [case, [variant, dispatch sequence][]]: the first variant is the baseline of the ratio column
  const cases: [string, [string, Step[]][]][] = [
    [`add+rmsnorm M=${M} dim=${dim}`, [['add_rmsnorm + quantize_q8', [norm, quantY]], ['add_rmsnorm alone', [norm]],
      ['add_rmsnorm4 alone', [norm4]], ['add_rmsnorm4 + quantize_q8', [norm4, quantY]],
      ['add_rmsnorm4 main_q8', [norm4Q]]]],
    [`swiglu M=${M} hid=${hid}`, [['swiglu + quantize_q8', [sw, quantH]], ['swiglu alone', [sw]], ['swiglu main_q8', [swQ]]]],
  ];
  for (const [name, variants] of cases) {
    for (let rep = 0; rep < 2; rep++) {
      let base = 0;
      for (const [variant, seq] of variants) {
        const us = await median(seq);
        base ||= us;
        rows.push({ case: name, rep, variant, us, vs_first: base / us });
        console.error(JSON.stringify(rows[rows.length - 1]));
      }
    }
  }
}
const doc = { name: 'fused-quant', date: new Date().toISOString(), machine: machine(), adapter: adapterInfo(adapter), rows };
const cols = ['case', 'rep', 'variant', 'us', 'vs_first'];
const md = [`# q8_0 activation quantization fused into its producer: GPU time (${String(doc.adapter.description ?? '')}, ${doc.date.slice(0, 10)})`, '',
  `One compute pass of ${REPS} repetitions of each dispatch sequence, timestamp queries, median of 5; us per repetition; vs_first = the case's first variant's time / this one's.`, '',
  `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${cols.map((c) => (typeof r[c] === 'number' ? (r[c] as number).toFixed(c === 'rep' ? 0 : 2) : String(r[c]))).join(' | ')} |`)].join('\n');
fs.mkdirSync(OUT, { recursive: true });
const stem = path.join(OUT, `fused-quant-${String(doc.adapter.vendor || 'gpu')}-${doc.date.slice(0, 10)}`);
fs.writeFileSync(`${stem}.json`, JSON.stringify(doc, null, 1));
fs.writeFileSync(`${stem}.md`, md + '\n');
console.log(md);
device.destroy();
void navGpu;
process.exit(0);
