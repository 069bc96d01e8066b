// The uniform bytes of the pending command encoder: every dispatch's Params struct is staged here as
// one aligned slice, and all of them reach the GPU in one writeBuffer per 64 KiB arena right before the
// submit that reads them. Why: one writeBuffer per dispatch costs more than the dispatch itself in a
// decode step (hundreds of small dispatches), and queue order keeps a later submit's bytes from
// touching an earlier one's (writeBuffer is ordered with submit on the queue).
const ARENA_BYTES = 64 * 1024;
const USAGE_UNIFORM = 0x40 | 0x08; // UNIFORM | COPY_DST (GPUBufferUsage may not be global yet)

export class UniformArena {
  private arenas: GPUBuffer[] = []; // arena i covers staged bytes [i*64K, (i+1)*64K)
  private staged = new Uint8Array(ARENA_BYTES); // [len] uniform bytes of the pending encoder
  private len = 0;
  private readonly align: number;

  constructor(private readonly device: GPUDevice) {
    this.align = device.limits.minUniformBufferOffsetAlignment || 256;
  }

  /** Stages `params` as one slice (16-byte multiple, aligned, never straddling two arenas); returns its binding. */
  slice(params: ArrayBufferView): GPUBufferBinding {
    const len = Math.ceil(params.byteLength / 16) * 16;
    if (len > ARENA_BYTES) throw new Error('run(): params larger than 64 KiB');
    let off = Math.ceil(this.len / this.align) * this.align;
    if (Math.floor(off / ARENA_BYTES) !== Math.floor((off + len - 1) / ARENA_BYTES)) {
      off = Math.ceil(off / ARENA_BYTES) * ARENA_BYTES;
    }
    if (off + len > this.staged.byteLength) {
      const grown = new Uint8Array(Math.max(this.staged.byteLength * 2, off + len)); // [bytes]
      grown.set(this.staged.subarray(0, this.len));
      this.staged = grown;
    }
    this.staged.fill(0, off, off + len);
    this.staged.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), off);
    this.len = off + len;
    const arena = Math.floor(off / ARENA_BYTES);
    while (this.arenas.length <= arena) {
      this.arenas.push(this.device.createBuffer({ size: ARENA_BYTES, usage: USAGE_UNIFORM, label: 'params' }));
    }
    return { buffer: this.arenas[arena], offset: off - arena * ARENA_BYTES, size: len };
  }

  /** The staged bytes, copied, and the staging emptied: a captured command buffer writes them at its own submit. */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.staged.slice(0, this.len); // [len]
    this.len = 0;
    return out;
  }

  /** Writes staged bytes (default: the pending encoder's, which are then emptied) to the arenas, in queue order. */
  write(bytes?: Uint8Array<ArrayBuffer>): void {
    const src = bytes ?? this.staged;
    const len = bytes ? bytes.byteLength : this.len;
    for (let a = 0; a * ARENA_BYTES < len; a++) {
      const start = a * ARENA_BYTES;
      const end = Math.min(len, start + ARENA_BYTES);
      this.device.queue.writeBuffer(this.arenas[a], 0, src, start, Math.ceil((end - start) / 4) * 4);
    }
    if (!bytes) this.len = 0;
  }

  /** Drops the staged bytes (a capture that threw). */
  reset(): void {
    this.len = 0;
  }

  destroy(): void {
    for (const b of this.arenas) b.destroy();
    this.arenas = [];
    this.len = 0;
  }
}
