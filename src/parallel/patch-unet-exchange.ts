// The async exchange of the fm-unet DistriFusion runner (./patch-unet.ts): this step's flat buffer goes
// out as a few allGathers ("pieces": consecutive segments in forward-layer order, the same split on every
// rank), each started as soon as its values exist, and every piece of the previous async step is awaited
// only by the first layer that reads it.
//  - A backend that computes on the GPU hands each piece over the moment the GPU has written it
//    (sendPiece, a promise of the carrier: its read-back is still running), so the first layers' data
//    travels while the rest of the step computes; a backend that does not (the plain-TS one) leaves the
//    runner to send every piece from the host flat buffer at the end of the step.
//  - Received pieces stay as they came (f16 / i8 carriers or f32) until a layer of the NEXT step needs them:
//    the GPU backend writes them as is into its stale buffer (wire()), the plain-TS backend gets them
//    unpacked into the host stale arrays (hostStale()).
//  - exchange off (the honest no-communication ideal): nothing is sent or received after the warm-up;
//    the stale values stay those of the last synchronous step.
import type { Comm } from '../collectives/types';
import type { CommRegistry } from './patch-plan';
import { encWords, packBlocks, unpackBlocks, type CarrierBlock, type WireEnc } from './patch-unet-wire';

/** Pieces of the flat buffer: consecutive segments, the same split on every rank. */
export interface UnetPieces {
  count: number;
  of(si: number): number;
  /** Piece j's float range in rank r's flat buffer. */
  range(j: number, rank: number): [number, number];
  /** The last segment of piece j (when it has been written, the piece can go). */
  lastSeg(j: number): number;
}

/** How many allGathers one async step's flat buffer is split into. Piece 0 (the first layers' data) lands
 *  after ~1/8 of the transfer and the next step's first layers run while the rest is still on the wire;
 *  8 keeps the per-call overhead (~1 RTT each, pipelined) negligible. */
export const UNET_EXCHANGE_PIECES = 8;

/** Splits the registry's segments (forward order) into <= k pieces of about equal size on rank 0. */
export function unetPieces(reg: CommRegistry, k = UNET_EXCHANGE_PIECES): UnetPieces {
  const segs = reg.segments;
  const starts: number[] = [0];
  const target = reg.total(0) / k;
  let acc = 0;
  segs.forEach((sg, si) => {
    acc += sg.sizes[0];
    if (acc >= target * starts.length && si + 1 < segs.length && starts.length < k) starts.push(si + 1);
  });
  const pieceOf = new Int32Array(segs.length); // [segments]
  starts.forEach((s0, j) => pieceOf.fill(j, s0, j + 1 < starts.length ? starts[j + 1] : segs.length));
  const end = (j: number) => (j + 1 < starts.length ? starts[j + 1] : segs.length); // first segment after piece j
  return {
    count: starts.length,
    of: (si) => pieceOf[si],
    range: (j, r) => [segs[starts[j]].offsets[r], end(j) < segs.length ? segs[end(j)].offsets[r] : reg.total(r)],
    lastSeg: (j) => end(j) - 1,
  };
}

/** Piece j of rank r as it travels: `words` f32 carrier floats laid out in `blocks` (see CarrierBlock). */
export interface PieceCarrier {
  blocks: CarrierBlock[];
  words: number;
}

/**
 * The wire layout of piece j of rank r. f32: one raw block. f16 / i8: runs of consecutive segments in order,
 * each word-aligned; GroupNorm statistics segments stay raw f32 (2 floats per group, a negligible share of the
 * bytes): they are per-patch [sum, sumsq] over count = C/groups * rows * W elements, so sumsq passes the half
 * maximum 65504 on ordinary activations (16x16 toy net: up to 6e5), and the variance E[x^2] - mean^2 taken
 * from them cancels a rounding error of 2^-11 (f16) or 2^-8 of the block maximum (i8) into a far larger one.
 * Halo and attention-input values are activations and round harmlessly. An i8 run's 64-value blocks may span
 * two consecutive segments of the run (one block per boundary takes the larger maximum): runs, not segments,
 * keep the pack/unpack dispatches per piece few.
 */
export function pieceCarrier(reg: CommRegistry, pieces: UnetPieces, j: number, r: number, dtype: WireEnc): PieceCarrier {
  const [a, b] = pieces.range(j, r);
  if (dtype === 'f32') return { blocks: [{ from: 0, count: b - a, word: 0, enc: 'f32' }], words: b - a };
  const blocks: CarrierBlock[] = [];
  let words = 0;
  for (let si = j === 0 ? 0 : pieces.lastSeg(j - 1) + 1; si <= pieces.lastSeg(j); si++) {
    const sg = reg.segments[si];
    const n = sg.sizes[r];
    if (n === 0) continue;
    const enc: WireEnc = sg.kind === 'stats' ? 'f32' : dtype;
    const last = blocks[blocks.length - 1];
    if (last && last.enc === enc) {
      last.count += n; // the run goes on: consecutive in the flat buffer too
      words = last.word + encWords(enc, last.count);
      continue;
    }
    blocks.push({ from: sg.offsets[r] - a, count: n, word: words, enc });
    words += encWords(enc, n);
  }
  return { blocks, words };
}

