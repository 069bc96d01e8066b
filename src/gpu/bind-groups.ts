// Bind groups of the Gpu contract: created per dispatch, or (tuning.cacheBindGroups) once per
// (pipeline, uniform slice, buffers) and reused. Why a cache: a decode step binds the same buffers at
// the same offsets every token (LlamaGpu keeps one persistent set of decode activation buffers), and
// createBindGroup per dispatch cost more than the dispatch. Keys use buffer identity, not contents.
import type { GpuStats } from './timer';

// Cached bind groups before the cache is cleared: a 22-layer decode step uses ~320, a prefill as many
// again; stale entries (buffers freed and destroyed) are only dropped at a clear.
const BIND_CACHE_MAX = 4096;

export class BindGroups {
  private cache = new Map<string, GPUBindGroup>(); // "pipe|uniform slice|buffer ids" -> bind group
  private bufIds = new WeakMap<GPUBuffer, number>();
  private nextId = 1;

  /** `stats` is read at each call: Gpu.resetStats() swaps the object. */
  constructor(private readonly device: GPUDevice, private readonly stats: () => GpuStats) {}

  /** A new bind group: params at binding 0 (if any), then `buffers` in order. */
  create(layout: GPUBindGroupLayout, uni: GPUBufferBinding | null, buffers: GPUBuffer[]): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    if (uni) entries.push({ binding: 0, resource: uni });
    const base = uni ? 1 : 0;
    buffers.forEach((b, i) => entries.push({ binding: base + i, resource: { buffer: b } }));
    this.stats().bindGroups++;
    return this.device.createBindGroup({ layout, entries });
  }

  /** The bind group of (pipeline `pipeId`, uniform slice, buffers), created once. */
  cached(pipeId: number, layout: GPUBindGroupLayout, uni: GPUBufferBinding | null, buffers: GPUBuffer[]): GPUBindGroup {
    let key = String(pipeId);
    if (uni) key += `|${this.bufId(uni.buffer)}@${uni.offset}+${uni.size}`;
    for (const b of buffers) key += `|${this.bufId(b)}`;
    let bg = this.cache.get(key);
    if (bg) {
      this.stats().bindGroupHits++;
      return bg;
    }
    if (this.cache.size >= BIND_CACHE_MAX) this.cache.clear();
    bg = this.create(layout, uni, buffers);
    this.cache.set(key, bg);
    return bg;
  }

  clear(): void {
    this.cache.clear();
  }

  private bufId(b: GPUBuffer): number {
    let id = this.bufIds.get(b);
    if (id === undefined) this.bufIds.set(b, (id = this.nextId++));
    return id;
  }
}
