// Mesh: this peer's Links, one per remote peer (a full mesh: every pair of peers has its own channel).
// Routing is by peer id; matching within a link is by (tag, stream, seq). Streams are claimed by their user
// (a collective group) so two local users can never consume each other's messages.
import type { ChannelLike } from './channel';
import type { MsgKey } from './frame';
import { Link, LinkClosedError, type LinkOptions, type LinkStats, type RecvWaiter, type SendDone } from './link';

/** Stream 0 belongs to link-level measurement (bench.ts); groups never get it. */
export const CONTROL_STREAM = 0;

export class Mesh {
  private readonly links = new Map<string, Link>();
  private readonly streams = new Map<number, string>(); // stream -> owner description
  private readonly closeListeners = new Set<(peerId: string, err: LinkClosedError) => void>();

  constructor(
    readonly myPeerId: string,
    private readonly linkDefaults: LinkOptions = {},
  ) {}

  /** Wraps `channel` (already created by the page, open or still connecting) as the link to `peerId`.
   *  A peer may be re-added only after its previous link closed. */
  addLink(peerId: string, channel: ChannelLike, opts: LinkOptions = {}): Link {
    if (peerId === this.myPeerId) throw new Error(`Mesh ${this.myPeerId}: cannot link to itself`);
    const old = this.links.get(peerId);
    if (old && !old.isClosed) throw new Error(`Mesh ${this.myPeerId}: already linked to ${peerId}`);
    const link = new Link(peerId, channel, { ...this.linkDefaults, ...opts });
    this.links.set(peerId, link);
    link.onClosed((err) => {
      for (const cb of this.closeListeners) cb(peerId, err);
    });
    return link;
  }

  /** The link to `peerId`, or undefined if never added. */
  link(peerId: string): Link | undefined {
    return this.links.get(peerId);
  }

  get peers(): string[] {
    return [...this.links.keys()];
  }

  send(peerId: string, key: MsgKey, data: Uint8Array): Promise<void> {
    const l = this.links.get(peerId);
    if (!l) return Promise.reject(new LinkClosedError(peerId, `no link to ${peerId}`));
    return l.send(key, data);
  }

  recv(peerId: string, key: MsgKey, signal?: AbortSignal): Promise<Uint8Array> {
    const l = this.links.get(peerId);
    if (!l) return Promise.reject(new LinkClosedError(peerId, `no link to ${peerId}`));
    return l.recv(key, signal);
  }

  /** Link.post on the link to `peerId` (a LinkClosedError through `done` when there is none). */
  post(peerId: string, key: MsgKey, data: Uint8Array, done: SendDone): void {
    const l = this.links.get(peerId);
    if (!l) return done(new LinkClosedError(peerId, `no link to ${peerId}`));
    l.post(key, data, done);
  }

  /** Link.recvInto on the link to `peerId` (`w` fails at once when there is none). */
  recvInto(peerId: string, key: MsgKey, w: RecvWaiter): void {
    const l = this.links.get(peerId);
    if (!l) return w.reject(new LinkClosedError(peerId, `no link to ${peerId}`));
    l.recvInto(key, w);
  }

  /** Link.cancelRecv on the link to `peerId`. */
  cancelRecv(peerId: string, key: MsgKey, w: RecvWaiter): boolean {
    return this.links.get(peerId)?.cancelRecv(key, w) ?? false;
  }

  /** `cb(peerId)` whenever one of the links closes. Returns an unsubscribe function. */
  onPeerClosed(cb: (peerId: string, err: LinkClosedError) => void): () => void {
    this.closeListeners.add(cb);
    return () => this.closeListeners.delete(cb);
  }

  /** Reserves a stream id for one local user; throws if taken (e.g. two groups whose ids hash alike). */
  claimStream(stream: number, owner: string): void {
    const s = stream >>> 0;
    if (s === CONTROL_STREAM) throw new Error(`stream ${CONTROL_STREAM} is reserved for link control`);
    const prev = this.streams.get(s);
    if (prev !== undefined) throw new Error(`stream ${s} already claimed by ${prev} (wanted by ${owner})`);
    this.streams.set(s, owner);
  }

  /** Frees the stream id and drops its unclaimed messages on every link. */
  releaseStream(stream: number): void {
    this.streams.delete(stream >>> 0);
    for (const l of this.links.values()) l.discardStream(stream);
  }

  stats(): Record<string, LinkStats> {
    const out: Record<string, LinkStats> = {};
    for (const [p, l] of this.links) out[p] = l.stats;
    return out;
  }

  close(): void {
    for (const l of this.links.values()) l.close();
  }
}
