// A peer's full mesh of raw binary data channels to the other peers, and the group communicators
// built over it. Shared by the browser peer page and the headless Node peer (node-datachannel's
// W3C polyfill gives the same RTCDataChannel surface). The peer with the larger id dials the
// smaller one, so each pair opens exactly one connection however the roster updates interleave.
// Same-host data plane: before a pair adds its Link, both send a text hello on the new channel (binary
// messages are the Link's, text ones the hello's). Two headless Node peers of one machine (both hellos
// carry the same host key; the key and the socket come from a SameHostLinks the Node shell registered,
// see headless.node.ts and src/transport/uds-channel.node.ts) move their Link to a Unix socket, dialed by
// the larger id as here; every other pair, and a browser always (it registers nothing: hello host null),
// keeps the data channel. The WebRTC connection stays open either way: its close still drops the peer.
import type { DataConnection, Peer } from 'peerjs';
import { transfer } from 'comlink';
import { Mesh } from '../transport/mesh';
import { GroupComm } from '../collectives/group';
import type { Comm } from '../collectives/types';
import type { ChannelLike } from '../transport/channel';
import type { LinkOptions } from '../transport/link';

const LINK_WAIT_MS = 20_000; // ICE on a LAN takes ~40 ms; a peer still without a link after 20 s is not coming
/** A remote that sent no hello in this long (a build without it, or an event loop blocked by a model load)
 *  gets the data channel: we tell it so (FALLBACK), so it does not wait for our socket either. */
const HELLO_WAIT_MS = 10_000;
/** The dialer's wait for the listener's ack; the listener acks only once its own side chose the socket. */
const DIAL_WAIT_MS = 5_000;
/** A mesh connection not open after MESH_OPEN_TIMEOUTS_MS[try] is closed and dialed again, with a fresh
 *  ICE negotiation: one can stall for good with no error. Between two Node peers (node-datachannel) about 1
 *  connection in 10-20 never opened: libdatachannel refused the peer's candidates ("Got a remote candidate
 *  without ICE transport", still after 2.5 s of retries) and PeerJS dropped them; Chromium stalled a control
 *  connection the same way once in CI (peer-agent.ts retries those). ICE on a LAN takes ~40 ms, so the first
 *  try is cut short at 5 s; later ones wait longer for slow relays. Tries start at 0, 5 and 15 s (a group
 *  waits LINK_WAIT_MS, 20 s, for its links) and a last one at 35 s, for the jobs after. */
const MESH_OPEN_TIMEOUTS_MS = [5_000, 10_000, 20_000];
/** Binary frames held for a Link not yet made (see adopt): the peer's first collective messages, which it
 *  sends as soon as its own side of the handshake is done. A bound so a misbehaving peer cannot fill memory. */
const EARLY_MAX_BYTES = 16 << 20;
/** Handshake steps kept per remote peer for diagnostics() (a handshake is ~6). */
const TRAIL_MAX = 40;
const HELLO = 'tabmesh-link-hello:';
const FALLBACK = 'tabmesh-link-webrtc';

/** What a Node shell plugs in for a same-host link (UdsEndpoint implements it). Browser code only sees
 *  this interface: no node: module is reachable from here. */
export interface SameHostLinks {
  /** Equal exactly for processes that can reach each other's `address` (hostname + boot id + uid). */
  readonly hostKey: string;
  readonly address: string;
  /** Shown only to session members (over WebRTC); a dialer must present it. */
  readonly token: string;
  readonly linkOptions: LinkOptions;
  dial(address: string, token: string, timeoutMs: number): Promise<ChannelLike>;
  accept(peerId: string, signal: AbortSignal): Promise<ChannelLike>;
  /** Told which transport the link to `peerId` uses, and why (the headless peer logs it). */
  onLink?(peerId: string, kind: 'same-host' | 'webrtc', why: string): void;
}

type SameHostFactory = () => Promise<SameHostLinks>;
const sameHostFactories = new Map<string, SameHostFactory>();

