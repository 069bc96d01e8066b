// The same-host data plane of headless Node peers: a ChannelLike over a Unix domain socket (node:net), and
// the endpoint each peer process listens on. Why: between two processes of one machine, WebRTC costs a
// DTLS+SCTP stack per message inside libdatachannel (measured on 4 H100s: ~0.15 ms per synchronous send
// and ~40 MB/s bulk), where a Unix socket is one writev/read pair through the kernel (µs, GB/s). NCCL makes
// the same choice (shared memory / P2P inside a host, the network across hosts). Browsers cannot open
// sockets and peers on other hosts cannot reach ours, so they keep WebRTC; src/session/peer-mesh.ts picks
// per pair after a hello over the WebRTC connection (which stays open for control and departure).
//
// Wire format on the socket: messages as [u32 little-endian length][length bytes], nothing else. The
// bytes are whole Link frames (src/transport/frame.ts), so the Link validates them exactly as it does
// WebRTC messages (bad magic / version / tag / chunking are dropped and counted in LinkStats.dropped).
// Before the first frame the dialer sends one such message with a JSON hello (its peer id and the
// listener's token) and waits for the listener's JSON ack; see UdsEndpoint.
import net from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChannelLike, ChannelMessageEvent } from './channel';
import { HEADER_BYTES, writeHeader, type FrameHeader } from './frame';
import type { FrameWriter, LinkOptions } from './link';

/** Largest message either side accepts. A Link over this channel sends a bulk tensor (a 7B prefill
 *  all-reduce is 128 x 4096 x 4 = 2 MiB, a ring segment less) as one frame instead of 64 KiB SCTP-sized
 *  pieces: one header, one copy on each side, no reassembly. 16 MiB bounds what a bogus length prefix can
 *  make us allocate. */
export const UDS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** The dialer's hello and the listener's ack are tiny JSON objects; anything longer is not ours. */
const HANDSHAKE_MAX_BYTES = 4096;
const LEN_BYTES = 4;
/** A frame whose payload is at least this big is flushed to the socket at once instead of at the end of
 *  the tick: batching only pays for small frames, and a bulk tensor should be on its way before the caller
 *  goes on with synchronous work (llama.ts encodes the next GPU segment right after the all-reduce starts). */
const FLUSH_NOW_BYTES = 64 * 1024;
/** A frame with at most this much payload goes out as one buffer: prefix, header and a copy of the payload
 *  (a 16 KiB memcpy is ~1 µs, less than the cork + writev of two buffers; see sendFrame). */
const COPY_MAX_BYTES = 16 * 1024;
/** A message lying whole in one socket read is delivered as a view of that read's memory (no allocation, no
 *  copy) when it fills at least this share of it; a smaller one is copied out, so that a queued small
 *  message cannot keep a 64 KiB read buffer alive (the Link's queue accounting counts message bytes). */
const VIEW_MIN_SHARE = 0.5;

/** Link options for a UDS channel: frames up to the channel's limit, and a high-water mark that lets one
 *  whole frame queue (the socket's user-space buffer is only emptied by 'drain', see bufferedAmount). */
export function udsLinkOptions(maxMessageSize = UDS_MAX_MESSAGE_BYTES): LinkOptions {
  return { maxMessageSize, frameBytes: maxMessageSize, highWaterBytes: maxMessageSize };
}

type Listener = (() => void) | ((ev: ChannelMessageEvent) => void);

/**
 * RTCDataChannel semantics over a connected net.Socket: ordered, reliable messages with a size limit,
 * readyState, bufferedAmount (the socket's writableLength: bytes accepted by send() that the kernel has
 * not taken yet) and 'bufferedamountlow' (on 'drain', when that falls to the threshold from above).
 */
export class UdsChannel implements ChannelLike, FrameWriter {
  readyState: 'connecting' | 'open' | 'closing' | 'closed';
  bufferedAmountLowThreshold = 0;
  binaryType = 'arraybuffer'; // messages: ArrayBuffers or views of a read (see onData); the Link takes both
  readonly maxMessageSize: number;
  /** Why the channel closed, when not by close() or a clean end from the other side. */
  closeReason: string | null = null;
  private readonly listeners = new Map<string, Listener[]>(); // replaced, never mutated: emit needs no copy
  private readonly head = Buffer.alloc(LEN_BYTES); // a length prefix split across reads
  private headLen = 0;
  private cur: Uint8Array | null = null; // [message bytes] being filled
  private got = 0;
  private corked = false;
  private wroteThisTick = false; // a frame went out uncorked in this tick: later ones cork (see sendFrame)
  private aboveLow = false;
  private reading = false;
  private leftover: Buffer | null;

