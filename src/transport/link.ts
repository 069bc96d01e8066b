// One Link per remote peer: chunked, back-pressured, validated messaging over a ChannelLike, with receive
// queues keyed by (tag, stream, seq) so a message may arrive before (or after) anyone asks for it.
import type { ChannelLike, ChannelMessageEvent } from './channel';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  HEADER_BYTES,
  TARGET_FRAME_BYTES,
  Tag,
  decodeFrame,
  encodeFrame,
  keyString,
  type DropReason,
  type FrameHeader,
  type MsgKey,
} from './frame';

/** Pause sending above this much buffered data. Chromium closes/throws once ~16 MiB are queued, so stay far
 *  below; at ~45 MiB/s 1 MiB is ~22 ms of transmission, far more than the ~0.5 ms RTT, so the pipe never
 *  runs dry while we hold back, and queued latency-critical frames wait at most that long. */
export const HIGH_WATER_BYTES = 1024 * 1024;
/** Resume (on 'bufferedamountlow') when this much is left: ~5 ms of transmission at ~45 MiB/s, ample time
 *  for the event to be dispatched and the next frames to be queued before the buffer empties. */
export const LOW_WATER_BYTES = 256 * 1024;
/** While paused, recheck bufferedAmount this often even without the event: cheap insurance against a lost
 *  or never-dispatched 'bufferedamountlow' (so a quirk of some browser cannot stall a collective). */
export const BACKPRESSURE_POLL_MS = 50;
/** Bytes we buffer from one peer that nobody has asked for yet (plus partially received messages). Early
 *  arrival is normal (a fast peer runs a collective ahead), but a runaway sender must not take the tab's
 *  memory: beyond this, messages are dropped and counted (the waiting collective then times out). */
export const DEFAULT_MAX_QUEUED_BYTES = 2 * DEFAULT_MAX_MESSAGE_BYTES;
/** A queued message with at most this many bytes left jumps ahead of bigger ones (sent before the next frame
 *  of the message at the head). Bigger messages go strictly in order (FIFO), not round-robin: a consumer that
 *  needs them in send order (DistriFusion's per-step flat buffer in forward-layer pieces, see
 *  src/parallel/patch-unet.ts) gets the first one after 1/k of the total time instead of all k together at
 *  the end, and small latency-critical messages (collective control, eps rows, pings) still never wait
 *  behind a bulk transfer: 256 KiB is ~2-5 ms at the ~50-110 MB/s measured between Node peers. */
export const SMALL_MESSAGE_BYTES = 256 * 1024;

/** A channel that can put a frame on the wire as its header plus a view of the payload, without the copy
 *  into one fresh buffer that send() needs (a byte stream: UdsChannel encodes the header next to its length
 *  prefix and gathers both with the payload in one writev). The Link uses it when the channel has it
 *  (duck-typed: RTCDataChannel does not, and keeps send()). Because the payload is the caller's memory,
 *  `done` must run only once the channel no longer reads it (the bytes are in the kernel, or copied), with
 *  an error if they never will be; the Link's send() resolves then. `done` may run inside sendFrame. */
export interface FrameWriter {
  sendFrame(header: FrameHeader, payload: Uint8Array, done: (err?: Error | null) => void): void;
}

function frameWriterOf(ch: ChannelLike): FrameWriter | null {
  return typeof (ch as { sendFrame?: unknown }).sendFrame === 'function' ? (ch as unknown as FrameWriter) : null;
}

export interface LinkOptions {
  /** Largest frame this channel accepts (pc.sctp.maxMessageSize). Default: channel.maxMessageSize, else
   *  262144. Also the largest frame accepted on receive. */
  maxMessageSize?: number;
  /** Target frame size (header included), capped by maxMessageSize. Default TARGET_FRAME_BYTES. */
  frameBytes?: number;
  /** Largest declared message length accepted on receive. Default DEFAULT_MAX_MESSAGE_BYTES. */
  maxMessageBytes?: number;
  highWaterBytes?: number;
  lowWaterBytes?: number;
  maxQueuedBytes?: number;
}

