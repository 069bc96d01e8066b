// Device plumbing shared by bench/gemm-sweep.ts and bench/gemm-subgroup-matrix.ts (Node + Dawn): open a device with
// Dawn flags and the adapter's max limits, compile a Kernel with errors thrown, time passes with timestamp
// queries, upload/read buffers, and describe the machine for the result JSON.
import { create } from 'webgpu';
import os from 'node:os';
import { execSync } from 'node:child_process';
import type { Kernel } from '../src/gpu/gpu';

export async function openDevice(flags: string[], extraFeatures: string[] = [], log: (...a: unknown[]) => void = console.error) {
  const navGpu = create(flags) as unknown as GPU; // keep referenced: its GC tears the instance down
  const adapter = await navGpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no adapter');
  const limits: Record<string, number> = {};
  for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY']) {
    limits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  }
  const feats = ['subgroups', 'timestamp-query', 'shader-f16', ...extraFeatures].filter((f) => adapter.features.has(f as GPUFeatureName)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredFeatures: feats, requiredLimits: limits });
  device.onuncapturederror = (e) => log('uncaptured:', (e as GPUUncapturedErrorEvent).error.message);
  return { navGpu, adapter, device, limits };
}

/** Adapter info as a plain object (its fields are prototype getters: copy them all, subgroupMatrixConfigs too). */
export function adapterInfo(adapter: GPUAdapter): Record<string, unknown> {
  const info = adapter.info as unknown as Record<string, unknown>;
  const o: Record<string, unknown> = {};
  for (const k in info) o[k] = info[k];
  // The configs' fields are getters too (JSON.stringify printed {}): read each one by name.
  const smc = info.subgroupMatrixConfigs as Record<string, unknown>[] | undefined;
  if (smc && typeof smc === 'object') {
    try { // array-like (length + index) whatever its class; a failure here must not lose the probe
      o.subgroupMatrixConfigs = Array.from({ length: Number(smc.length) || 0 }, (_, i) => smc[i]).map((c) => ({
        componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }));
    } catch (e) {
      o.subgroupMatrixConfigs = `unreadable: ${String(e)}`;
    }
  }
  o.features = [...adapter.features].map(String).sort();
  return o;
}

export function machine(): Record<string, unknown> {
  let gpu = '';
  try { gpu = execSync('nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* no NVIDIA tools */ }
  return { hostname: os.hostname(), cpu: os.cpus()[0]?.model, cpus: os.cpus().length, gpu };
}

export function deviceTools(device: GPUDevice) {
  const hasTs = device.features.has('timestamp-query');
  async function pipeline(k: Kernel): Promise<GPUComputePipeline> {
    const module = device.createShaderModule({ code: k.code, label: k.file });
    const msgs = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    if (msgs.length) throw new Error(`${k.file}: ${msgs.map((m) => `${m.lineNum}:${m.message}`).join('; ')}`);
    device.pushErrorScope('validation');
    device.pushErrorScope('internal');
    const p = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: k.entryPoint ?? 'main', constants: k.constants } });
    const e1 = await device.popErrorScope();
    const e2 = await device.popErrorScope();
    if (e1 || e2) throw new Error(`${k.file} ${JSON.stringify(k.constants ?? {})}: ${(e1 ?? e2)!.message}`);
    return p;
  }
  /** Seconds per dispatch: one compute pass of `reps` dispatches, timestamp queries (wall clock without). */
  function timePass(pipe: GPUComputePipeline, bg: GPUBindGroup, wg: [number, number], reps: number): Promise<number> {
    return timeSeq([{ pipe, bg, wg }], reps);
  }
  /** Seconds per repetition of a dispatch sequence: one compute pass of `reps` repetitions, as timePass. */
  async function timeSeq(steps: { pipe: GPUComputePipeline; bg: GPUBindGroup; wg: [number, number] }[], reps: number): Promise<number> {
    const qs = hasTs ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
    const resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const rb = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    let last: (typeof steps)[number] | null = null;
    for (let r = 0; r < reps; r++) {
      for (const s of steps) {
        if (s !== last) { // one step (timePass): bound once for the whole pass
          pass.setPipeline(s.pipe);
          pass.setBindGroup(0, s.bg);
          last = s;
        }
        pass.dispatchWorkgroups(s.wg[0], s.wg[1]);
      }
    }
    pass.end();
    if (qs) {
      enc.resolveQuerySet(qs, 0, 2, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, rb, 0, 16);
    }
    await device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    let sec = (performance.now() - t0) / 1000 / reps;
    if (qs) {
      await rb.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(rb.getMappedRange());
      sec = Number(t[1] - t[0]) / 1e9 / reps;
      rb.unmap();
    }
    resolve.destroy();
    rb.destroy();
    qs?.destroy();
    return sec;
  }
  const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  function upload(h: ArrayBufferView): GPUBuffer {
    const b = device.createBuffer({ size: Math.ceil(h.byteLength / 16) * 16, usage: STORAGE });
    for (let off = 0; off < h.byteLength; off += 1 << 24) { // 16 MiB chunks: no giant staging copies
      device.queue.writeBuffer(b, off, h.buffer as ArrayBuffer, h.byteOffset + off, Math.min(1 << 24, h.byteLength - off));
    }
    return b;
  }
  async function read(b: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    const rb = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(b, 0, rb, 0, bytes);
    device.queue.submit([e.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const out = rb.getMappedRange().slice(0);
    rb.unmap();
    rb.destroy();
    return out;
  }
  /** Median ms per dispatch over 5 passes sized to ~targetSec each. */
  async function timeMedian(pipe: GPUComputePipeline, bg: GPUBindGroup, wg: [number, number], targetSec: number, maxReps: number) {
    const est = await timePass(pipe, bg, wg, 2); // warm-up
    const reps = Math.max(3, Math.min(maxReps, Math.ceil(targetSec / Math.max(est, 1e-6))));
    const all: number[] = [];
    for (let t = 0; t < 5; t++) all.push((await timePass(pipe, bg, wg, reps)) * 1e3);
    return { ms: [...all].sort((x, y) => x - y)[2], all, reps };
  }
  return { pipeline, timePass, timeSeq, timeMedian, upload, read, STORAGE };
}
