import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const ad = await gpu.requestAdapter();
const dev = await ad.requestDevice();
const mode = process.argv[2];
const m = dev.createShaderModule({ code: `struct Params { n: u32, k: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.n) { x[g.x] = x[g.x] + p.k; }
}` });
const p = dev.createComputePipeline({ layout: 'auto', compute: { module: m, entryPoint: 'main' } });
const b = dev.createBuffer({ size: 512, usage: GPUBufferUsage.STORAGE|GPUBufferUsage.COPY_SRC });
const u = dev.createBuffer({ size: 65536, usage: GPUBufferUsage.UNIFORM|GPUBufferUsage.COPY_DST });
const ures = mode === 'plain' ? { buffer: u } : mode === 'off' ? { buffer: u, offset: 256 } : { buffer: u, offset: 0, size: 16 };
const bg = dev.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: ures }, { binding: 1, resource: { buffer: b } }] });
const e = dev.createCommandEncoder(); const pass = e.beginComputePass(); pass.setPipeline(p); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(1); pass.end();
dev.queue.writeBuffer(u, 0, new Uint32Array([100, 0x3f800000, 0, 0]));
dev.queue.submit([e.finish()]);
await dev.queue.onSubmittedWorkDone();
console.log('done');