export class LinkClosedError extends Error {
  constructor(
    readonly peer: string,
    message = `link to ${peer} closed`,
  ) {
    super(message);
    this.name = 'LinkClosedError';
  }
}

export interface LinkStats {
  framesOut: number;
  framesIn: number;
  bytesOut: number; // frame bytes, headers included
  bytesIn: number;
  messagesOut: number;
  messagesIn: number;
  pauses: number; // times sending paused on the high-water mark
  maxBufferedAmount: number; // highest bufferedAmount seen right after a send
  dropped: Record<DropReason, number>;
}

function newStats(): LinkStats {
  return {
    framesOut: 0, framesIn: 0, bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0, pauses: 0,
    maxBufferedAmount: 0,
    dropped: {
      nonBinary: 0, oversizedFrame: 0, truncated: 0, badMagic: 0, badVersion: 0, unknownTag: 0,
      oversizedMessage: 0, badChunk: 0, queueOverflow: 0,
    },
  };
}

/** How a send ends: null once the caller's data is free again, else why it never will be sent. */
export type SendDone = (err: Error | null) => void;

interface SendJob {
  key: MsgKey;
  data: Uint8Array; // [totalLength] bytes, read lazily one chunk at a time
  next: number; // next chunk index
  count: number; // chunk count
  done: SendDone; // called exactly once
}

interface Partial {
  count: number;
  total: number;
  next: number; // expected chunk index
  got: number; // bytes so far
  msg: Uint8Array; // [total] preallocated at chunk 0; each chunk is copied straight to its place
}

/** Someone waiting for one message (see recvInto): exactly one of the two is called, exactly once, unless
 *  the wait is withdrawn first (cancelRecv). A class instance with these as methods costs the receiver no
 *  closures and no promise per message (collectives make thousands of calls a second). */
export interface RecvWaiter {
  resolve(d: Uint8Array): void;
  reject(e: unknown): void;
}

const noop = (): void => {};

export class Link {
  readonly stats: LinkStats = newStats();
  private readonly maxFrame: number;
  private readonly payloadBytes: number; // payload per frame
  private readonly maxMessageBytes: number;
  private readonly highWater: number;
  private readonly lowWater: number;
  private readonly maxQueued: number;
  private readonly jobs: SendJob[] = [];
  private readonly writer: FrameWriter | null;
  /** Jobs whose frames all went to the FrameWriter, waiting for its `done` (rejected by shutdown). */
  private readonly writing = new Set<SendJob>();
  private readonly partials = new Map<string, Partial>();
  private readonly queues = new Map<string, Uint8Array[]>();
  private readonly waiters = new Map<string, RecvWaiter[]>();
  private readonly closeListeners = new Set<(e: LinkClosedError) => void>();
  private queuedBytes = 0;
  private pumping = false;
  private paused = false;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private closedError: LinkClosedError | null = null;

  constructor(
    readonly peerId: string,
    private readonly channel: ChannelLike,
    opts: LinkOptions = {},
  ) {
    this.maxFrame = opts.maxMessageSize ?? channel.maxMessageSize ?? DEFAULT_MAX_FRAME_BYTES;
    const frame = Math.min(opts.frameBytes ?? TARGET_FRAME_BYTES, this.maxFrame);
    if (frame <= HEADER_BYTES) throw new Error(`Link ${peerId}: frame size ${frame} leaves no payload`);
    this.payloadBytes = frame - HEADER_BYTES;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.highWater = opts.highWaterBytes ?? HIGH_WATER_BYTES;
    this.lowWater = Math.min(opts.lowWaterBytes ?? LOW_WATER_BYTES, this.highWater);
    this.maxQueued = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.writer = frameWriterOf(channel);
    if ('binaryType' in channel) channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = this.lowWater;
    channel.addEventListener('message', this.onMessage);
    channel.addEventListener('bufferedamountlow', this.onLow);
    channel.addEventListener('open', this.onOpen);
    channel.addEventListener('close', this.onClose);
    if (channel.readyState === 'closed' || channel.readyState === 'closing') this.shutdown();
  }

