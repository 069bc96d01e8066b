// A peer's full mesh of raw binary data channels to the other peers, and the group communicators
// built over it. Shared by the browser peer page and the headless Node peer (node-datachannel's
// W3C polyfill gives the same RTCDataChannel surface). The peer with the larger id dials the
// smaller one, so each pair opens exactly one connection however the roster updates interleave.
import type { DataConnection, Peer } from 'peerjs';
import { transfer } from 'comlink';
import { Mesh } from '../transport/mesh';
import { GroupComm } from '../collectives/group';
import type { Comm } from '../collectives/types';
import type { ChannelLike } from '../transport/channel';

const LINK_WAIT_MS = 20_000; // ICE on a LAN takes ~40 ms; a peer still without a link after 20 s is not coming

export class PeerMesh {
  readonly mesh: Mesh;
  private conns = new Map<string, DataConnection>();
  private members = new Set<string>();
  private waiters: (() => void)[] = [];
  private groups = new Map<string, Comm>();

  constructor(private readonly peer: Peer, private readonly myId: string) {
    this.mesh = new Mesh(myId);
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
    for (const id of this.members) {
      if (id < this.myId && !this.conns.has(id)) {
        this.adopt(this.peer.connect(id, { label: 'mesh', serialization: 'raw', reliable: true }));
      }
    }
    for (const [id, c] of this.conns) if (!this.members.has(id)) this.drop(id, c);
  }

  private adopt(conn: DataConnection): void {
    const id = conn.peer;
    const old = this.conns.get(id);
    if (old && old !== conn) this.drop(id, old);
    this.conns.set(id, conn);
    const onOpen = () => {
      const pc = conn.peerConnection as RTCPeerConnection & { sctp?: { maxMessageSize?: number } | null };
      const channel = conn.dataChannel as unknown as ChannelLike;
      const prev = this.mesh.link(id);
      if (prev && !prev.isClosed) prev.close();
      this.mesh.addLink(id, channel, { maxMessageSize: pc.sctp?.maxMessageSize ?? undefined });
      const w = this.waiters;
      this.waiters = [];
      for (const cb of w) cb();
    };
    if (conn.open) onOpen();
    else conn.on('open', onOpen);
    conn.on('close', () => this.drop(id, conn));
    conn.on('error', () => this.drop(id, conn));
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

  connected(): string[] {
    return [...this.conns.entries()].filter(([, c]) => c.open).map(([id]) => id);
  }

  /** A communicator over `group` (rank order), once links to all its members are open. */
  async group(group: string[], timeoutMs: number): Promise<Comm> {
    const deadline = performance.now() + LINK_WAIT_MS;
    const missing = () => group.filter((id) => id !== this.myId && !this.hasLink(id));
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
    const key = group.join(',');
    const known = this.groups.get(key);
    if (known) return known;
    const comm: Comm = new GroupComm(this.mesh, group, this.myId, { timeoutMs });
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
      allReduce: async (d) => {
        const r = await comm.allReduce(d);
        return transfer(r, [r.buffer]);
      },
      allGather: async (d) => comm.allGather(d),
      broadcast: async (d, root) => comm.broadcast(d, root),
    };
  }

  closeAll(): void {
    for (const [id, c] of this.conns) this.drop(id, c);
  }
}
