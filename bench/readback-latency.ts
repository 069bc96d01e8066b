// What one tensor-parallel all-reduce point costs before any byte leaves the process: the GPU round trip of
// reading a partial sum back and writing the sum again, in Node + Dawn (npm `webgpu`), on an otherwise idle
// GPU. bench/multi-gpu.ts splits a decode point into read / send / wait / write; this bench names the floor
// of "read" and "write" on the same machine, so the report can say what bounds a point.
// Cases (p10 / p50 / p90 µs over REPS round trips, each after WARMUP):
//   map-idle            mapAsync of a MAP_READ buffer with no GPU work pending: Dawn-node's event polling alone
//   submit-done         an empty submit + onSubmittedWorkDone: the queue's fence round trip
//   copy-map            copy BYTES storage -> readback, submit, mapAsync, copy out, unmap (a point's read, GPU idle)
//   copy-map-noread     the same without copying the mapped bytes out (their CPU read's share of copy-map)
//   mapped-read         copying BYTES out of an already mapped readback buffer alone (the CPU's read speed
//                       of the memory Dawn maps: uncached host memory would show here)
//   dispatch-copy-map   one tiny dispatch writing BYTES, then copy-map (a point whose segment is one kernel)
//   write-dispatch-copy-map  queue.writeBuffer of BYTES first (the previous point's sum), then dispatch-copy-map
// Bundle: node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/readback-latency.ts', '.gpu-node/readback-latency.mjs', { minify: true }))"
// Env: SIZES=8192,1048576  REPS=400  WARMUP=50  OUT (bench/out). Writes readback-latency-<adapter>-<date>.{json,md}.
import { globals } from 'webgpu';
import fs from 'node:fs';
import path from 'node:path';
import { adapterInfo, machine, openDevice } from './gemm-bench-util';
import { percentile } from '../src/collectives/bench';

Object.assign(globalThis, globals);
const SIZES = (process.env.SIZES ?? '8192,1048576').split(',').map(Number);
const REPS = Number(process.env.REPS ?? 400);
const WARMUP = Number(process.env.WARMUP ?? 50);
const OUT = process.env.OUT ?? 'bench/out';

// One thread per f32: out[i] = in[i] * 2 + 1 (a stand-in for the last kernel of a segment).
const WGSL = `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&dst)) { dst[g.x] = src[g.x] * 2.0 + 1.0; }
}`;

const { navGpu, adapter, device } = await openDevice([]); // navGpu stays referenced: its GC tears the instance down
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: WGSL }), entryPoint: 'main' } });
const STORAGE = 0x80 | 0x08 | 0x04; // STORAGE | COPY_DST | COPY_SRC

interface Stat { p10: number; p50: number; p90: number }
const stat = (ms: number[]): Stat => ({ p10: percentile(ms, 0.1) * 1000, p50: percentile(ms, 0.5) * 1000, p90: percentile(ms, 0.9) * 1000 }); // ms -> µs

async function timeCase(once: () => Promise<void>): Promise<Stat> {
  for (let i = 0; i < WARMUP; i++) await once();
  const t: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await once();
    t.push(performance.now() - t0);
  }
  return stat(t);
}