/** Registers the same-host transport of the PeerMesh that peer `peerId` will build (keyed by id: two
 *  headless peers may share one process, e.g. in tests). Returns the unregister function. */
export function provideSameHostLinks(peerId: string, make: SameHostFactory): () => void {
  sameHostFactories.set(peerId, make);
  return () => {
    if (sameHostFactories.get(peerId) === make) sameHostFactories.delete(peerId);
  };
}

interface Hello {
  host: string | null;
  addr: string | null;
  token: string | null;
}

function parseHello(text: string | null): Hello | null {
  if (text === null || !text.startsWith(HELLO)) return null;
  try {
    const h = JSON.parse(text.slice(HELLO.length)) as Partial<Hello>;
    const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
    return { host: str(h.host), addr: str(h.addr), token: str(h.token) };
  } catch {
    return null;
  }
}

export class PeerMesh {
  readonly mesh: Mesh;
  private conns = new Map<string, DataConnection>();
  private members = new Set<string>();
  private waiters: (() => void)[] = [];
  private groups = new Map<string, Comm>();
  private readonly sameHost: Promise<SameHostLinks | null>;
  private readonly kinds = new Map<string, 'same-host' | 'webrtc'>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>(); // pending re-dials (see dial)
  private closed = false;
  /** Binary frames dropped because more than EARLY_MAX_BYTES arrived before the Link was made. */
  private readonly earlyDropped = new Map<string, number>();
  /** Per remote peer, the last TRAIL_MAX handshake steps with their times (ms since this mesh started). */
  private readonly trail = new Map<string, string[]>();
  private readonly t0 = performance.now();
  private note(id: string, what: string): void {
    const t = this.trail.get(id) ?? [];
    t.push(`${Math.round(performance.now() - this.t0)} ${what}`);
    if (t.length > TRAIL_MAX) t.shift(); // a peer that reconnects all day keeps only its latest handshakes
    this.trail.set(id, t);
  }

  /** helloWaitMs: how long a new connection waits for the peer's hello (HELLO_WAIT_MS; tests shorten it). */
  constructor(private readonly peer: Peer, private readonly myId: string, private readonly opts: { helloWaitMs?: number } = {}) {
    this.mesh = new Mesh(myId);
    const make = sameHostFactories.get(myId);
    // A listener that fails to start (no writable tmpdir) only means WebRTC for every link.
    this.sameHost = make ? make().catch(() => null) : Promise.resolve(null);
    // A group with a departed member is broken for good (GroupComm rejects every later call):
    // forget it so a later job over a new member list starts with fresh sequence numbers.
    this.mesh.onPeerClosed((peerId) => {
      for (const [key, comm] of this.groups) {
        if (key.split(',').includes(peerId)) {
          (comm as GroupComm).dispose();
          this.groups.delete(key);
        }
      }
    });
    peer.on('connection', (conn) => {
      if (conn.label === 'mesh') this.adopt(conn);
    });
  }

  /** The current roster: dial the peers we own the link to, and drop links to departed peers. */
  setMembers(ids: string[]): void {
    this.members = new Set(ids.filter((id) => id !== this.myId));
    for (const id of this.members) if (id < this.myId && !this.conns.has(id)) this.dial(id, 0);
    for (const [id, c] of this.conns) if (!this.members.has(id)) this.drop(id, c);
  }

