import { describe, expect, it } from 'vitest';
import { Gpu, GpuUnavailableError } from '../../src/gpu/gpu';
import { testGpu } from '../helpers/gpu';

const ADD_WGSL = /* wgsl */ `
struct Params { n: u32, k: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < p.n) { x[g.x] = x[g.x] + p.k; }
}`;

function params(n: number, k: number): Uint8Array {
  const b = new ArrayBuffer(8);
  new DataView(b).setUint32(0, n, true);
  new DataView(b).setFloat32(4, k, true);
  return new Uint8Array(b);
}

describe('Gpu', () => {
  it('reports the adapter and requested features', async () => {
    const gpu = await testGpu();
    expect(gpu.report.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(gpu.report.hasF16).toBe(gpu.device.features.has('shader-f16'));
    expect(gpu.report.hasSubgroups).toBe(gpu.device.features.has('subgroups'));
    expect(gpu.report.features.length).toBeGreaterThan(0);
  });

  it('round-trips data through upload/write/read, including odd sizes and offsets', async () => {
    const gpu = await testGpu();
    const data = new Float32Array([1, 2, 3, 4, 5, 6, 7]); // [7]
    const buf = gpu.upload(data);
    expect(buf.size).toBe(32);
    expect([...new Float32Array(await gpu.read(buf, 28))]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    gpu.write(buf, new Float32Array([9, 8]), 8);
    expect([...new Float32Array(await gpu.read(buf, 12, 4))]).toEqual([2, 9, 8]);
    const odd = gpu.upload(new Uint8Array([1, 2, 3, 4, 5]));
    gpu.write(odd, new Uint8Array([7, 7, 7, 7, 9]));
    expect([...new Uint8Array(await gpu.read(odd, 5))]).toEqual([7, 7, 7, 7, 9]);
  });

  it('orders many dispatches with distinct uniforms in one encoder, and writes after runs', async () => {
    const gpu = await testGpu();
    const kernel = { code: ADD_WGSL, file: 'test-add.wgsl' };
    const n = 100;
    const buf = gpu.alloc(n * 4); // [100]
    gpu.write(buf, new Float32Array(n));
    // 300 dispatches: more than one 64 KiB uniform arena at 256-byte slices.
    for (let i = 1; i <= 300; i++) gpu.run(kernel, params(n, i), [buf], [Math.ceil(n / 64)]);
    const got = new Float32Array(await gpu.read(buf, n * 4));
    expect(got[0]).toBe((300 * 301) / 2);
    expect(got[99]).toBe((300 * 301) / 2);
    gpu.run(kernel, params(n, 1), [buf], [2]);
    gpu.write(buf, new Float32Array(n).fill(5)); // must land after the pending run
    gpu.run(kernel, params(n, 1), [buf], [2]);
    expect(new Float32Array(await gpu.read(buf, n * 4))[50]).toBe(6);
    gpu.free(buf);
  });

  it('times passes by label: a pass per dispatch names its kernel, a shared pass is one entry', async () => {
    await testGpu(); // installs the WebGPU globals
    const gpu = await Gpu.create({ gpu: (await import('webgpu')).create([]) as unknown as GPU, timestamps: true });
    try {
      if (!gpu.enableTimer()) return; // an adapter without timestamp-query has nothing to time
      const a = { code: ADD_WGSL, file: 'a.wgsl' };
      const b = { code: ADD_WGSL.replace('fn main', 'fn other'), file: 'b.wgsl', entryPoint: 'other' };
      const buf = gpu.alloc(256); // [64]
      gpu.tuning.sharedPass = false;
      for (let i = 0; i < 3; i++) gpu.run(a, params(64, 1), [buf], [1]);
      for (let i = 0; i < 2; i++) gpu.run(b, params(64, 1), [buf], [1]);
      const t = (await gpu.gpuTimes())!;
      expect(Object.keys(t.byLabel).sort()).toEqual(['a.wgsl:main', 'b.wgsl:other']);
      expect(t.byLabel['a.wgsl:main'].passes).toBe(3);
      expect(t.byLabel['b.wgsl:other'].passes).toBe(2);
      expect(t.passes).toBe(5);
      expect(t.byLabel['a.wgsl:main'].ms + t.byLabel['b.wgsl:other'].ms).toBeCloseTo(t.busyMs, 6);
      gpu.tuning.sharedPass = true;
      for (let i = 0; i < 4; i++) gpu.run(i % 2 ? a : b, params(64, 1), [buf], [1]);
      const s = (await gpu.gpuTimes())!;
      expect(Object.keys(s.byLabel)).toEqual(['shared']);
      expect(s.byLabel.shared.passes).toBe(1);
      expect(new Float32Array(await gpu.read(buf, 256))[7]).toBe(9); // every dispatch ran
    } finally {
      gpu.destroy();
    }
  });

  it('keeps a pipeline per (entry point, override constants by value)', async () => {
    const gpu = await testGpu();
    const code = `override A: f32 = 1.0;
override B: f32 = 0.0;
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1) fn main() { x[0] = x[0] * 10.0 + A + B; }
@compute @workgroup_size(1) fn other() { x[0] = x[0] * 10.0 + 2.0 * A + B; }`;
    const buf = gpu.alloc(16);
    gpu.write(buf, new Float32Array(4));
    const k = (constants?: Record<string, number>, entryPoint?: string) => ({ code, file: 'consts.wgsl', constants, entryPoint });
    // digits, most significant first: 1 (defaults), 3, 1 (A=1 written out), 4 (B first), 3 (same as before, other order), 6 (other entry)
    for (const kernel of [k(), k({ A: 3 }), k({ A: 1 }), k({ B: 1, A: 3 }), k({ A: 3 }), k({ A: 3 }, 'other')]) gpu.run(kernel, null, [buf], [1]);
    expect(new Float32Array(await gpu.read(buf, 4))[0]).toBe(131436);
    gpu.free(buf);
  });

  it('pools buffers by size bucket', async () => {
    const gpu = await testGpu();
    const a = gpu.alloc(10000);
    expect(a.size).toBeGreaterThanOrEqual(10000);
    gpu.free(a);
    const b = gpu.alloc(9990);
    expect(b).toBe(a);
    gpu.free(b);
  });

  it('hands out the oldest idle buffer, so a step that allocates and frees in the same order gets the same buffers', async () => {
    const gpu = await testGpu();
    const bytes = 777 * 16; // a bucket no other test uses
    // alloc a, b, c; free b, a; alloc d (reuses one of them); free c, d. Newest-first (LIFO) reuse gives
    // the next step a, b, c in another order, and every bind group naming them misses the cache.
    const step = () => {
      const [a, b, c] = [gpu.alloc(bytes), gpu.alloc(bytes), gpu.alloc(bytes)];
      gpu.free(b);
      gpu.free(a);
      const d = gpu.alloc(bytes);
      gpu.free(c);
      gpu.free(d);
      return [a, b, c, d];
    };
    const first = step();
    expect(new Set(first).size).toBe(3); // d reused a freed one
    for (let i = 0; i < 3; i++) step().forEach((buf, j) => expect(buf).toBe(first[j]));
  });

  it('keeps more than 8 idle small buffers of one size (a U-Net step has more live at once)', async () => {
    const gpu = await testGpu();
    const bytes = 555 * 16;
    const first = Array.from({ length: 12 }, () => gpu.alloc(bytes));
    first.forEach((b) => gpu.free(b));
    const again = Array.from({ length: 12 }, () => gpu.alloc(bytes));
    expect(new Set([...first, ...again]).size).toBe(12); // all 12 reused, none destroyed and re-created
    again.forEach((b) => gpu.free(b));
  });

  it('writeStaged: through a staging slot kept mapped, in order with copies, no flush; falls back to write() while the slot is busy', async () => {
    const gpu = await testGpu();
    const buf = gpu.alloc(64);
    const other = gpu.upload(new Float32Array(16).fill(7)); // [16]
    const turn = () => new Promise((r) => setTimeout(r, 0));
    for (let round = 0; round < 4; round++) {
      const data = Float32Array.from({ length: 16 }, (_, i) => i + 100 * round); // [16]
      gpu.copy(other, 0, buf, 0, 64); // encoded, not submitted
      const submits = gpu.stats.submits;
      gpu.writeStaged('test.slot', buf, data); // lands after the copy: same encoder, later
      if (round > 0) expect(gpu.stats.submits).toBe(submits); // the slot was mapped again: no flush
      gpu.writeStaged('test.slot', buf, data.subarray(0, 8).map((v) => -v), 32); // slot in flight: write(), which flushes first
      expect(gpu.stats.submits).toBe(submits + 1);
      const got = new Float32Array(await gpu.read(buf, 64)); // [16]
      expect(Array.from(got)).toEqual([...data.subarray(0, 8)].concat([...data.subarray(0, 8)].map((v) => -v)));
      await gpu.sync();
      await turn(); // the slot's mapAsync settles
    }
    // Released while its copy is still only encoded: the copy must still land (the release submits first).
    const pending = Float32Array.from({ length: 16 }, (_, i) => 1000 + i); // [16]
    gpu.writeStaged('test.slot', buf, pending);
    gpu.releaseStaged('test.');
    expect(new Float32Array(await gpu.read(buf, 64))).toEqual(pending);
    gpu.releaseStaged('test.'); // the slot goes; the next write under its key makes a new one
    const data = Float32Array.from({ length: 16 }, (_, i) => -i); // [16]
    gpu.writeStaged('test.slot', buf, data);
    expect(new Float32Array(await gpu.read(buf, 64))).toEqual(data);
    gpu.free(buf);
    other.destroy();
  });

  it('throws WGSL compile errors naming the file', async () => {
    const gpu = await testGpu();
    const bad = { code: '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }', file: 'bad.wgsl' };
    await expect(gpu.compile(bad)).rejects.toThrow(/bad\.wgsl/);
  });

  it('measures matmul GFLOPS', async () => {
    const gpu = await testGpu();
    const g = await gpu.matmulGflops();
    expect(g).toBeGreaterThan(0);
    expect(Number.isFinite(g)).toBe(true);
  });

  it('says which browsers work when WebGPU is missing', async () => {
    const fake = { requestAdapter: async () => null } as unknown as GPU;
    await expect(Gpu.create({ gpu: fake })).rejects.toThrow(GpuUnavailableError);
    await expect(Gpu.create({ gpu: fake })).rejects.toThrow(/Chrome\/Edge 113\+/);
  });
});
