// The communication contract the engines see. Implemented by src/collectives over src/transport;
// in the browser the worker holds a Comlink proxy of it (tensors cross with transfer).

/** How an allReduce's values travel: 'f32' exact, 'i8' int8 blocks (for bandwidth-bound payloads on slow links). */
export type ReduceWire = 'f32' | 'i8';
export const REDUCE_WIRES: readonly ReduceWire[] = ['f32', 'i8'];
export const isReduceWire = (w: unknown): w is ReduceWire => REDUCE_WIRES.includes(w as ReduceWire);

/** Collective operations over one explicit group of ranks. Every member calls them in the same order. */
export interface Comm {
  readonly rank: number; // this member's index in the group, 0..size-1
  readonly size: number;
  /** Element-wise sum across the group; every member gets the same result. wire 'i8' (every member passes the
   *  same) sends the values as int8 with a scale per 64 (src/codec/i8-block.ts): a quarter of the bytes, a
   *  rounding of at most 1/254 of each block's largest value per hop. Default 'f32': exact. */
  allReduce(data: Float32Array, wire?: ReduceWire): Promise<Float32Array>;
  /** Concatenation of every member's `data` in rank order (sizes may differ per rank). */
  allGather(data: Float32Array): Promise<Float32Array[]>;
  /** `root`'s bytes to every member. */
  broadcast(data: Uint8Array | null, root: number): Promise<Uint8Array>;
}

/**
 * ArrayBuffers whose sender will never touch them again once handed to a collective (e.g. a GPU
 * read-back made only to be sent). A Comm wrapper that would copy its input to protect the caller
 * (the U-Net runner's, src/engines/unet-image.ts) may pass these on as they are, and a worker-side
 * Comm then transfers them: a DistriFusion step's pieces are 7-25 MB, whose copy cost the GPU thread
 * ~1 ms per 7 MB (a 1024-px N=2 step's CPU profile on 2 H200s). Only whole-buffer views qualify.
 */
export const handedOver = new WeakSet<ArrayBuffer>();

/** `d` itself when its whole buffer was handed over, else a copy the caller cannot disturb. */
export function ownedOrCopy(d: Float32Array): Float32Array {
  return d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && handedOver.has(d.buffer as ArrayBuffer) ? d : d.slice();
}

/** tp=1: no communication at all. */
export const soloComm: Comm = {
  rank: 0,
  size: 1,
  allReduce: async (d) => d,
  allGather: async (d) => [d],
  broadcast: async (d) => {
    if (!d) throw new Error('broadcast: root 0 has no data');
    return d;
  },
};