const rows: { case: string; bytes: number; us: Stat }[] = [];
for (const bytes of SIZES) {
  const n = bytes / 4;
  const src = device.createBuffer({ size: bytes, usage: STORAGE }); // [n]
  const dst = device.createBuffer({ size: bytes, usage: STORAGE }); // [n]
  const rb = device.createBuffer({ size: bytes, usage: 0x01 | 0x08 }); // [n] MAP_READ | COPY_DST
  const host = new Float32Array(n); // [n] the "sum" written back
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
  const readOut = async () => {
    await rb.mapAsync(1 /* READ */);
    const copy = new Float32Array(rb.getMappedRange().slice(0)); // [n] what the collective gets
    rb.unmap();
    return copy;
  };
  const mapOnly = async () => {
    await rb.mapAsync(1 /* READ */);
    rb.getMappedRange();
    rb.unmap();
  };
  const submit = (dispatch: boolean) => {
    const enc = device.createCommandEncoder();
    if (dispatch) {
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(Math.ceil(n / 256));
      pass.end();
    }
    enc.copyBufferToBuffer(dst, 0, rb, 0, bytes);
    device.queue.submit([enc.finish()]);
  };
  submit(false);
  await readOut();
  const cases: [string, () => Promise<void>][] = [
    ['map-idle', async () => { await readOut(); }],
    ['submit-done', async () => { device.queue.submit([]); await device.queue.onSubmittedWorkDone(); }],
    ['copy-map', async () => { submit(false); await readOut(); }],
    ['copy-map-noread', async () => { submit(false); await mapOnly(); }],
    ['dispatch-copy-map', async () => { submit(true); await readOut(); }],
    ['write-dispatch-copy-map', async () => { device.queue.writeBuffer(src, 0, host); submit(true); await readOut(); }],
  ];
  for (const [name, once] of cases) {
    if (bytes !== SIZES[0] && (name === 'map-idle' || name === 'submit-done')) continue; // size-independent
    const us = await timeCase(once);
    rows.push({ case: name, bytes, us });
    console.error(`${name.padEnd(24)} ${String(bytes).padStart(8)} B  p50 ${us.p50.toFixed(1)} µs  (p10 ${us.p10.toFixed(1)}, p90 ${us.p90.toFixed(1)})`);
  }
  {
    await rb.mapAsync(1 /* READ */);
    const range = rb.getMappedRange(); // [n] stays mapped while the copies are timed
    const t: number[] = [];
    for (let i = 0; i < WARMUP + REPS; i++) {
      const t0 = performance.now();
      const c = new Float32Array(range.slice(0)); // [n]
      if (i >= WARMUP) t.push(performance.now() - t0);
      if (c.length !== n) throw new Error('short copy');
    }
    rb.unmap();
    const us = stat(t);
    rows.push({ case: 'mapped-read', bytes, us });
    console.error(`${'mapped-read'.padEnd(24)} ${String(bytes).padStart(8)} B  p50 ${us.p50.toFixed(1)} µs`);
  }
  // Check the kernel really ran (a round trip that skipped the GPU would be fast and wrong).
  device.queue.writeBuffer(src, 0, Float32Array.from({ length: n }, (_, i) => i % 7)); // [n]
  submit(true);
  const got = await readOut(); // [n]
  for (let i = 0; i < n; i++) if (got[i] !== (i % 7) * 2 + 1) throw new Error(`wrong result at ${i}: ${got[i]}`);
  for (const b of [src, dst, rb]) b.destroy();
}

const info = adapterInfo(adapter);
const date = new Date().toISOString();
const slug = `${String(info.description || info.vendor || 'unknown').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40)}-${date.slice(0, 10)}`;
const doc = { name: 'readback-latency', date, machine: machine(), adapter: info, node: process.version, reps: REPS, warmup: WARMUP, rows };
const md = [
  `# GPU read-back round trip (${String(info.description ?? '')}, ${date})`, '',
  `Node ${process.version} + Dawn (npm webgpu); p10 / p50 / p90 over ${REPS} round trips after ${WARMUP}, GPU otherwise idle. A tensor-parallel point does write-dispatch-copy-map (its segment has more kernels) plus the exchange.`, '',
  '| case | bytes | p10 µs | p50 µs | p90 µs |', '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.case} | ${r.bytes} | ${r.us.p10.toFixed(1)} | ${r.us.p50.toFixed(1)} | ${r.us.p90.toFixed(1)} |`),
].join('\n');
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, `readback-latency-${slug}.json`), JSON.stringify(doc, null, 2));
fs.writeFileSync(path.join(OUT, `readback-latency-${slug}.md`), md + '\n');
console.log(md);
device.destroy();
void navGpu;
process.exit(0);