  /** `socket` must be connected. `leftover`: bytes already read past the handshake. Reading starts with the
   *  first 'message' listener, so nothing that arrives before the Link exists is lost. */
  constructor(
    private readonly socket: net.Socket,
    opts: { maxMessageSize?: number; leftover?: Buffer } = {},
  ) {
    this.maxMessageSize = opts.maxMessageSize ?? UDS_MAX_MESSAGE_BYTES;
    this.readyState = socket.destroyed ? 'closed' : 'open';
    socket.pause();
    socket.setNoDelay?.(true); // no-op on Unix sockets; keeps the class honest if handed a TCP socket
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('error', (e) => (this.closeReason ??= e.message));
    socket.on('close', this.onSocketClose);
    this.leftover = opts.leftover?.length ? opts.leftover : null; // parsed with the first reads, see addEventListener
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  send(data: ArrayBuffer): void {
    this.checkSend(data.byteLength);
    const head = Buffer.allocUnsafe(LEN_BYTES); // [4]
    head.writeUInt32LE(data.byteLength, 0);
    this.write(head, new Uint8Array(data)); // a view: no copy (the Link never reuses a sent frame)
  }

  /** What the Link uses instead of send() (FrameWriter). A small frame is one fresh buffer [len][header]
   *  [copy of payload], written at once: one syscall, `done` called before returning (the payload is no
   *  longer read). A bigger one is [len][header] as one small buffer and the payload as a view of the
   *  caller's memory, gathered by one writev, so a bulk tensor is never copied in user space on its way out;
   *  `done` runs once the socket has handed the payload to the kernel. */
  sendFrame(h: FrameHeader, payload: Uint8Array, done: (err?: Error | null) => void): void {
    const n = HEADER_BYTES + payload.byteLength;
    this.checkSend(n);
    if (payload.byteLength <= COPY_MAX_BYTES) {
      const buf = Buffer.allocUnsafe(LEN_BYTES + n); // [4 + 24 + payload]
      buf.writeUInt32LE(n, 0);
      writeHeader(buf, LEN_BYTES, h);
      buf.set(payload, LEN_BYTES + HEADER_BYTES);
      this.write(buf, null);
      return done(null);
    }
    const head = Buffer.allocUnsafe(LEN_BYTES + HEADER_BYTES); // [4 + 24]
    head.writeUInt32LE(n, 0);
    writeHeader(head, LEN_BYTES, h);
    // Node calls a write's callback without an error when the socket was destroyed meanwhile: whether the
    // bytes left is unknown then, so that counts as a failure (the link is dead either way).
    this.write(head, payload, (err) => done(err ?? (this.socket.destroyed ? new Error('socket destroyed before the frame was written') : null)));
  }

  private checkSend(n: number): void {
    if (this.readyState !== 'open') throw new Error(`UdsChannel.send: channel is ${this.readyState}`);
    // As RTCDataChannel.send throws for a message above pc.sctp.maxMessageSize.
    if (n > this.maxMessageSize) throw new TypeError(`UdsChannel.send: message of ${n} bytes exceeds maxMessageSize ${this.maxMessageSize}`);
  }

  /** Writes `head` then `payload` (null: `head` is the whole message). The first message of a tick goes out
   *  at once (one write syscall: the latency-critical case is a lone small frame); from the second on, the
   *  socket is corked until the end of the tick, so a burst of frames (the Link's pump emitting several in
   *  one synchronous loop) leaves in one writev instead of one syscall each. A bulk payload uncorks at once:
   *  batching only pays for small frames, and a tensor should be on its way before the caller goes on with
   *  synchronous work (llama.ts encodes the next GPU segment right after the all-reduce starts). */
  private write(head: Buffer, payload: Uint8Array | null, cb?: (err?: Error | null) => void): void {
    if (!this.wroteThisTick && payload === null) {
      this.wroteThisTick = true;
      process.nextTick(this.endTick);
      this.socket.write(head, cb);
    } else {
      this.cork();
      if (payload === null || payload.byteLength === 0) this.socket.write(head, cb);
      else {
        this.socket.write(head);
        this.socket.write(payload, cb);
        if (payload.byteLength >= FLUSH_NOW_BYTES) this.uncork();
      }
    }
    if (this.socket.writableLength > this.bufferedAmountLowThreshold) this.aboveLow = true;
  }

  /** Cork until the end of this tick (see write). */
  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    if (!this.wroteThisTick) {
      this.wroteThisTick = true;
      process.nextTick(this.endTick);
    }
  }

