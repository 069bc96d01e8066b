// The small GPU contract every kernel uses. One Gpu wraps one GPUDevice and owns:
//  - a size-bucketed buffer pool (alloc/free reuse storage buffers instead of creating new ones per step),
//  - a pipeline cache keyed by shader code + entry point + override constants (./pipelines.ts),
//  - one pending command encoder that run()/copy() append to; flush() submits it, read() flushes first,
//  - a uniform arena: every run() gets its own 256-byte-aligned slice, written once per flush,
//  - a bind-group cache and one shared compute pass per encoder (GpuTuning in ./timer.ts says why),
//  - counters (stats) and, on request, timestamp queries around every pass (./timer.ts).
// Runs in the browser (navigator.gpu) and in Node (npm `webgpu`, passed as opts.gpu).

import { matmulGflops } from './probe';
import { BindGroups } from './bind-groups';
import { Pipelines } from './pipelines';
import { ReadbackPool } from './readback';
import { StagingWrites } from './staging';
import { UniformArena } from './uniform-arena';
import { DEFAULT_TUNING, GpuTimer, zeroStats, type GpuStats, type GpuTimes, type GpuTuning } from './timer';

export type { GpuStats, GpuTimes, GpuTuning } from './timer';

export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  isFallback: boolean;
  features: string[];
  hasF16: boolean;
  hasSubgroups: boolean;
  /** The adapter's smallest / largest subgroup size (adapter.info), or undefined where it is not reported. */
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** WGSL's packed_4x8_integer_dot_product language feature (dot4I8Packed, pack4xI8). */
  hasDot4I8?: boolean;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
}

/** A compute shader: WGSL text, the file it came from (for error messages), entry point, override constants. */
export interface Kernel {
  code: string;
  file: string;
  entryPoint?: string;
  constants?: Record<string, number>;
}

export class GpuUnavailableError extends Error {
  constructor(what: string) {
    super(
      `WebGPU unavailable: ${what}. WebGPU works in Chrome/Edge 113+, Safari 26, and Firefox 141+ on Windows, ` +
        'and only in secure contexts (https:// or http://localhost).',
    );
    this.name = 'GpuUnavailableError';
  }
}

// Limits we ask for at the adapter's maximum, since model weights and KV caches want big bindings.
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
] as const;

const USAGE_STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage may not be global yet)
const MAP_READ = 0x01;
// free() keeps an idle buffer while its bucket holds fewer than POOL_MAX_PER_BUCKET of them or their bytes
// stay within POOL_SMALL_BYTES: a 1024-px U-Net step has more than 8 small buffers of one size live at
// once (per-block time projections, GroupNorm sums), and a count cap alone destroyed the extras at every
// step's end, so the next step created them again (and missed every bind group that names them).
const POOL_MAX_PER_BUCKET = 8;
const POOL_SMALL_BYTES = 16 << 20;

/** Pool bucket for a request: 16-byte aligned below 4 KiB, then 2^k * {1, 1.25, 1.5, 1.75} (<= 25% waste). */
function bucketSize(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 4096) return b;
  const top = 2 ** Math.floor(Math.log2(b));
  const step = top / 4;
  return Math.ceil(b / step) * step;
}

/** Whether the adapter is a software one (lavapipe, SwiftShader). isFallbackAdapter moved from the adapter
 *  to adapter.info; read whichever exists. */
