// Decode speed of the WGSL engine in Node + Dawn on whatever adapter Vulkan offers (lavapipe or
// SwiftShader here, a real GPU on the GPU machine): per-token time for stories260K at tp=1.
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import { Gpu } from '../src/gpu/gpu';
import { loadGgufIndex } from '../src/model/gguf';
import { makeShard } from '../src/parallel/tp';
import { LlamaGpu } from '../src/model/llama';

Object.assign(globalThis, globals);
const file = process.argv[2] ?? '../shared/models/stories260K/stories260K.gguf';
const buf = fs.readFileSync(file);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU });
console.log(gpu.report.vendor, gpu.report.architecture, gpu.report.features.includes('subgroups'));
const index = await loadGgufIndex(ab);
const shard = await makeShard(index, async (s, e) => new Uint8Array(ab.slice(s, e)), 0, 1);
if (process.env.NOSG) (gpu.report as { hasSubgroups: boolean }).hasSubgroups = false;
const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: 256 });
let tok = 1;
const times: number[] = [];
for (let i = 0; i < 40; i++) {
  const t0 = performance.now();
  const logits = await model.forward(new Int32Array([tok]), i);
  times.push(performance.now() - t0);
  let best = 0;
  for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
  tok = best;
}
const steady = times.slice(5).sort((a, b) => a - b);
console.log(JSON.stringify({ first_ms: times[0], p50_ms: steady[Math.floor(steady.length / 2)], tokens_per_s: 1000 / steady[Math.floor(steady.length / 2)] }));
process.exit(0);
