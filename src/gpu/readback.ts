// Idle MAP_READ buffers by size, reused across reads. Why: a tensor-parallel decode reads a small
// partial sum back at every all-reduce point (44-64 per token); creating a mappable buffer each time
// costs more than the copy. At most 4 idle buffers of one size are kept; more are destroyed.
const USAGE_READBACK = 0x01 | 0x08; // MAP_READ | COPY_DST
const KEEP_PER_SIZE = 4;

export class ReadbackPool {
  private idle = new Map<number, GPUBuffer[]>(); // size -> idle buffers

  constructor(private readonly device: GPUDevice) {}

  /** A readback buffer of `size` bytes (a multiple of 16), idle or new. */
  take(size: number): GPUBuffer {
    return this.idle.get(size)?.pop() ?? this.device.createBuffer({ size, usage: USAGE_READBACK, label: 'readback' });
  }

  /** Returns an unmapped buffer taken with take(). */
  give(rb: GPUBuffer): void {
    const list = this.idle.get(rb.size) ?? [];
    if (list.length < KEEP_PER_SIZE) {
      list.push(rb);
      this.idle.set(rb.size, list);
    } else rb.destroy();
  }

  destroy(): void {
    for (const list of this.idle.values()) for (const b of list) b.destroy();
    this.idle.clear();
  }
}