/** Where an async step's stale values come from (what the GPU backend must put into its stale buffer). */
export type StaleFrom =
  | 'host' // the previous step was synchronous: hostStale() holds every rank's f32 values of it
  | 'wire' // the previous async step's pieces: wire(j), as they came (own rank: this backend's last send)
  | 'kept'; // exchange off: nothing changed since the last upload

/** Per-step fine timers (ms; times "at" are since the step's start). Small: it rides on the step event. */
export interface UnetStepDetail {
  pieceWaitMs: number[]; // [pieces] blocked on the previous step's piece j (0: it was there)
  pieceArriveAtMs: number[]; // [pieces] when piece j of the previous step had arrived from every rank (< 0: before this step)
  pieceSendAtMs: number[]; // [pieces] when this step's piece j was handed to the comm
  packMs: number; // host time packing / copying send pieces (runner-side sends)
  unpackMs: number; // host time unpacking received pieces (plain-TS backend)
  uploadMs: number; // host time writing received pieces to the GPU (backend-reported)
  readWaitMs: number; // blocked on the GPU's final read-back (eps rows; the rest of the step's GPU work)
  epsGatherMs: number; // the synchronous eps allGather
  syncGatherMs: number; // per-layer synchronous gathers (full_sync, warm-up, sync_gn stats)
  backendMs: number; // the backend's step (encode + its waits + the final read-back); the rest of the step is the runner's host work
  dispatches: number; // dispatches on the backend's Gpu during the step (every rank sharing that Gpu counts; 0 for the plain-TS backend)
}

export function emptyDetail(pieces: number): UnetStepDetail {
  const z = () => new Array<number>(pieces).fill(0);
  return { pieceWaitMs: z(), pieceArriveAtMs: z(), pieceSendAtMs: z(), packMs: 0, unpackMs: 0, uploadMs: 0, readWaitMs: 0, epsGatherMs: 0, syncGatherMs: 0, backendMs: 0, dispatches: 0 };
}

type Collect = <T>(p: Promise<T>, what: string) => Promise<T>;

export class UnetAsyncExchange {
  /** Every rank's flat buffer as last received (f32, host): the plain-TS backend's stale values. */
  readonly stale: Float32Array[];
  private incoming: Promise<Float32Array[]>[] | null = null; // the previous async step's pieces
  private arrivedAt: number[] = []; // performance.now() when incoming piece j resolved (0: not yet)
  private unpacked = 0; // incoming pieces 0..unpacked-1 are in `stale`
  private outgoing: Promise<Float32Array[]>[] = []; // this step's pieces
  private outArrived: number[] = [];
  private chain: Promise<unknown> = Promise.resolve(); // allGathers are called in piece order on every rank
  private lastSend: Float32Array | null = null; // this rank's previous host flat buffer (f32, exact)
  private stepStart = 0;
  detail: UnetStepDetail;
  /** True once a step's async values were taken from the host (after the warm-up) with exchange off. */
  private keptUploaded = false;
  private readonly carriers: PieceCarrier[][]; // [rank][piece] wire layouts

  constructor(
    private readonly comm: Comm,
    private readonly reg: CommRegistry,
    readonly pieces: UnetPieces,
    private readonly rank: number,
    readonly dtype: WireEnc,
    readonly exchange: boolean,
    private readonly collect: Collect,
  ) {
    this.stale = Array.from({ length: comm.size }, (_, p) => new Float32Array(reg.total(p))); // rank p's last flat buffer
    this.detail = emptyDetail(pieces.count);
    this.carriers = this.stale.map((_, r) => Array.from({ length: pieces.count }, (_j, j) => pieceCarrier(reg, pieces, j, r, dtype)));
  }

  /** Piece j of rank r on the wire (f16 / i8: GroupNorm sums raw f32, the rest halves or int8 blocks; see pieceCarrier). */
  carrier(j: number, r: number): PieceCarrier {
    return this.carriers[r][j];
  }

  /** Starts a step: the detail record, and where an async step's stale values come from. */
  beginStep(syncStep: boolean): StaleFrom {
    this.stepStart = performance.now();
    this.detail = emptyDetail(this.pieces.count);
    if (syncStep) {
      this.keptUploaded = false;
      return 'host';
    }
    if (!this.exchange) {
      const from = this.keptUploaded ? 'kept' : 'host';
      this.keptUploaded = true;
      return from;
    }
    return this.incoming ? 'wire' : 'host';
  }

