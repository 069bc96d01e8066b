// GPU side of the fm-unet DistriFusion async exchange (./patch-unet-exchange.ts), kept across the steps of
// one run so that nothing is reallocated or re-uploaded that did not change:
//  - `out` [sendLen] f32: this rank's flat buffer, written by the kernels during the step. Each piece is
//    read back (f16 / i8: its halo and attention-input runs packed on the GPU first by f16_pack.wgsl or
//    i8_pack.wgsl, about a half or a quarter of the bytes, its GroupNorm sums copied as f32: see
//    pieceCarrier) and handed to the comm as soon as the kernels writing its last segment are encoded, so
//    it travels while the step goes on.
//  - `stale` [sum over ranks of their flat buffers] f32: every rank's previous-step values, which the
//    kernels read. Received pieces are written into it piece by piece as the first layer reading each
//    needs it (f16 / i8: written as is into `recv`, its packed runs expanded by f16_unpack.wgsl or
//    i8_unpack.wgsl, its f32 runs copied); this rank's own region is a GPU copy of `out` at the end of the step. With the exchange off
//    it is simply never refreshed.
import { handedOver } from '../collectives/types';
import type { Gpu } from '../gpu/gpu';
import { f16Pack, f16Unpack } from '../kernels/diffusion/f16-pack';
import { i8Pack, i8Unpack } from '../kernels/diffusion/i8-pack';
import type { UnetStepIo } from './patch-unet';

let nextExchangeId = 0;

export class GpuExchangeBuffers {
  // writeStaged keys of this exchange's upload slots: unique per instance, so several backends (ranks) on one
  // Gpu neither share a slot nor release each other's at dispose()
  private readonly stagePrefix = `unet.recv.${nextExchangeId++}.`;
  private out: GPUBuffer | null = null; // [sendLen] this rank's flat buffer
  private stale: GPUBuffer | null = null; // every rank's flat buffer back to back
  private recv: GPUBuffer | null = null; // f16 / i8 carriers (u32 words), rank r's piece j at recvOff[r][j]
  private packed: GPUBuffer | null = null; // this rank's f16 / i8 carriers, piece j at packOff[j] words
  readonly staleOff: number[] = []; // float offset of rank p's flat buffer in `stale`
  private recvOff: number[][] = [];
  private packOff: number[] = [];

  constructor(private readonly gpu: Gpu) {}

  /** Allocates once per run (the plan and wire format, io.ex.dtype, are fixed for a run). */
  ensure(io: UnetStepIo): void {
    if (this.out) return;
    const { gpu } = this;
    const reg = io.plan.registry;
    const P = io.ex.pieces;
    let n = 0;
    for (let p = 0; p < io.plan.nPeers; p++) {
      this.staleOff.push(n);
      n += reg.total(p);
    }
    this.stale = gpu.alloc(n * 4, 'unet.patch.stale'); // [all ranks' flat buffers]
    this.out = gpu.alloc(Math.max(1, reg.total(io.rank)) * 4, 'unet.patch.send'); // [sendLen]
    if (io.ex.dtype === 'f32') return;
    let w = 0;
    this.recvOff = io.plan.ranges[0].map((_, r) => Array.from({ length: P.count }, (_j, j) => {
      const o = w;
      w += io.ex.carrier(j, r).words;
      return o;
    }));
    this.recv = gpu.alloc(Math.max(1, w) * 4, 'unet.patch.recv'); // [carrier words, all ranks and pieces]
    let q = 0;
    this.packOff = Array.from({ length: P.count }, (_j, j) => {
      const o = q;
      q += io.ex.carrier(j, io.rank).words;
      return o;
    });
    this.packed = gpu.alloc(Math.max(1, q) * 4, 'unet.patch.packed'); // [this rank's carrier words]
  }

  get sendBuf(): GPUBuffer {
    return this.out!;
  }

  get staleBuf(): GPUBuffer {
    return this.stale!;
  }