export function isFallbackAdapter(adapter: GPUAdapter): boolean {
  return Boolean((adapter.info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
}

export class Gpu {
  readonly device: GPUDevice;
  readonly report: AdapterReport;
  // bucket size -> idle buffers, highest creation number first: alloc() pops the oldest idle buffer, so a
  // step that allocates and frees in the same order as the step before gets the same buffers in the same
  // roles, and its bind groups come from the cache (LIFO reuse permuted them from step to step: a
  // 1024-px U-Net step missed ~200 of its ~300 bind groups).
  private pool = new Map<number, GPUBuffer[]>();
  private poolNo = new WeakMap<GPUBuffer, number>(); // creation number of each pooled buffer
  private nextPoolNo = 0;
  private pipelines: Pipelines; // per (shader, entry point, constants)
  private readonly maxWg: number; // limits.maxComputeWorkgroupsPerDimension (Dawn-node's limits getter is native)
  private binds: BindGroups;
  private pass: GPUComputePassEncoder | null = null; // the open shared compute pass (tuning.sharedPass)
  private passPipe: GPUComputePipeline | null = null; // pipeline last set on it
  private timer: GpuTimer | null = null;
  readonly tuning: GpuTuning = { ...DEFAULT_TUNING };
  stats: GpuStats = zeroStats();
  private encoder: GPUCommandEncoder | null = null;
  private pendingDispatches = 0;
  private uniforms: UniformArena; // the pending encoder's Params slices
  private readbacks: ReadbackPool;
  private staging: StagingWrites;
  private lostCbs: ((reason: string) => void)[] = [];
  private destroyed = false;
  private capturing = false; // inside capture(): no submit may happen
  // Dawn for Node tears its instance down when the GPU object from create() is garbage collected, even
  // with a live device (then crashes at the next map/submit): hold it, and the adapter, for our lifetime.
  private readonly keepAlive: unknown[];

  private constructor(device: GPUDevice, report: AdapterReport, keepAlive: unknown[]) {
    this.device = device;
    this.keepAlive = keepAlive;
    this.report = report;
    this.maxWg = device.limits.maxComputeWorkgroupsPerDimension;
    this.pipelines = new Pipelines(device);
    this.uniforms = new UniformArena(device);
    this.binds = new BindGroups(device, () => this.stats);
    this.readbacks = new ReadbackPool(device);
    this.staging = new StagingWrites(device);
    void device.lost.then((info) => {
      const reason = this.destroyed ? 'destroyed' : `${info.reason}: ${info.message}`;
      for (const cb of this.lostCbs) cb(reason);
    });
  }

  // powerPreference defaults to 'high-performance': on dual-GPU laptops that picks the discrete GPU.
  // timestamps: also request 'timestamp-query' when the adapter has it (for enableTimer()).
  static async create(opts: { gpu?: GPU; powerPreference?: GPUPowerPreference; timestamps?: boolean } = {}): Promise<Gpu> {
    const nav = typeof navigator !== 'undefined' ? (navigator as Navigator & { gpu?: GPU }) : undefined;
    const gpu = opts.gpu ?? nav?.gpu;
    if (!gpu) throw new GpuUnavailableError('navigator.gpu is missing');
    const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
    if (!adapter) throw new GpuUnavailableError('no GPU adapter was returned');
    const requiredLimits: Record<string, number> = {};
    for (const k of WANTED_LIMITS) {
      const v = (adapter.limits as unknown as Record<string, number>)[k];
      if (typeof v === 'number') requiredLimits[k] = v;
    }
    const requiredFeatures: GPUFeatureName[] = [];
    const wanted = ['shader-f16', 'subgroups', ...(opts.timestamps ? ['timestamp-query'] : [])] as GPUFeatureName[];
    for (const f of wanted) if (adapter.features.has(f)) requiredFeatures.push(f);
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    const info = adapter.info ?? ({} as GPUAdapterInfo);
    const report: AdapterReport = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      description: info.description ?? '',
      isFallback: isFallbackAdapter(adapter),
      features: [...device.features].map(String).sort(),
      hasF16: device.features.has('shader-f16'),
      hasSubgroups: device.features.has('subgroups'),
      subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize || undefined,
      subgroupMaxSize: (info as { subgroupMaxSize?: number }).subgroupMaxSize || undefined,
      hasDot4I8: Boolean((gpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures?.has('packed_4x8_integer_dot_product')),
      limits: {
        maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
        maxBufferSize: device.limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      },
    };
    return new Gpu(device, report, [gpu, adapter]);
  }

  // ---------------------------------------------------------------- buffers

  /** A STORAGE|COPY_SRC|COPY_DST buffer of at least `bytes` (contents undefined), from the pool. */
  alloc(bytes: number, label?: string): GPUBuffer {
    const size = bucketSize(bytes);
    const idle = this.pool.get(size);
    const buf = idle?.pop();
    if (buf) return buf;
    if (size > this.device.limits.maxBufferSize) {
      throw new Error(`alloc(${label ?? ''}): ${bytes} bytes exceeds maxBufferSize ${this.device.limits.maxBufferSize}`);
    }
    const fresh = this.device.createBuffer({ size, usage: USAGE_STORAGE, label });
    this.poolNo.set(fresh, this.nextPoolNo++);
    return fresh;
  }

  /** A new buffer holding `data` (sized exactly, 16-byte rounded: weights are long-lived, no bucket waste). */
  upload(data: ArrayBufferView, label?: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    if (size > this.device.limits.maxBufferSize) {
      throw new Error(`upload(${label ?? ''}): ${size} bytes exceeds maxBufferSize ${this.device.limits.maxBufferSize}`);
    }
    const buf = this.device.createBuffer({ size, usage: USAGE_STORAGE, label, mappedAtCreation: true });
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buf.unmap();
    return buf;
  }

  /** Writes `data` at byteOffset. Submits pending work first so the write lands after earlier run()s. */
  write(buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    if (this.capturing) throw new Error('Gpu: write inside capture()');
    if (this.pendingDispatches > 0 || this.encoder) this.flush();
    this.stats.writes++;
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const n4 = bytes.byteLength & ~3; // writeBuffer needs a multiple of 4 bytes
    if (n4 > 0) this.device.queue.writeBuffer(buf, byteOffset, bytes, 0, n4);
    if (n4 < bytes.byteLength) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(n4));
      this.device.queue.writeBuffer(buf, byteOffset + n4, tail);
    }
  }

  /**
   * Writes `data` at byteOffset like write(), through a staging buffer kept mapped for `key` (one per
   * recurring upload, e.g. a (rank, piece) of an exchange; see staging.ts): encoded as a copy in order with
   * run()/copy() (no flush first), and a steady-state write is a memcpy into resident pages. Falls back to
   * write() while the key's previous copy is still on the GPU, or for a size that is not a multiple of 4.
   */
  writeStaged(key: string, buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    if (this.capturing) throw new Error('Gpu: writeStaged inside capture()');
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const st = bytes.byteLength % 4 === 0 && bytes.byteLength > 0 ? this.staging.stage(key, bytes) : null;
    if (!st) return this.write(buf, data, byteOffset);
    this.stats.writes++;
    this.endPass();
    this.enc().copyBufferToBuffer(st, 0, buf, byteOffset, bytes.byteLength);
  }

  /** Frees the staging slots of writeStaged keys starting with `prefix` (e.g. when an exchange ends). */
  releaseStaged(prefix: string): void {
    this.flush(); // as free() does: a copy from a slot may still be only encoded, and must be submitted first
    this.staging.release(prefix);
  }

  /** Copies GPU-side within the pending encoder (ordered with run()). Offsets and size multiples of 4. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass(); // copies are encoder commands, not pass commands
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Reads `bytes` (default: the whole buffer) at byteOffset, after all pending work. */
  async read(buf: GPUBuffer, bytes?: number, byteOffset = 0): Promise<ArrayBuffer> {
    const staged = this.stageRead(buf, bytes, byteOffset);
    // Submit before the first await: the GPU starts at once (an all-reduce point waits on this read).
    this.flush();
    return staged.map();
  }

  /**
   * Encodes the copy of `bytes` of `buf` into a readback buffer now, in order with run()/copy() (also
   * inside capture(), so a captured command buffer can end with the copy of its result: one submit
   * fewer than a read() after it). map() returns the bytes; call it once the copy is submitted (it
   * flushes the pending encoder; a capture must have been submitted by its owner).
   */
  stageRead(buf: GPUBuffer, bytes?: number, byteOffset = 0): { map(): Promise<ArrayBuffer> } {
    const n = bytes ?? buf.size - byteOffset;
    const size = Math.max(16, Math.ceil(n / 16) * 16);
    const rb = this.readbacks.take(size);
    // Copy size must be a multiple of 4 and stay inside the source buffer.
    const copyBytes = Math.min(Math.ceil(n / 4) * 4, buf.size - byteOffset);
    this.endPass();
    this.enc().copyBufferToBuffer(buf, byteOffset, rb, 0, copyBytes);
    return {
      map: async () => {
        this.flush();
        try {
          await this.checkCompiles();
        } catch (e) {
          rb.destroy();
          throw e;
        }
        this.stats.readbacks++;
        this.stats.readBytes += copyBytes;
        const t0 = performance.now();
        await rb.mapAsync(MAP_READ);
        this.stats.mapWaitMs += performance.now() - t0;
        const out = rb.getMappedRange(0, size).slice(0, n);
        rb.unmap();
        this.readbacks.give(rb);
        return out;
      },
    };
  }

  /** Returns a buffer to the pool (pool-bucket sizes only; others, e.g. uploads, are destroyed). */
  free(buf: GPUBuffer): void {
    if (bucketSize(buf.size) !== buf.size) {
      // Destroy after pending work that may still use it has been submitted.
      this.flush();
      buf.destroy();
      return;
    }
    const list = this.pool.get(buf.size) ?? [];
    if (list.length >= POOL_MAX_PER_BUCKET && (list.length + 1) * buf.size > POOL_SMALL_BYTES) {
      this.flush();
      buf.destroy();
      return;
    }
    // Sorted insert from the newest end (a freed buffer is usually among the newest; idle lists are short:
    // 8, or 16 MiB of small ones). Reuse inside the same encoder is safe: commands run in encoding order.
    const no = this.poolNo.get(buf) ?? -1;
    let i = list.length;
    while (i > 0 && (this.poolNo.get(list[i - 1]) ?? -1) < no) i--;
    list.splice(i, 0, buf);
    this.pool.set(buf.size, list);
  }

  // ---------------------------------------------------------------- kernels

  /** Resolves once every shader compiled so far is known good; throws the WGSL errors (with file) otherwise. */
  checkCompiles(): Promise<void> {
    return this.pipelines.checkCompiles();
  }

  /** Compiles `kernel` now and throws its WGSL errors, if any (run() only reports them at the next read()). */
  async compile(kernel: Kernel): Promise<void> {
    this.pipelines.get(kernel);
    await this.checkCompiles();
  }

  private enc(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Encodes one dispatch: params at binding 0 (if any), then `buffers` in order. */
  run(kernel: Kernel, params: ArrayBufferView | null, buffers: GPUBuffer[], workgroups: [number, number?, number?]): void {
    const x = workgroups[0], y = workgroups[1] ?? 1, z = workgroups[2] ?? 1;
    const maxWg = this.maxWg;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new Error(`run(${kernel.file}): workgroups [${x},${y},${z}] exceed ${maxWg} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const p = this.pipelines.get(kernel);
    const uni = params ? this.uniforms.slice(params) : null;
    const bind = this.tuning.cacheBindGroups ? this.binds.cached(p.id, p.layout, uni, buffers) : this.binds.create(p.pipe.getBindGroupLayout(0), uni, buffers);
    if (this.tuning.sharedPass) {
      const pass = (this.pass ??= this.beginPass('shared'));
      if (this.passPipe !== p.pipe) pass.setPipeline((this.passPipe = p.pipe));
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(x, y, z);
    } else {
      const pass = this.beginPass(`${kernel.file}:${kernel.entryPoint ?? 'main'}`);
      pass.setPipeline(p.pipe);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
    }
    this.pendingDispatches++;
    this.stats.dispatches++;
    if (this.tuning.flushEvery > 0 && this.pendingDispatches >= this.tuning.flushEvery && !this.capturing) this.flush();
  }

  private beginPass(label: string): GPUComputePassEncoder {
    this.stats.passes++;
    const ts = this.timer?.passWrites(label);
    return this.enc().beginComputePass(ts ? { timestampWrites: ts } : undefined);
  }

  private endPass(): void {
    if (!this.pass) return;
    this.pass.end();
    this.pass = null;
    this.passPipe = null;
  }

  /** Drops every cached bind group (call after destroying buffers that cached ones reference). */
  clearBindGroupCache(): void {
    this.binds.clear();
  }

  /** Zeroes the counters and returns the previous ones. */
  resetStats(): GpuStats {
    const s = this.stats;
    this.stats = zeroStats();
    return s;
  }

  /** Times every later pass (timestamp queries; read with gpuTimes()); false without 'timestamp-query'. */
  enableTimer(): boolean {
    if (this.timer) return true;
    if (!this.device.features.has('timestamp-query')) return false;
    this.flush();
    this.timer = new GpuTimer(this.device);
    return true;
  }

  disableTimer(): void {
    this.flush();
    this.timer?.destroy();
    this.timer = null;
  }

  /** GPU time of the passes submitted since the last call (flushes first); null without a timer. */
  async gpuTimes(): Promise<GpuTimes | null> {
    if (!this.timer) return null;
    this.flush();
    return this.timer.collect();
  }

  /**
   * Encodes what `encode` runs (run()/copy() only: no read, write or flush) into a command buffer of its
   * own, finished but not submitted, and returns the function that submits it (once). Lets a caller
   * encode work that reads data it will write() later, e.g. a tensor-parallel step's next segment while
   * the all-reduce sum it starts from is still on the network: write the sum, then submit. Work pending
   * before the call is submitted first. The captured dispatches' uniform bytes are kept aside and written
   * to the arenas right before the submit: queue order keeps them from touching earlier submits.
   */
  capture(encode: () => void): () => void {
    this.flush();
    this.capturing = true;
    let cb: GPUCommandBuffer | null = null;
    let uniforms = new Uint8Array(0);
    try {
      encode();
      if (this.encoder) {
        this.endPass();
        this.timer?.resolve(this.encoder);
        cb = this.encoder.finish();
        uniforms = this.uniforms.take(); // [bytes] this capture's uniform slices
      }
    } finally {
      this.capturing = false;
      this.pass = null;
      this.passPipe = null;
      this.encoder = null;
      this.uniforms.reset();
      this.pendingDispatches = 0;
    }
    let submitted = false;
    return () => {
      if (submitted) throw new Error('capture: submitted twice');
      submitted = true;
      if (!cb) return;
      this.flush(); // anything encoded since goes first, as it was encoded first
      this.uniforms.write(uniforms);
      this.device.queue.submit([cb]);
      this.stats.submits++;
    };
  }

  /** Submits the pending encoder (uniform arena slices are written just before, in queue order). */
  flush(): void {
    if (!this.encoder) return;
    if (this.capturing) throw new Error('Gpu: read/write/flush inside capture()');
    this.endPass();
    this.timer?.resolve(this.encoder);
    this.uniforms.write();
    this.device.queue.submit([this.encoder.finish()]);
    this.staging.submitted(); // staged uploads in it map again for their next use
    this.stats.submits++;
    this.encoder = null;
    this.pendingDispatches = 0;
  }

  /** Waits until the GPU has finished everything submitted (flushes first). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  onLost(cb: (reason: string) => void): void {
    this.lostCbs.push(cb);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pass = null;
    this.encoder = null;
    this.timer?.destroy();
    this.binds.clear();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.readbacks.destroy();
    this.staging.destroy();
    this.uniforms.destroy();
    this.pool.clear();
    this.pipelines.clear();
    this.device.destroy();
    this.keepAlive.length = 0;
  }

  /** Measured f32 GFLOPS of the tiled matmul kernel at 256^3 (compile and warm-up excluded; ./probe.ts). */
  matmulGflops(): Promise<number> {
    return matmulGflops(this);
  }
}