  /** Dials `id`; a connection still not open after MESH_OPEN_TIMEOUTS_MS[attempt] is closed and dialed again. */
  private dial(id: string, attempt: number): void {
    if (this.closed) return;
    // PeerJS returns undefined once the peer is destroyed (a roster update racing a shutdown).
    const conn = this.peer.connect(id, { label: 'mesh', serialization: 'raw', reliable: true }) as DataConnection | undefined;
    if (!conn) return;
    this.note(id, `dial (try ${attempt + 1})`);
    this.adopt(conn);
    const wait = MESH_OPEN_TIMEOUTS_MS[attempt];
    if (wait === undefined) return; // the last try: a group waiting for it fails with "no data channel"
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed || !this.members.has(id)) return;
      const cur = this.conns.get(id);
      if (cur?.open || (cur !== undefined && cur !== conn)) return; // open, or superseded by a newer connection
      this.note(id, `not open after ${wait} ms: dialing again`);
      if (cur) this.drop(id, cur);
      this.dial(id, attempt + 1);
    }, wait);
    this.timers.add(timer);
  }

  private adopt(conn: DataConnection): void {
    const id = conn.peer;
    this.note(id, `adopt ${conn.connectionId} open=${conn.open}`);
    const old = this.conns.get(id);
    if (old && old !== conn) this.drop(id, old);
    this.conns.set(id, conn);
    // The handshake's text messages, queued from the start (PeerJS emits 'data' for every raw message).
    const texts: string[] = [];
    let wake: (() => void) | null = null;
    // Binary frames that arrive before our Link exists are held and handed to it when it is made on this
    // data channel. The peer makes its Link once it has our hello and may send at once; ours waits for
    // its hello, and a CI run showed its first collective message landing first (the Link was then
    // made without it and the collective waited out its 60 s deadline).
    let early: (ArrayBuffer | ArrayBufferView)[] = [];
    let earlyBytes = 0;
    conn.on('data', (d) => {
      if (typeof d !== 'string') {
        if (this.conns.get(id) !== conn || this.hasLink(id)) return; // a superseded connection, or the Link has it
        const n = d instanceof ArrayBuffer || ArrayBuffer.isView(d) ? d.byteLength : Infinity; // else not a frame
        if (earlyBytes + n > EARLY_MAX_BYTES) {
          this.earlyDropped.set(id, (this.earlyDropped.get(id) ?? 0) + 1);
          return;
        }
        early.push(d as ArrayBuffer | ArrayBufferView);
        earlyBytes += n;
        this.note(id, `binary before link on ${conn.connectionId} (${n} B held)`);
        return;
      }
      texts.push(d);
      this.note(id, `text ${d.slice(0, 24)} on ${conn.connectionId} waiting=${wake !== null}`);
      wake?.();
    });
    const takeEarly = (): (ArrayBuffer | ArrayBufferView)[] => {
      const e = early;
      early = [];
      earlyBytes = 0;
      return e;
    };
    const ended = new AbortController();
    const nextText = (ms: number): Promise<string | null> => new Promise((resolve) => {
      const finish = () => {
        if (timer !== undefined) clearTimeout(timer);
        ended.signal.removeEventListener('abort', finish);
        wake = null;
        resolve(texts.shift() ?? null);
      };
      if (texts.length || ended.signal.aborted) return resolve(texts.shift() ?? null);
      // No timer for an unbounded wait: a pending 24-day timer would keep a Node process alive.
      const timer = Number.isFinite(ms) ? setTimeout(finish, ms) : undefined;
      wake = finish;
      ended.signal.addEventListener('abort', finish);
    });
    const onOpen = () => {
      this.note(id, `open ${conn.connectionId}`);
      void this.linkUp(id, conn, nextText, ended.signal, takeEarly);
    };
    if (conn.open) onOpen();
    else conn.on('open', onOpen);
    const gone = () => {
      this.note(id, `closed ${conn.connectionId}`);
      ended.abort(new Error(`connection to ${id} closed`));
      this.drop(id, conn);
    };
    conn.on('close', gone);
    conn.on('error', gone);
  }

  /** Hello exchange on an open connection, then the link: a Unix socket when both peers are headless on one
   *  host, else the data channel itself. */
  private async linkUp(id: string, conn: DataConnection, nextText: (ms: number) => Promise<string | null>, ended: AbortSignal, takeEarly: () => (ArrayBuffer | ArrayBufferView)[]): Promise<void> {
    const dc = conn.dataChannel as unknown as ChannelLike & { send(d: string): void };
    const pc = conn.peerConnection as RTCPeerConnection & { sctp?: { maxMessageSize?: number } | null };
    const sh = await this.sameHost;
    const useRtc = (why: string) => this.addLink(id, conn, dc, { maxMessageSize: pc.sctp?.maxMessageSize ?? undefined }, 'webrtc', why, sh, takeEarly());
    const sendText = (t: string) => {
      try {
        dc.send(t);
      } catch {
        // closed meanwhile: 'close' drops the peer
      }
    };
    if (this.conns.get(id) !== conn) return void this.note(id, `superseded before hello ${conn.connectionId}`);
    this.note(id, `hello sent ${conn.connectionId} state=${dc.readyState}`);
    sendText(HELLO + JSON.stringify({ host: sh?.hostKey ?? null, addr: sh?.address ?? null, token: sh?.token ?? null } satisfies Hello));
    const theirs = parseHello(await nextText(this.opts.helloWaitMs ?? HELLO_WAIT_MS));
    this.note(id, `hello ${theirs ? 'got' : 'missing'} ${conn.connectionId}`);
    if (this.conns.get(id) !== conn) return void this.note(id, `superseded after hello ${conn.connectionId}`);
    if (!theirs) {
      if (sh) sendText(FALLBACK);
      return useRtc('no hello from the peer');
    }
    if (!sh || !theirs.host || !theirs.addr || !theirs.token) return useRtc(sh ? 'the peer has no same-host link' : 'same-host links off here');
    if (theirs.host !== sh.hostKey) return useRtc('another host');
    if (this.myId > id) {
      // The dialer, as for the WebRTC connection.
      try {
        const ch = await sh.dial(theirs.addr, theirs.token, DIAL_WAIT_MS);
        return this.addLink(id, conn, ch, sh.linkOptions, 'same-host', `dialed ${theirs.addr}`, sh);
      } catch (e) {
        sendText(FALLBACK);
        return useRtc(`dial failed: ${(e as Error).message}`);
      }
    }
    // The listener: the peer's socket, or its word that it stays on WebRTC (a failed dial).
    const stop = new AbortController();
    const onEnd = () => stop.abort(ended.reason);
    ended.addEventListener('abort', onEnd, { once: true });
    const [sock, text] = [sh.accept(id, stop.signal), nextText(Infinity)];
    const first = await Promise.race([sock.then((ch) => ({ ch }), () => null), text.then((t) => ({ t }))]);
    ended.removeEventListener('abort', onEnd);
    if (first && 'ch' in first) return this.addLink(id, conn, first.ch, sh.linkOptions, 'same-host', `accepted on ${sh.address}`, sh);
    stop.abort(new Error('peer chose WebRTC'));
    if (first?.t === FALLBACK) return useRtc('the peer could not dial our socket');
    if (this.conns.get(id) === conn) useRtc(`unexpected message ${String(first?.t).slice(0, 40)}`);
  }

  /** early: frames this data channel carried before the Link (webrtc only: a same-host peer sends none there). */
  private addLink(id: string, conn: DataConnection, channel: ChannelLike, opts: LinkOptions, kind: 'same-host' | 'webrtc', why: string, sh: SameHostLinks | null, early: (ArrayBuffer | ArrayBufferView)[] = []): void {
    this.note(id, `link ${kind} ${conn.connectionId} current=${this.conns.get(id) === conn}`);
    if (this.conns.get(id) !== conn) {
      if (kind === 'same-host') channel.close(); // dropped while dialing
      return;
    }
    const prev = this.mesh.link(id);
    if (prev && !prev.isClosed) prev.close();
    const link = this.mesh.addLink(id, channel, opts);
    for (const d of early) link.receive(d); // in arrival order, before any frame the Link hears itself
    this.kinds.set(id, kind);
    // A broken socket leaves the pair without a link: drop the connection too, so both sides are in the
    // same state as after a departure (the next roster update dials again).
    if (kind === 'same-host') link.onClosed(() => this.drop(id, conn));
    sh?.onLink?.(id, kind, why);
    const w = this.waiters;
    this.waiters = [];
    for (const cb of w) cb();
  }

  /** Which transport the open link to `peerId` uses (undefined: none yet). */
  transportOf(peerId: string): 'same-host' | 'webrtc' | undefined {
    return this.hasLink(peerId) ? this.kinds.get(peerId) : undefined;
  }

  private drop(id: string, conn: DataConnection): void {
    if (this.conns.get(id) !== conn) return;
    this.conns.delete(id);
    this.mesh.link(id)?.close();
    conn.close();
  }

  private hasLink(id: string): boolean {
    const l = this.mesh.link(id);
    return !!l && !l.isClosed;
  }

  /** Per remote peer: its connection and link state, the link's counters and unclaimed bytes, frames dropped
   *  for arriving before the Link beyond EARLY_MAX_BYTES, and the handshake trail (for a stalled collective's
   *  post-mortem: e2e tests print it on failure). */
  diagnostics(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const stats = this.mesh.stats();
    for (const id of new Set([...this.conns.keys(), ...this.mesh.peers])) {
      const l = this.mesh.link(id);
      const st = stats[id];
      const dropped = st ? Object.fromEntries(Object.entries(st.dropped).filter(([, n]) => n > 0)) : {};
      out[id] = {
        conn: this.conns.get(id)?.open ?? 'none', link: l ? (l.isClosed ? 'closed' : this.kinds.get(id)) : 'none',
        messagesIn: st?.messagesIn, messagesOut: st?.messagesOut, unclaimedBytes: l?.unclaimedBytes, dropped, earlyDropped: this.earlyDropped.get(id) ?? 0,
        trail: this.trail.get(id) ?? [],
      };
    }
    return out;
  }

  connected(): string[] {
    return [...this.conns.entries()].filter(([, c]) => c.open).map(([id]) => id);
  }

  /** A communicator over `group` (rank order), once links to all its members are open. `directMaxBytes`
   *  (benches only): a separate communicator with that allReduce threshold, on a stream of its own. */
  async group(group: string[], timeoutMs: number, directMaxBytes?: number): Promise<Comm> {
    const deadline = performance.now() + LINK_WAIT_MS;
    const missing = () => group.filter((id) => id !== this.myId && !this.hasLink(id));
    for (const id of missing()) this.note(id, 'a group waits for the link');
    while (missing().length) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no data channel to peer(s) ${missing().map((m) => m.slice(-12)).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.min(left, 250));
      });
    }
    // One communicator per member list, reused across jobs: every member creates and reuses it in
    // the same order, so their per-group sequence numbers stay aligned.
    const key = group.join(',') + (directMaxBytes === undefined ? '' : `|d${directMaxBytes}`);
    const known = this.groups.get(key);
    if (known) return known;
    const comm: Comm = new GroupComm(this.mesh, group, this.myId,
      directMaxBytes === undefined ? { timeoutMs } : { timeoutMs, directMaxBytes, groupId: `bench-d${directMaxBytes}` });
    this.groups.set(key, comm);
    return comm;
  }

  /**
   * The object the GPU worker holds a Comlink proxy of: results go back by transfer, not copy.
   * In the headless Node peer the GPU API runs in-process and calls this directly: transfer() only
   * records the buffer in Comlink's WeakMap then, so it costs nothing and detaches nothing.
   */
  bridge(comm: Comm): Comm {
    return {
      rank: comm.rank,
      size: comm.size,
      allReduce: async (d, wire) => {
        const r = await comm.allReduce(d, wire);
        return transfer(r, [r.buffer]);
      },
      allGather: async (d) => {
        const parts = await comm.allGather(d);
        // Parts that own their whole buffer (a message reassembled into its own buffer, our own copy) move
        // to the worker; views into a shared receive chunk (or an unaligned copy's pool) are cloned. A
        // 1024-px DistriFusion step brings 7-14 MB per peer this way, which a clone copied twice.
        const move = new Set<ArrayBuffer>();
        for (const p of parts) if (p && p.buffer instanceof ArrayBuffer && p.byteOffset === 0 && p.byteLength === p.buffer.byteLength) move.add(p.buffer);
        return transfer(parts, [...move]);
      },
      broadcast: async (d, root) => comm.broadcast(d, root),
    };
  }

  closeAll(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const [id, c] of this.conns) this.drop(id, c);
  }
}