  /** Reads back piece j of `out` (packed on the GPU first when the wire is f16 / i8) and sends it. */
  sendPiece(io: UnetStepIo, j: number): void {
    const { gpu } = this;
    const [a, b] = io.ex.pieces.range(j, io.rank);
    let read: Promise<ArrayBuffer>;
    if (io.ex.dtype !== 'f32') {
      const c = io.ex.carrier(j, io.rank); // halo/attention-input runs as halves or int8 blocks, GroupNorm sums raw f32
      for (const k of c.blocks) {
        const dw = this.packOff[j] + k.word;
        const sh = { count: k.count, srcBase: a + k.from, dstBase: dw };
        if (k.enc === 'f32') gpu.copy(this.out!, (a + k.from) * 4, this.packed!, dw * 4, k.count * 4);
        else if (k.enc === 'f16') f16Pack(gpu, this.out!, this.packed!, sh);
        else i8Pack(gpu, this.out!, this.packed!, sh);
      }
      read = gpu.read(this.packed!, c.words * 4, this.packOff[j] * 4); // flushes: the GPU has it now
    } else {
      read = gpu.read(this.out!, (b - a) * 4, a * 4);
    }
    // the read-back exists only to be sent: hand it over (no copy on the way to the page)
    io.ex.sendPiece(j, read.then((buf) => (handedOver.add(buf), new Float32Array(buf)))); // [carrier floats]
  }

  /** Puts the other ranks' piece j of the previous step into `stale` (as received: f16 / i8 carriers or f32). */
  upload(io: UnetStepIo, j: number, got: Float32Array[]): void {
    const { gpu } = this;
    got.forEach((g, r) => {
      if (r === io.rank) return; // own values: copied GPU-side at the end of the previous step
      const a = io.ex.pieces.range(j, r)[0];
      // staged per (rank, piece): these are 7-44 MB a step, which queue.writeBuffer copied into fresh pages
      const key = `${this.stagePrefix}${r}.${j}`;
      if (io.ex.dtype === 'f32') return gpu.writeStaged(key, this.stale!, g, (this.staleOff[r] + a) * 4); // [piece floats]
      gpu.writeStaged(key, this.recv!, g, this.recvOff[r][j] * 4); // [carrier words] as they came
      for (const k of io.ex.carrier(j, r).blocks) {
        const sw = this.recvOff[r][j] + k.word;
        const df = this.staleOff[r] + a + k.from;
        const sh = { count: k.count, srcBase: sw, dstBase: df };
        if (k.enc === 'f32') gpu.copy(this.recv!, sw * 4, this.stale!, df * 4, k.count * 4); // GroupNorm sums, exact
        else if (k.enc === 'f16') f16Unpack(gpu, this.recv!, this.stale!, sh);
        else i8Unpack(gpu, this.recv!, this.stale!, sh);
      }
    });
  }

  /** Every rank's f32 host values of piece j (after a synchronous step) into `stale`. */
  uploadHost(io: UnetStepIo, j: number, st: Float32Array[]): void {
    st.forEach((g, p) => {
      const [a, b] = io.ex.pieces.range(j, p);
      this.gpu.write(this.stale!, g.subarray(a, b), (this.staleOff[p] + a) * 4); // [piece floats of rank p]
    });
  }

  /** End of an async step: this rank's fresh values become its stale values for the next step. */
  keepOwn(io: UnetStepIo): void {
    const n = io.plan.registry.total(io.rank);
    if (n > 0) this.gpu.copy(this.out!, 0, this.stale!, this.staleOff[io.rank] * 4, n * 4);
  }

  dispose(): void {
    this.gpu.releaseStaged(this.stagePrefix); // the upload slots of this run's pieces (see upload)
    for (const b of [this.out, this.stale, this.recv, this.packed]) if (b) this.gpu.free(b);
    this.out = this.stale = this.recv = this.packed = null;
  }
}