  /** Hands this step's piece j (in order, j = 0, 1, ...) to the comm once its carrier is ready. */
  sendPiece(j: number, carrier: Float32Array | Promise<Float32Array>): void {
    if (!this.exchange) throw new Error('unet patch-parallel: sendPiece with the exchange off');
    if (j !== this.outgoing.length) throw new Error(`unet patch-parallel: piece ${j} sent out of order (expected ${this.outgoing.length})`);
    const ready = this.chain.then(() => carrier);
    const p = ready.then((c) => {
      this.detail.pieceSendAtMs[j] = performance.now() - this.stepStart;
      return this.comm.allGather(c);
    });
    // registered after p's callback: resolves once piece j's allGather has been CALLED (the next piece's
    // call, and the step's eps allGather, must come after it on every rank: collectives match by order)
    this.chain = ready.then(() => undefined, () => undefined);
    const arrived = this.outArrived; // this step's array (the field moves on at endStep)
    p.then(() => (arrived[j] = performance.now()), () => undefined); // a failure surfaces where it is awaited
    this.outgoing.push(p);
  }

  /** Resolves once every piece handed over so far has had its allGather called: call it before any other
   *  collective of this step (sync_gn's statistics gathers), which must come after them on every rank. */
  async sendsCalled(): Promise<void> {
    await this.chain;
  }

  /** Every rank's piece j of the previous async step as it came (own rank's entry: whatever this rank sent). */
  async wire(j: number): Promise<Float32Array[]> {
    if (!this.incoming) throw new Error('unet patch-parallel: no async pieces in flight');
    const c0 = performance.now();
    const got = await this.collect(this.incoming[j], `async flat-buffer allGather (piece ${j + 1}/${this.pieces.count})`);
    this.detail.pieceWaitMs[j] += performance.now() - c0;
    this.detail.pieceArriveAtMs[j] = (this.arrivedAt[j] || performance.now()) - this.stepStart;
    got.forEach((g, r) => {
      const want = this.carriers[r][j].words;
      if (g.length !== want) throw new Error(`unet patch-parallel: rank ${r} sent ${g.length} floats for piece ${j}, plan says ${want}`);
    });
    return got;
  }

  /** Host stale values with pieces 0..upto of the previous async step unpacked (plain-TS backend). */
  async hostStale(upto: number): Promise<Float32Array[]> {
    while (this.incoming && this.unpacked <= upto) {
      const j = this.unpacked;
      const got = await this.wire(j);
      const u0 = performance.now();
      got.forEach((g, r) => {
        const [a, b] = this.pieces.range(j, r);
        const dst = this.stale[r].subarray(a, b); // [piece floats of rank r]
        if (r === this.rank) return dst.set(this.lastSend!.subarray(a, b));
        if (this.dtype === 'f32') dst.set(g);
        else unpackBlocks(g, this.carriers[r][j].blocks, dst);
      });
      this.detail.unpackMs += performance.now() - u0;
      this.unpacked++;
    }
    return this.stale;
  }

  /**
   * Ends a step. sent: this step's host flat buffer when the backend filled it (the runner then sends the
   * pieces the backend did not); null after a synchronous step. Every incoming piece is awaited first, so
   * every rank leaves the step with the same call sequence and a failure is reported.
   */
  async endStep(sent: Float32Array | null, asyncStep: boolean): Promise<void> {
    if (this.incoming) for (let j = 0; j < this.pieces.count; j++) await this.wire(j);
    if (asyncStep && this.exchange && sent) {
      const p0 = performance.now();
      for (let j = this.outgoing.length; j < this.pieces.count; j++) {
        const [a, b] = this.pieces.range(j, this.rank);
        const c = this.carriers[this.rank][j];
        this.sendPiece(j, this.dtype === 'f32' ? sent.subarray(a, b) : packBlocks(sent.subarray(a, b), c.blocks, c.words));
      }
      this.detail.packMs += performance.now() - p0;
      this.lastSend = sent;
    }
    await this.chain; // every piece's allGather called before the caller's next collective
    if (asyncStep && this.exchange && this.outgoing.length !== this.pieces.count) {
      throw new Error(`unet patch-parallel: the backend sent ${this.outgoing.length} of ${this.pieces.count} pieces`);
    }
    this.incoming = asyncStep && this.exchange ? this.outgoing : null;
    this.arrivedAt = this.outArrived;
    this.outgoing = [];
    this.outArrived = [];
    this.unpacked = 0;
  }

  /** Awaits the last step's pieces (after the final step: the comms stay in lockstep). */
  async drain(): Promise<void> {
    if (this.incoming) for (let j = 0; j < this.pieces.count; j++) await this.wire(j);
    this.incoming = null;
  }

  /** Float32 carrier floats this rank sends per async step (f16 / i8 runs are padded to whole words). */
  carrierFloats(): number {
    let n = 0;
    for (let j = 0; j < this.pieces.count; j++) n += this.carriers[this.rank][j].words;
    return n;
  }
}