  addEventListener(type: string, listener: Listener): void {
    const list = this.listeners.get(type) ?? [];
    if (!list.includes(listener)) this.listeners.set(type, [...list, listener]);
    if (type === 'message' && !this.reading && this.readyState === 'open') {
      this.reading = true;
      const rest = this.leftover;
      this.leftover = null;
      // Deferred: the listener is being added inside the Link's constructor. The socket resumes only
      // after, so these bytes (read with the handshake) stay ahead of everything the socket reads next.
      queueMicrotask(() => {
        if (rest) this.onData(rest);
        this.socket.resume();
      });
    }
  }

  removeEventListener(type: string, listener: Listener): void {
    const list = this.listeners.get(type);
    if (list?.includes(listener)) this.listeners.set(type, list.filter((l) => l !== listener));
  }

  /** Flushes what send() queued, then closes; the other side sees its channel close ('end'). */
  close(): void {
    if (this.readyState === 'closing' || this.readyState === 'closed') return;
    this.readyState = 'closing';
    this.uncork();
    this.socket.end();
    // A peer that never reads would keep the socket (and our 'close') pending forever.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  private emit(type: string, ev?: ChannelMessageEvent): void {
    const list = this.listeners.get(type);
    if (list) for (const l of list) (l as (e?: ChannelMessageEvent) => void)(ev);
  }

  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };

  private readonly endTick = (): void => {
    this.wroteThisTick = false;
    this.uncork();
  };

  private readonly onDrain = (): void => {
    if (this.aboveLow && this.socket.writableLength <= this.bufferedAmountLowThreshold) {
      this.aboveLow = false;
      this.emit('bufferedamountlow');
    }
  };

  private readonly onSocketClose = (): void => {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.cur = null;
    this.emit('close');
  };

  /** A stream that violates the framing cannot be resynchronised: close it, saying why. */
  private fail(reason: string): void {
    this.closeReason = reason;
    this.readyState = 'closing';
    this.socket.destroy(); // 'close' follows, which shuts the Link down (pending calls: LinkClosedError)
  }

  /** Splits the byte stream into messages. A message whole inside this read is delivered as a view of it
   *  (see VIEW_MIN_SHARE); one spread over reads is copied piece by piece into its final buffer, allocated
   *  once its length prefix is known (no concatenation). Each read is a fresh buffer Node never reuses, and
   *  every message gets its own bytes, so a receiver may modify what it gets (GroupComm sums in place). */
  private readonly onData = (chunk: Buffer): void => {
    let off = 0;
    const len = chunk.length;
    while (off < len && this.readyState === 'open') {
      if (this.cur === null) {
        let n: number;
        if (this.headLen === 0 && len - off >= LEN_BYTES) {
          n = chunk.readUInt32LE(off);
          off += LEN_BYTES;
        } else {
          const take = Math.min(LEN_BYTES - this.headLen, len - off);
          chunk.copy(this.head, this.headLen, off, off + take);
          this.headLen += take;
          off += take;
          if (this.headLen < LEN_BYTES) return;
          this.headLen = 0;
          n = this.head.readUInt32LE(0);
        }
        // Refused before allocating: on WebRTC the Link drops such a frame ('oversizedFrame'); on a byte
        // stream skipping it would mean trusting the length of a sender that already broke the protocol.
        if (n > this.maxMessageSize) return this.fail(`UdsChannel: incoming message of ${n} bytes exceeds maxMessageSize ${this.maxMessageSize}`);
        if (n <= len - off && n >= chunk.buffer.byteLength * VIEW_MIN_SHARE) {
          const msg = new Uint8Array(chunk.buffer, chunk.byteOffset + off, n); // [n] view of this read
          off += n;
          this.emit('message', { data: msg });
          continue;
        }
        // [n] a fresh buffer per message. Not zero-filled (that alone costs ~0.3 ms per MiB here): it is
        // delivered only once every byte has been copied in below.
        this.cur = Buffer.allocUnsafeSlow(n);
        this.got = 0;
      }
      const take = Math.min(this.cur.length - this.got, len - off);
      this.cur.set(chunk.subarray(off, off + take), this.got);
      this.got += take;
      off += take;
      if (this.got < this.cur.length) return;
      const msg = this.cur;
      this.cur = null;
      this.emit('message', { data: msg.buffer }); // allocUnsafeSlow: an ArrayBuffer of exactly n bytes
    }
  };
}