  get isClosed(): boolean {
    return this.closedError !== null;
  }

  /** Queues `data` as one message. Resolves once its last frame is handed to the channel (a FrameWriter
   *  channel: once it no longer reads `data`): until then the caller must not modify `data` (frames are
   *  copied from it lazily, one at a time, or written from it in place). */
  send(key: MsgKey, data: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => this.post(key, data, (err) => (err ? reject(err) : resolve())));
  }

  /** send() without a promise: `done` is called exactly once, possibly before post() returns (a channel
   *  that copies at once), with null when send() would resolve and the error it would reject with. */
  post(key: MsgKey, data: Uint8Array, done: SendDone): void {
    if (this.closedError) return done(this.closedError);
    if (data.byteLength > 0xffffffff) return done(new Error('message longer than 4 GiB'));
    const count = Math.max(1, Math.ceil(data.byteLength / this.payloadBytes));
    this.jobs.push({ key, data, next: 0, count, done });
    this.pump();
  }

  /** Next message with this key; waits for it unless already queued. Rejects with LinkClosedError once the
   *  link is closed and none is queued, or with signal.reason on abort. */
  recv(key: MsgKey, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (!signal) return this.recvInto(key, { resolve, reject });
      // As before recvInto existed: a queued message wins over an abort, a closed link over both.
      if (signal.aborted && !this.queues.has(keyString(key)) && !this.closedError) return reject(signal.reason);
      const w: RecvWaiter = {
        resolve: (d) => { signal.removeEventListener('abort', onAbort); resolve(d); },
        reject: (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
      };
      const onAbort = () => {
        if (this.cancelRecv(key, w)) reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.recvInto(key, w);
    });
  }

  /** recv() without a promise: hands the next message with this key to `w` at once (before returning) if
   *  one is queued, fails it at once if the link is closed, else registers it until one arrives. */
  recvInto(key: MsgKey, w: RecvWaiter): void {
    const k = keyString(key);
    const q = this.queues.get(k);
    if (q !== undefined) {
      const d = q.shift()!; // [message bytes]
      if (q.length === 0) this.queues.delete(k);
      this.queuedBytes -= d.byteLength;
      return w.resolve(d);
    }
    if (this.closedError) return w.reject(this.closedError);
    const list = this.waiters.get(k);
    if (list === undefined) this.waiters.set(k, [w]);
    else list.push(w);
  }

  /** Withdraws a wait registered by recvInto; false if `w` is not waiting (already resolved or failed). */
  cancelRecv(key: MsgKey, w: RecvWaiter): boolean {
    const k = keyString(key);
    const list = this.waiters.get(k);
    const i = list ? list.indexOf(w) : -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    if (list!.length === 0) this.waiters.delete(k);
    return true;
  }

  /** Called once when the link closes (immediately if it already has). Returns an unsubscribe function. */
  onClosed(cb: (e: LinkClosedError) => void): () => void {
    if (this.closedError) {
      const e = this.closedError;
      queueMicrotask(() => cb(e));
      return () => {};
    }
    this.closeListeners.add(cb);
    return () => this.closeListeners.delete(cb);
  }

  /** Closes the channel; pending sends and receives fail with LinkClosedError. */
  close(): void {
    if (this.closedError) return;
    try {
      this.channel.close();
    } catch {
      // already closing: the shutdown below is what matters
    }
    this.shutdown();
  }

  /** Forgets unclaimed messages of one stream (a disposed group's leftovers, e.g. after a timeout). */
  discardStream(stream: number): void {
    const prefix = `:${stream >>> 0}:`;
    for (const [k, q] of this.queues) {
      if (!k.includes(prefix)) continue;
      for (const d of q) this.queuedBytes -= d.byteLength;
      this.queues.delete(k);
    }
  }

  /** Bytes currently buffered for nobody (early arrivals + partial messages). */
  get unclaimedBytes(): number {
    return this.queuedBytes;
  }

  // ---- sending ----

  private pump(): void {
    if (this.pumping) return; // re-entered from a send() inside a resolve chain: the running loop continues
    this.pumping = true;
    try {
      while (this.jobs.length > 0 && !this.closedError) {
        const rs = this.channel.readyState;
        if (rs === 'connecting') return; // onOpen pumps
        if (rs !== 'open') return this.shutdown();
        if (this.channel.bufferedAmount > this.highWater) {
          if (!this.paused) this.stats.pauses++;
          this.paused = true;
          this.armPoll();
          return; // onLow / the poll pumps
        }
        this.paused = false;
        // Small messages first (see SMALL_MESSAGE_BYTES), then the oldest big one, one frame at a time
        // (the receiver reassembles interleaved messages by key).
        const ji = this.pickJob();
        const job = this.jobs[ji];
        const start = job.next * this.payloadBytes;
        const end = Math.min(start + this.payloadBytes, job.data.byteLength);
        const key = job.key;
        const header: FrameHeader = {
          tag: key.tag, stream: key.stream, seq: key.seq, chunkIndex: job.next, chunkCount: job.count, totalLength: job.data.byteLength,
        };
        const payload = job.data.subarray(start, end); // [chunk bytes], a view of the caller's data
        const last = job.next + 1 === job.count;
        try {
          if (this.writer) {
            // Only the last frame's completion matters: the channel is ordered, so earlier ones are done too.
            if (last) this.writing.add(job); // before: `done` could in principle run inside sendFrame
            this.writer.sendFrame(header, payload, last ? this.writeDone(job) : noop);
          } else {
            this.channel.send(encodeFrame(header, payload));
          }
        } catch (e) {
          // Closed underneath us, or the browser refused: the link is unusable, fail everything pending.
          this.jobs.splice(ji, 1);
          // Unless sendFrame called `done` before it threw (then it is no longer in `writing`).
          if (!(this.writer && last) || this.writing.delete(job)) job.done(e instanceof Error ? e : new Error(String(e)));
          return this.shutdown();
        }
        this.stats.framesOut++;
        this.stats.bytesOut += HEADER_BYTES + payload.byteLength;
        this.stats.maxBufferedAmount = Math.max(this.stats.maxBufferedAmount, this.channel.bufferedAmount);
        job.next++;
        if (last) {
          this.jobs.splice(ji, 1);
          this.stats.messagesOut++;
          if (!this.writer) job.done(null); // send() copied every frame: the caller's data is free already
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private writeDone(job: SendJob): (err?: Error | null) => void {
    return (err) => {
      // Not in `writing`: shutdown already failed it (the channel may still report the write afterwards).
      if (!this.writing.delete(job)) return;
      // A frame the channel could not write means the channel is dead: report it as the link closing,
      // as a send on a closed channel is (collectives turn that into 'peer-closed').
      if (err) job.done(this.closedError ?? new LinkClosedError(this.peerId, `link to ${this.peerId} closed while sending: ${err.message}`));
      else job.done(null);
    };
  }

  /** Index of the job whose next frame goes out: the first with <= SMALL_MESSAGE_BYTES left, else the head. */
  private pickJob(): number {
    for (let i = 0; i < this.jobs.length; i++) {
      const j = this.jobs[i];
      if (j.data.byteLength - j.next * this.payloadBytes <= SMALL_MESSAGE_BYTES) return i;
    }
    return 0;
  }

  private armPoll(): void {
    if (this.pollTimer !== null) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      if (this.paused) this.pump();
    }, BACKPRESSURE_POLL_MS);
  }

  private readonly onLow = (): void => {
    if (this.paused) this.pump();
  };

  private readonly onOpen = (): void => this.pump();

  private readonly onClose = (): void => this.shutdown();

  private shutdown(): void {
    if (this.closedError) return;
    const err = new LinkClosedError(this.peerId);
    this.closedError = err;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    for (const j of this.jobs.splice(0)) j.done(err);
    const writing = [...this.writing];
    this.writing.clear(); // first: the channel may still call their `done`, a no-op then (writeDone)
    for (const j of writing) j.done(err);
    for (const p of this.partials.values()) this.queuedBytes -= p.got;
    this.partials.clear();
    const waiters = [...this.waiters.values()];
    this.waiters.clear(); // first: a waiter's reject may withdraw other waits (cancelRecv) of its call
    for (const list of waiters) for (const w of list) w.reject(err);
    this.channel.removeEventListener('message', this.onMessage);
    this.channel.removeEventListener('bufferedamountlow', this.onLow);
    this.channel.removeEventListener('open', this.onOpen);
    this.channel.removeEventListener('close', this.onClose);
    for (const cb of this.closeListeners) cb(err);
    this.closeListeners.clear();
  }

  // ---- receiving ----

  private drop(reason: DropReason): void {
    this.stats.dropped[reason]++;
  }

  /** A frame that reached the channel before this Link listened to it (the page's handshake held it, see
   *  PeerMesh): handled exactly as if it had arrived now. Call it before the channel's next message. */
  receive(data: unknown): void {
    this.onMessage({ data });
  }

  private readonly onMessage = (ev: ChannelMessageEvent): void => {
    const d = ev.data;
    let frame: Uint8Array; // [frame bytes]
    if (d instanceof ArrayBuffer) frame = new Uint8Array(d);
    else if (ArrayBuffer.isView(d)) frame = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    else return this.drop('nonBinary');
    this.stats.framesIn++;
    this.stats.bytesIn += frame.byteLength;
    const r = decodeFrame(frame, this.maxFrame, this.maxMessageBytes);
    if (!r.ok) return this.drop(r.reason);
    const { header: h, payload } = r;
    const k = keyString(h);
    if (h.chunkCount === 1) return this.deliver(h, k, payload);
    let p = this.partials.get(k);
    if (h.chunkIndex === 0) {
      if (p) return this.drop('badChunk'); // a second start for a message already in progress
      p = { count: h.chunkCount, total: h.totalLength, next: 0, got: 0, msg: new Uint8Array(0) };
    } else if (!p || p.count !== h.chunkCount || p.total !== h.totalLength || p.next !== h.chunkIndex) {
      return this.drop('badChunk'); // out of order, or contradicts the chunks before it
    }
    if (p.got + payload.byteLength > p.total) return this.drop('badChunk');
    if (this.queuedBytes + payload.byteLength > this.maxQueued) {
      if (h.chunkIndex > 0) {
        this.partials.delete(k);
        this.queuedBytes -= p.got;
      }
      return this.drop('queueOverflow');
    }
    if (h.chunkIndex === 0) {
      p.msg = new Uint8Array(p.total); // [totalLength]: allocated once the first chunk passed the checks
      this.partials.set(k, p);
    }
    p.msg.set(payload, p.got); // one copy per byte, no concatenation at the end
    p.got += payload.byteLength;
    this.queuedBytes += payload.byteLength;
    p.next++;
    if (p.next < p.count) return;
    this.partials.delete(k);
    this.queuedBytes -= p.got;
    if (p.got !== p.total) return this.drop('badChunk'); // last chunk came but the lengths do not add up
    this.deliver(h, k, p.msg);
  };

  private deliver(key: MsgKey, k: string, data: Uint8Array): void {
    this.stats.messagesIn++;
    // Link-level measurement requests are answered here, so a bench needs no code on the remote side.
    if (key.tag === Tag.Ping || key.tag === Tag.Probe) {
      const reply = key.tag === Tag.Ping ? data : new Uint8Array(0);
      const tag = key.tag === Tag.Ping ? Tag.Pong : Tag.Ack;
      this.post({ tag, stream: key.stream, seq: key.seq }, reply, noop);
      return;
    }
    const list = this.waiters.get(k);
    if (list !== undefined) {
      const w = list.shift()!; // lists are deleted when emptied: never empty here
      if (list.length === 0) this.waiters.delete(k);
      w.resolve(data);
      return;
    }
    if (this.queuedBytes + data.byteLength > this.maxQueued) return this.drop('queueOverflow');
    const q = this.queues.get(k);
    if (q === undefined) this.queues.set(k, [data]);
    else q.push(data);
    this.queuedBytes += data.byteLength;
  }
}
