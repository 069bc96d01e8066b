// Upload staging the Gpu keeps mapped between uses (Gpu.writeStaged). queue.writeBuffer copies into
// staging memory Dawn allocates per call, and the first touch of those fresh pages costs ~1.5 ms per MB:
// on 4 H200s a 2048-px DistriFusion step spent 67 ms of its 159 writing the other peers' pieces (44 MB)
// to the GPU. A slot here is one MAP_WRITE buffer per caller key (e.g. a (rank, piece) of the exchange):
// written while mapped, copied on the queue in order with the dispatches around it, and mapped again
// after the submit that carries the copy, so its pages stay resident and a steady-state write is a memcpy.
const MAP_WRITE = 0x0002; // GPUBufferUsage.MAP_WRITE and GPUMapMode.WRITE
const COPY_SRC = 0x0004;

interface Slot {
  buf: GPUBuffer;
  state: 'mapped' | 'inflight' | 'mapping' | 'lost';
}

export class StagingWrites {
  private slots = new Map<string, Slot>();
  private remap: Slot[] = []; // unmapped for copies in the pending encoder: map again after its submit

  constructor(private readonly device: GPUDevice) {}

  /**
   * `data` (a multiple of 4 bytes) in slot `key`'s staging buffer, or null when the slot is still in use
   * by the GPU (the caller then writes another way). The caller encodes the copy from the returned buffer.
   */
  stage(key: string, data: Uint8Array): GPUBuffer | null {
    let s = this.slots.get(key);
    if (s && (s.state === 'lost' || (s.state === 'mapped' && s.buf.size < data.byteLength))) {
      s.buf.destroy(); // a lost mapping, or too small (and idle): a new one
      s = undefined;
    }
    if (!s) {
      const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
      s = { buf: this.device.createBuffer({ size, usage: MAP_WRITE | COPY_SRC, mappedAtCreation: true, label: `staging ${key}` }), state: 'mapped' };
      this.slots.set(key, s);
    }
    if (s.state !== 'mapped') return null;
    new Uint8Array(s.buf.getMappedRange(0, data.byteLength)).set(data);
    s.buf.unmap();
    s.state = 'inflight';
    this.remap.push(s);
    return s.buf;
  }

  /** Call after the submit that carries every staged copy so far: the slots map again for their next use. */
  submitted(): void {
    for (const s of this.remap) {
      s.state = 'mapping';
      s.buf.mapAsync(MAP_WRITE).then(
        () => (s.state = s.state === 'mapping' ? 'mapped' : s.state),
        () => (s.state = 'lost'), // destroyed, or the device went away: the slot is re-created if asked again
      );
    }
    this.remap = [];
  }

  /** Drops the slots whose key starts with `prefix` (their owner is done). Call after the submit that carries
   *  their copies (Gpu.releaseStaged flushes first): a submitted copy still completes, an unsubmitted one would not. */
  release(prefix: string): void {
    for (const [k, s] of this.slots) {
      if (!k.startsWith(prefix)) continue;
      s.state = 'lost';
      s.buf.destroy();
      this.slots.delete(k);
    }
  }

  destroy(): void {
    for (const s of this.slots.values()) {
      s.state = 'lost';
      s.buf.destroy();
    }
    this.slots.clear();
    this.remap = [];
  }
}