// ---- the endpoint: one listening socket per peer, dialing, and the hello/ack handshake ----

/** Equal for two processes exactly when a Unix socket path can be shared: same machine (hostname and this
 *  boot's id: containers share the boot id but usually not the hostname) and same user (the socket is
 *  mode 0600). A false match only costs a failed dial, after which the pair falls back to WebRTC. */
export function localHostKey(): string {
  let boot = '';
  try {
    boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // not Linux: the hostname alone, a wrong guess is caught by the dial
  }
  return `${os.hostname()}/${boot}/${process.getuid?.() ?? ''}`;
}

/** The socket path of `peerId` in `dir`: named after the peer (ids are PeerJS-safe: [A-Za-z0-9_-]), or
 *  after its random tail when that would exceed sun_path's 108 bytes. */
export function socketPathFor(peerId: string, dir = os.tmpdir()): string {
  const safe = peerId.replace(/[^A-Za-z0-9_-]/g, '_');
  const p = path.join(dir, `tabmesh-${safe}.sock`);
  return Buffer.byteLength(p) <= 100 ? p : path.join(dir, `tm-${safe.slice(-16)}.sock`);
}

/** Reads one [u32 len][JSON] message from `socket`, then stops reading; resolves with it and the rest. */
function readHandshake(socket: net.Socket, timeoutMs: number): Promise<{ msg: Record<string, unknown>; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, v?: { msg: Record<string, unknown>; rest: Buffer }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(v!);
    };
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length < LEN_BYTES) return;
      const n = buf.readUInt32LE(0);
      if (n > HANDSHAKE_MAX_BYTES) return done(new Error(`handshake message of ${n} bytes`));
      if (buf.length < LEN_BYTES + n) return;
      try {
        const msg = JSON.parse(buf.subarray(LEN_BYTES, LEN_BYTES + n).toString('utf8')) as Record<string, unknown>;
        done(null, { msg, rest: buf.subarray(LEN_BYTES + n) });
      } catch {
        done(new Error('handshake message is not JSON'));
      }
    };
    const onClose = () => done(new Error('socket closed during the handshake'));
    const timer = setTimeout(() => done(new Error(`no handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.resume();
  });
}

function writeHandshake(socket: net.Socket, msg: Record<string, unknown>): void {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const len = Buffer.allocUnsafe(LEN_BYTES);
  len.writeUInt32LE(body.length, 0);
  socket.write(Buffer.concat([len, body]));
}

export interface UdsEndpointOptions {
  dir?: string; // default os.tmpdir()
  maxMessageSize?: number;
  /** Time a dialed-in socket may take to send its hello. */
  helloTimeoutMs?: number;
}

interface Pending {
  socket: net.Socket;
  rest: Buffer;
}

/**
 * One peer's same-host endpoint: listens on socketPathFor(peerId), accepts dialers that present its token,
 * and dials others. The listener acks a dialer only once its own side asks for that peer (accept()), so
 * a dial succeeds only when both sides will use the socket; else the dialer times out and both keep
 * WebRTC. Satisfies src/session/peer-mesh.ts's SameHostLinks structurally.
 */
export class UdsEndpoint {
  readonly hostKey = localHostKey();
  /** Whoever presents it was told over the session's WebRTC mesh: other local users cannot pose as peers. */
  readonly token = randomBytes(16).toString('hex');
  readonly linkOptions: LinkOptions;
  /** Told which transport each mesh link took (PeerMesh calls it; the headless peer logs it). */
  onLink?: (peerId: string, kind: 'same-host' | 'webrtc', why: string) => void;
  private readonly pending = new Map<string, Pending>(); // peer id -> dialed in, not yet claimed
  private readonly claims = new Map<string, (p: Pending) => void>();
  private readonly maxMessageSize: number;
  private closed = false;
  private readonly onExit = () => this.close();

  private constructor(
    readonly peerId: string,
    readonly address: string,
    private readonly server: net.Server,
    opts: UdsEndpointOptions,
  ) {
    this.maxMessageSize = opts.maxMessageSize ?? UDS_MAX_MESSAGE_BYTES;
    this.linkOptions = udsLinkOptions(this.maxMessageSize);
    const helloMs = opts.helloTimeoutMs ?? 10_000;
    server.on('connection', (socket) => {
      socket.on('error', () => undefined); // 'close' follows; a dialer that vanished is not our error
      readHandshake(socket, helloMs).then(({ msg, rest }) => {
        if (msg.token !== this.token || typeof msg.id !== 'string' || this.closed) return void socket.destroy();
        const p: Pending = { socket, rest };
        const claim = this.claims.get(msg.id);
        if (claim) {
          this.claims.delete(msg.id);
          return claim(p);
        }
        this.pending.get(msg.id)?.socket.destroy(); // an older dial from the same peer is stale
        this.pending.set(msg.id, p);
        socket.once('close', () => this.pending.get(msg.id as string) === p && this.pending.delete(msg.id as string));
      }, () => socket.destroy());
    });
  }

  /** Listens on socketPathFor(peerId, dir) with mode 0600; removes a stale file of a crashed process. */
  static async listen(peerId: string, opts: UdsEndpointOptions = {}): Promise<UdsEndpoint> {
    const address = socketPathFor(peerId, opts.dir);
    try {
      fs.unlinkSync(address);
    } catch {
      // usually absent
    }
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(address, () => resolve()));
    fs.chmodSync(address, 0o600);
    const ep = new UdsEndpoint(peerId, address, server, opts);
    // Node removes the socket file on server.close(); an exiting process should not leave it behind either.
    process.once('exit', ep.onExit);
    return ep;
  }

  /** Dials the peer listening at `address` and introduces us with its `token`; resolves once it acked. */
  async dial(address: string, token: string, timeoutMs: number): Promise<UdsChannel> {
    const socket = net.createConnection(address);
    socket.on('error', () => undefined); // reported through the promise below / the channel's 'close'
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      writeHandshake(socket, { v: 1, id: this.peerId, token });
      const { msg, rest } = await readHandshake(socket, timeoutMs);
      if (msg.ok !== true) throw new Error(`refused: ${JSON.stringify(msg)}`);
      return new UdsChannel(socket, { maxMessageSize: this.maxMessageSize, leftover: rest });
    } catch (e) {
      socket.destroy();
      throw e;
    }
  }

  /** The socket `peerId` dialed in with (now or later), acked; rejects with signal.reason on abort. */
  accept(peerId: string, signal: AbortSignal): Promise<UdsChannel> {
    const open = (p: Pending): UdsChannel => {
      writeHandshake(p.socket, { ok: true });
      return new UdsChannel(p.socket, { maxMessageSize: this.maxMessageSize, leftover: p.rest });
    };
    const p = this.pending.get(peerId);
    if (p && !p.socket.destroyed) {
      this.pending.delete(peerId);
      return Promise.resolve(open(p));
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const claim = (q: Pending) => {
        signal.removeEventListener('abort', onAbort);
        resolve(open(q));
      };
      const onAbort = () => {
        if (this.claims.get(peerId) === claim) this.claims.delete(peerId);
        reject(signal.reason);
      };
      this.claims.set(peerId, claim);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops listening (removing the socket file) and drops unclaimed dial-ins. Open channels stay open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.onExit);
    for (const p of this.pending.values()) p.socket.destroy();
    this.pending.clear();
    this.server.close();
    try {
      fs.unlinkSync(this.address);
    } catch {
      // already removed by server.close()
    }
  }
}
