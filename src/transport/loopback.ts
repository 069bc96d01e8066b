// In-memory ChannelLike pairs for unit tests (and for running several "peers" in one page). They behave like
// RTCDataChannel where it matters to a Link: send() throws above maxMessageSize or when the send buffer is
// over its hard limit (Chromium refuses beyond ~16 MiB), bufferedAmount grows on send and drains at a
// simulated bandwidth per macrotask, 'bufferedamountlow' fires when it falls to the threshold, delivery is
// ordered and asynchronous, and close() closes both ends.
import type { ChannelLike, ChannelMessageEvent } from './channel';
import { Mesh } from './mesh';
import type { LinkOptions } from './link';

export interface LoopbackChannelOptions {
  /** Largest send(). Small by default so tests exercise chunking with small data. */
  maxMessageSize?: number;
  /** Bytes delivered per macrotask: the simulated bandwidth. Lower makes bufferedAmount (and so
   *  back-pressure) grow sooner. */
  bytesPerTick?: number;
  /** send() throws once bufferedAmount would exceed this (Chromium: ~16 MiB). */
  maxBufferedAmount?: number;
}

export const LOOPBACK_DEFAULTS: Required<LoopbackChannelOptions> = {
  maxMessageSize: 1024, // 1000 bytes of payload per frame: a few hundred floats already span several frames
  bytesPerTick: 256 * 1024,
  maxBufferedAmount: 16 * 1024 * 1024,
};

type Listener = (ev: ChannelMessageEvent) => void;

export class LoopbackChannel implements ChannelLike {
  readyState = 'open';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  binaryType = 'arraybuffer';
  readonly maxMessageSize: number;
  /** Highest bufferedAmount ever reached: tests check back-pressure with it. */
  peakBufferedAmount = 0;
  peer: LoopbackChannel | null = null;
  private readonly opts: Required<LoopbackChannelOptions>;
  private readonly outbox: ArrayBuffer[] = [];
  private scheduled = false;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(opts: LoopbackChannelOptions = {}) {
    this.opts = { ...LOOPBACK_DEFAULTS, ...opts };
    this.maxMessageSize = this.opts.maxMessageSize;
  }

  send(data: ArrayBuffer): void {
    if (this.readyState !== 'open') throw new Error(`InvalidStateError: channel is ${this.readyState}`);
    if (data.byteLength > this.maxMessageSize) {
      throw new TypeError(`message of ${data.byteLength} bytes exceeds maxMessageSize ${this.maxMessageSize}`);
    }
    if (this.bufferedAmount + data.byteLength > this.opts.maxBufferedAmount) {
      throw new Error('OperationError: send queue is full');
    }
    this.outbox.push(data.slice(0)); // the caller may reuse its buffer, as with a real channel
    this.bufferedAmount += data.byteLength;
    this.peakBufferedAmount = Math.max(this.peakBufferedAmount, this.bufferedAmount);
    this.schedule();
  }

  /** Test hook: makes the other end receive `data` as it is (any type, any size), bypassing the checks. */
  injectToPeer(data: unknown): void {
    const p = this.peer;
    if (p) setTimeout(() => p.dispatch('message', { data }), 0);
  }

  addEventListener(type: string, listener: Listener): void {
    let s = this.listeners.get(type);
    if (!s) this.listeners.set(type, (s = new Set()));
    s.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    for (const c of [this, this.peer]) {
      if (!c || c.readyState === 'closed') continue;
      c.readyState = 'closed';
      c.outbox.length = 0;
      c.bufferedAmount = 0;
      setTimeout(() => c.dispatch('close', { data: undefined }), 0);
    }
  }

  private dispatch(type: string, ev: ChannelMessageEvent): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) l(ev);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.drain(), 0); // a macrotask, so a sender looping synchronously really fills up
  }

  private drain(): void {
    this.scheduled = false;
    let budget = this.opts.bytesPerTick;
    while (this.outbox.length > 0 && budget > 0 && this.readyState === 'open') {
      const msg = this.outbox.shift()!;
      budget -= msg.byteLength;
      const before = this.bufferedAmount;
      this.bufferedAmount -= msg.byteLength;
      if (this.peer && this.peer.readyState === 'open') this.peer.dispatch('message', { data: msg });
      if (before > this.bufferedAmountLowThreshold && this.bufferedAmount <= this.bufferedAmountLowThreshold) {
        this.dispatch('bufferedamountlow', { data: undefined });
      }
    }
    if (this.outbox.length > 0) this.schedule();
  }
}

/** Two connected ends: what one sends, the other receives. */
export function loopbackChannelPair(opts: LoopbackChannelOptions = {}): [LoopbackChannel, LoopbackChannel] {
  const a = new LoopbackChannel(opts);
  const b = new LoopbackChannel(opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export interface LoopbackMeshOptions {
  channel?: LoopbackChannelOptions;
  link?: LinkOptions;
}

export interface LoopbackMeshes {
  meshes: Mesh[]; // meshes[i] belongs to peerIds[i]
  /** The channel end that peer `from` holds towards peer `to` (tests inject frames or close it). */
  channel(from: string, to: string): LoopbackChannel;
}

/** A full mesh of loopback channels between `peerIds`, one Mesh per peer. */
export function loopbackMeshes(peerIds: string[], opts: LoopbackMeshOptions = {}): LoopbackMeshes {
  const meshes = peerIds.map((id) => new Mesh(id, opts.link));
  const ends = new Map<string, LoopbackChannel>();
  for (let i = 0; i < peerIds.length; i++) {
    for (let j = i + 1; j < peerIds.length; j++) {
      const [a, b] = loopbackChannelPair(opts.channel);
      meshes[i].addLink(peerIds[j], a);
      meshes[j].addLink(peerIds[i], b);
      ends.set(`${peerIds[i]}\n${peerIds[j]}`, a);
      ends.set(`${peerIds[j]}\n${peerIds[i]}`, b);
    }
  }
  return {
    meshes,
    channel(from, to) {
      const c = ends.get(`${from}\n${to}`);
      if (!c) throw new Error(`no loopback channel ${from} -> ${to}`);
      return c;
    },
  };
}
