// GPU time of what a Gpu encodes, from timestamp queries: every compute pass writes a timestamp at its
// start and end (timestampWrites), each submit resolves its range of the query set, and collect() reads
// them all back at once (one extra readback, so profile runs only; timing runs leave the timer off).
// Needs the adapter feature 'timestamp-query' (Gpu.create({ timestamps: true }) asks for it).
// Also the Gpu's tuning switches and counters (types only; gpu.ts implements them).

/**
 * Dispatch-overhead switches (all on by default; benches turn them off to measure the gain in one run).
 * cacheBindGroups: reuse the bind group of an identical (pipeline, uniform slice, buffers) dispatch. A
 *   decode step encodes the same dispatches over the same buffers every token, and its uniform slices
 *   fall at the same arena offsets (they are handed out in encoding order from 0 after each flush), so
 *   from the second token on no bind group is created at all.
 * sharedPass: consecutive run()s share one compute pass (setPipeline only when it changes) instead of
 *   a begin/end pair each; copy(), flush() and read() end it. Dispatches in one pass stay ordered:
 *   WebGPU synchronizes storage writes between the dispatches of a pass (usage scope per dispatch).
 * flushEvery: submit after this many dispatches (0: only at flush/read/write), so the GPU starts on
 *   the first layers while the CPU still encodes the last ones.
 */
export interface GpuTuning {
  cacheBindGroups: boolean;
  sharedPass: boolean;
  flushEvery: number;
}

/**
 * Defaults. flushEvery 32: decode is bound by CPU encoding (~9 us a dispatch in Dawn-node), so a token
 * submitted whole keeps the GPU idle until the last dispatch is encoded; submitting every 32 lets it
 * work while the CPU encodes the rest. H100, 1B-shaped f16 decode, 333 dispatches a token (bench/results/
 * llm-decode-profile-1B-nvidia-h100-2026-11-28.md): 102 tok/s with no mid-token flush, 219 at 32, 194
 * at 64 and 128. A submit costs ~10-20 us of CPU, so much smaller chunks would start to cost more
 * than they overlap. It applies to every encoder (prefill, decode, decodeBatch), which only
 * changes when the GPU starts, never the order of the work.
 */
export const DEFAULT_TUNING: Readonly<GpuTuning> = { cacheBindGroups: true, sharedPass: true, flushEvery: 32 };

/** Counters since the last resetStats(); mapWaitMs is the time read() spent awaiting mapAsync. */
export interface GpuStats {
  submits: number;
  dispatches: number;
  passes: number;
  bindGroups: number; // created
  bindGroupHits: number; // taken from the cache
  readbacks: number;
  readBytes: number;
  writes: number;
  mapWaitMs: number;
}

export const zeroStats = (): GpuStats => ({
  submits: 0, dispatches: 0, passes: 0, bindGroups: 0, bindGroupHits: 0, readbacks: 0, readBytes: 0, writes: 0, mapWaitMs: 0,
});


/**
 * GPU time since the last collect(). busy: sum of pass durations; span: first pass start to last pass end.
 * byLabel: busy ms and pass count per pass label (with sharedPass off every dispatch is its own pass,
 * labelled by its kernel, so this is a per-kernel breakdown; a shared pass is labelled 'shared').
 */
export interface GpuTimes {
  passes: number;
  busyMs: number;
  spanMs: number;
  byLabel: Record<string, { passes: number; ms: number }>;
}

const QUERY_COUNT = 4096; // the WebGPU maximum: 2048 passes between two collect() calls; more are left untimed
const RESOLVE_ALIGN = 32; // resolveQuerySet's destination offset must be 256-byte aligned: 32 queries of 8 bytes

export class GpuTimer {
  private readonly qs: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer; // u64 [QUERY_COUNT]: resolved timestamps
  private next = 0; // next free query index
  private flushedUpTo = 0; // queries [0, flushedUpTo) are resolved by submitted encoders
  private pairs: number[] = []; // first query index of each timed pass (begin at i, end at i + 1)
  private labels: string[] = []; // the label of each timed pass, parallel to pairs
  dropped = 0; // passes left untimed because the query set was full

  constructor(private readonly device: GPUDevice) {
    this.qs = device.createQuerySet({ type: 'timestamp', count: QUERY_COUNT, label: 'gpu-timer' });
    this.resolveBuf = device.createBuffer({ size: QUERY_COUNT * 8, usage: 0x200 | 0x04, label: 'gpu-timer.resolve' }); // QUERY_RESOLVE | COPY_SRC
  }

  /** timestampWrites for the next compute pass, or undefined when the query set is full. */
  passWrites(label = 'pass'): GPUComputePassTimestampWrites | undefined {
    if (this.next + 2 > QUERY_COUNT) {
      this.dropped++;
      return undefined;
    }
    const i = this.next;
    this.next += 2;
    this.pairs.push(i);
    this.labels.push(label);
    return { querySet: this.qs, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  /** Resolves this encoder's queries (call after its last pass ended, before finish()). */
  resolve(enc: GPUCommandEncoder): void {
    if (this.next === this.flushedUpTo) return;
    enc.resolveQuerySet(this.qs, this.flushedUpTo, this.next - this.flushedUpTo, this.resolveBuf, this.flushedUpTo * 8);
    // The next submit's range must start 256-byte aligned in the resolve buffer.
    this.next = Math.min(QUERY_COUNT, Math.ceil(this.next / RESOLVE_ALIGN) * RESOLVE_ALIGN);
    this.flushedUpTo = this.next;
  }

  /** Reads the timestamps of every pass submitted since the last collect() (call after a flush). */
  async collect(): Promise<GpuTimes> {
    const pairs = this.pairs;
    const labels = this.labels;
    const n = this.flushedUpTo;
    this.pairs = [];
    this.labels = [];
    this.next = this.flushedUpTo = 0;
    const byLabel: GpuTimes['byLabel'] = {};
    if (n === 0) return { passes: 0, busyMs: 0, spanMs: 0, byLabel };
    const rb = this.device.createBuffer({ size: n * 8, usage: 0x01 | 0x08, label: 'gpu-timer.read' }); // MAP_READ | COPY_DST
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.resolveBuf, 0, rb, 0, n * 8);
    this.device.queue.submit([enc.finish()]);
    await rb.mapAsync(0x01);
    const t = new BigInt64Array(rb.getMappedRange().slice(0)); // ns [n]
    rb.unmap();
    rb.destroy();
    let busy = 0n;
    let first = -1n;
    let last = -1n;
    let passes = 0;
    pairs.forEach((i, k) => {
      if (i + 1 >= n) return; // not resolved (collect() before the flush)
      const b = t[i], e = t[i + 1];
      if (b <= 0n || e < b) return; // Dawn writes 0 for passes it could not time
      busy += e - b;
      const l = (byLabel[labels[k]] ??= { passes: 0, ms: 0 });
      l.passes++;
      l.ms += Number(e - b) / 1e6;
      if (first < 0n || b < first) first = b;
      if (e > last) last = e;
      passes++;
    });
    return { passes, busyMs: Number(busy) / 1e6, spanMs: passes ? Number(last - first) / 1e6 : 0, byLabel };
  }

  destroy(): void {
    this.qs.destroy();
    this.resolveBuf.destroy();
  }
}
