// Collectives over one explicit group of peers, on top of a Mesh. Every member calls the same collectives in
// the same order; each call takes the group's next sequence number, and its messages are keyed by
// (group stream, seq, step), so several calls may be outstanding at once and messages may arrive early.
// Results are bitwise identical on every rank: direct allReduce sums in rank order 0..n-1 everywhere; ring
// allReduce has each segment summed by one owner and then copied to everyone; the rest only copy bytes.
import type { Comm } from './types';
import { CollectiveError } from './errors';
import { Tag } from '../transport/frame';
import { LinkClosedError } from '../transport/link';
import type { Mesh } from '../transport/mesh';

/** allReduce payloads up to this many bytes use one direct round (everyone sends everything to everyone);
 *  bigger ones use ring reduce-scatter + all-gather. Direct: 1 RTT, (n-1)*V bytes out per rank. Ring:
 *  2(n-1) dependent steps, 2(n-1)/n*V bytes. With BROWSER.md's numbers (RTT ~0.5 ms, ~45 MiB/s, so
 *  ~24 KB in flight per RTT) the two cost the same at V ~ (2n-3)*RTT*B / ((n-1)(1-2/n)): ~105 KB for n=3,
 *  ~80 KB for n=4, ~60 KB for n=8. 64 KiB is at that crossover; measure with bench.ts and pass
 *  `directMaxBytes` to tune. With n <= 2 the ring moves as many bytes as direct in more steps: always direct. */
export const DIRECT_MAX_BYTES = 64 * 1024;
/** Default deadline of one collective. Long enough for a slow peer mid-step (a phone, a big matmul on a
 *  software adapter), short enough that a vanished peer is reported. Before the first collective after model
 *  loading, call barrier() with a longer deadline: peers finish loading at very different times. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** seq packs (call sequence << 8 | step): a ring allReduce needs 2(n-1) steps, which must fit in 8 bits. */
export const MAX_GROUP_SIZE = 128;
const SEQ_MASK = 0xffffff; // call sequence wraps after 16M calls; no message lives that long

export interface GroupCommOptions {
  timeoutMs?: number;
  /** Distinguishes groups with the same members (e.g. 'tp' and 'df'); every member must pass the same. */
  groupId?: string;
  directMaxBytes?: number;
}

/** The stream id of a group: FNV-1a of its id and member list, never 0 (reserved for link control). */
export function groupStream(groupId: string, members: readonly string[]): number {
  const s = `${groupId}\u0000${members.join('\u0000')}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** Even split of `len` items into n parts: part c is [b[c], b[c+1]). Parts differ by at most one item. */
export function splitBounds(len: number, n: number): number[] {
  const b: number[] = [];
  for (let c = 0; c <= n; c++) b.push(Math.floor((c * len) / n));
  return b;
}

/** acc += v element-wise, in a small monomorphic function V8 optimizes once for every caller. Still the
 *  largest CPU cost of a 1 MiB allReduce (~1 ms per MiB on the 2-core test machine: f32 -> f64 -> f32 per
 *  element), which is why reduceDirect sums in place instead of also copying. */
function addInto(acc: Float32Array, v: Float32Array): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] += v[i];
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength); // [4*len] view, no copy
}

interface OpCtx {
  name: string;
  signal: AbortSignal;
  send(rank: number, step: number, data: Uint8Array): Promise<void>;
  recv(rank: number, step: number): Promise<Uint8Array>;
  f32(rank: number, bytes: Uint8Array, expectLen?: number): Float32Array;
}

export class GroupComm implements Comm {
  readonly rank: number;
  readonly size: number;
  readonly members: readonly string[];
  readonly stream: number;
  private readonly timeoutMs: number;
  private readonly directMax: number;
  private seq = 0;
  private broken: CollectiveError | null = null; // set once a member left; every later call fails fast
  private readonly outstanding = new Set<(e: CollectiveError) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    readonly mesh: Mesh,
    memberPeerIds: string[],
    myPeerId: string,
    opts: GroupCommOptions = {},
  ) {
    const n = memberPeerIds.length;
    if (n < 1 || n > MAX_GROUP_SIZE) throw new Error(`GroupComm: size ${n} outside 1..${MAX_GROUP_SIZE}`);
    if (new Set(memberPeerIds).size !== n) throw new Error('GroupComm: duplicate member ids');
    this.rank = memberPeerIds.indexOf(myPeerId);
    if (this.rank < 0) throw new Error(`GroupComm: ${myPeerId} is not a member`);
    if (mesh.myPeerId !== myPeerId) throw new Error(`GroupComm: mesh belongs to ${mesh.myPeerId}`);
    this.size = n;
    this.members = [...memberPeerIds];
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.directMax = opts.directMaxBytes ?? DIRECT_MAX_BYTES;
    const gid = opts.groupId ?? 'default';
    this.stream = groupStream(gid, this.members);
    mesh.claimStream(this.stream, `group '${gid}' [${this.members.join(',')}]`);
    this.unsubscribe = mesh.onPeerClosed((peer) => {
      if (this.members.includes(peer)) this.breakGroup(peer);
    });
    for (const p of this.members) if (p !== myPeerId && mesh.link(p)?.isClosed) this.breakGroup(p);
  }

  /** Element-wise sum; a new array, identical bits on every rank. */
  allReduce(data: Float32Array): Promise<Float32Array> {
    return this.run('allReduce', (ctx) => {
      if (this.size === 1) return Promise.resolve(data.slice());
      if (this.size <= 2 || data.byteLength <= this.directMax) return this.reduceDirect(ctx, data);
      return this.reduceRing(ctx, data);
    });
  }

  /** Every rank's array in rank order (lengths may differ). Always one direct round: in a full mesh the
   *  ring would move the same (n-1)*V bytes per rank, only in n-1 dependent steps. */
  allGather(data: Float32Array): Promise<Float32Array[]> {
    return this.run('allGather', async (ctx) => {
      const { others, got } = await this.exchangeAll(ctx, data);
      const out: Float32Array[] = [];
      others.forEach((r, i) => (out[r] = ctx.f32(r, got[i])));
      out[this.rank] = data.slice();
      return out;
    });
  }

  /** `root`'s bytes on every rank. Small: root sends to each rank directly. Large: root scatters 1/n to
   *  each rank, then the ranks all-gather the pieces, so the root sends ~2x the bytes instead of (n-1)x. */
  broadcast(data: Uint8Array | null, root: number): Promise<Uint8Array> {
    return this.run('broadcast', async (ctx) => {
      if (!Number.isInteger(root) || root < 0 || root >= this.size) {
        throw new CollectiveError(null, 'usage', ctx.name, `root ${root} outside 0..${this.size - 1}`);
      }
      if (this.rank === root && !data) throw new CollectiveError(null, 'usage', ctx.name, 'root has no data');
      if (this.size === 1) return data!.slice();
      return this.rank === root ? this.broadcastRoot(ctx, data!) : this.broadcastLeaf(ctx, root);
    });
  }

  /** Resolves once every member has entered the barrier. */
  barrier(timeoutMs?: number): Promise<void> {
    return this.run(
      'barrier',
      async (ctx) => {
        const others = this.others();
        const empty = new Uint8Array(0);
        await Promise.all([...others.map((r) => ctx.recv(r, 0)), ...others.map((r) => ctx.send(r, 0, empty))]);
      },
      timeoutMs,
    );
  }

  /** Fails outstanding calls and frees the group's stream on the mesh. */
  dispose(): void {
    this.unsubscribe();
    this.mesh.releaseStream(this.stream);
    const err = new CollectiveError(null, 'disposed', 'dispose', 'group disposed');
    this.broken ??= err;
    for (const fail of [...this.outstanding]) fail(err);
  }

  // ---- algorithms ----

  private others(): number[] {
    const r: number[] = [];
    for (let i = 0; i < this.size; i++) if (i !== this.rank) r.push(i);
    return r;
  }

  /** One direct round: `data` to every other member, and each of theirs back (`got[i]` is others[i]'s). */
  private async exchangeAll(ctx: OpCtx, data: Float32Array): Promise<{ others: number[]; got: Uint8Array[] }> {
    const others = this.others();
    const mine = bytesOf(data);
    const [got] = await Promise.all([
      Promise.all(others.map((r) => ctx.recv(r, 0))),
      Promise.all(others.map((r) => ctx.send(r, 0, mine))),
    ]);
    return { others, got };
  }

  private async reduceDirect(ctx: OpCtx, data: Float32Array): Promise<Float32Array> {
    const { others, got } = await this.exchangeAll(ctx, data);
    const vecs: Float32Array[] = [];
    others.forEach((r, i) => (vecs[r] = ctx.f32(r, got[i], data.length)));
    vecs[this.rank] = data;
    // Summed in place in a received array (the Link hands each message to exactly one receiver, so its
    // buffer is ours): no 4*len allocation and copy. Rank order stays 0..n-1 on every rank, so the bits are
    // identical: acc starts as rank 0's or 1's values and adds the other of the two (a + b == b + a exactly
    // in IEEE arithmetic), then ranks 2..n-1 in order: ((v0 + v1) + v2) + ...
    const first = this.rank === 0 ? 1 : 0;
    const acc = vecs[first]; // [len]
    addInto(acc, vecs[1 - first]);
    for (let r = 2; r < this.size; r++) addInto(acc, vecs[r]);
    return acc;
  }

  private async reduceRing(ctx: OpCtx, data: Float32Array): Promise<Float32Array> {
    const n = this.size;
    const me = this.rank;
    const next = (me + 1) % n;
    const prev = (me + n - 1) % n;
    const b = splitBounds(data.length, n); // segment c = [b[c], b[c+1])
    const seg = (a: Float32Array, c: number) => a.subarray(b[c], b[c + 1]); // [segment len]
    const acc = new Float32Array(data); // [len] working copy
    // Reduce-scatter: after step s, segment (me-s-1) holds the sum of s+2 ranks' values; after n-1 steps
    // rank me owns the complete sum of segment (me+1). Each segment is summed along one fixed path.
    for (let s = 0; s < n - 1; s++) {
      const sendC = (me - s + 2 * n) % n;
      const recvC = (me - s - 1 + 2 * n) % n;
      const [got] = await Promise.all([ctx.recv(prev, s), ctx.send(next, s, bytesOf(seg(acc, sendC)))]);
      const part = ctx.f32(prev, got, b[recvC + 1] - b[recvC]); // [segment len]
      addInto(seg(acc, recvC), part);
    }
    // All-gather: the owners' finished segments travel round the ring and are copied, never re-summed.
    for (let t = 0; t < n - 1; t++) {
      const sendC = (me + 1 - t + 2 * n) % n;
      const recvC = (me - t + 2 * n) % n;
      const step = n - 1 + t;
      const [got] = await Promise.all([ctx.recv(prev, step), ctx.send(next, step, bytesOf(seg(acc, sendC)))]);
      acc.set(ctx.f32(prev, got, b[recvC + 1] - b[recvC]), b[recvC]);
    }
    return acc;
  }

  // Broadcast step 0 carries an 8-byte prefix [u32 mode, u32 totalLength] (8 keeps the payload aligned):
  // mode 0 = the whole payload follows; mode 1 = the receiver's own piece follows, pieces come in step 1.
  private async broadcastRoot(ctx: OpCtx, data: Uint8Array): Promise<Uint8Array> {
    const others = this.others();
    const T = data.byteLength;
    const scatter = this.size > 2 && T > this.directMax;
    const b = splitBounds(T, this.size);
    const withPrefix = (mode: number, body: Uint8Array) => {
      const m = new Uint8Array(8 + body.byteLength); // [8 + body]
      const dv = new DataView(m.buffer);
      dv.setUint32(0, mode, true);
      dv.setUint32(4, T, true);
      m.set(body, 8);
      return m;
    };
    if (!scatter) {
      const msg = withPrefix(0, data);
      await Promise.all(others.map((r) => ctx.send(r, 0, msg)));
    } else {
      const mine = data.subarray(b[this.rank], b[this.rank + 1]); // [piece]
      await Promise.all([
        ...others.map((r) => ctx.send(r, 0, withPrefix(1, data.subarray(b[r], b[r + 1])))),
        ...others.map((r) => ctx.send(r, 1, mine)),
      ]);
    }
    return data.slice();
  }

  private async broadcastLeaf(ctx: OpCtx, root: number): Promise<Uint8Array> {
    const first = await ctx.recv(root, 0);
    const peer = this.members[root];
    if (first.byteLength < 8) throw new CollectiveError(peer, 'protocol', ctx.name, 'short broadcast header');
    const dv = new DataView(first.buffer, first.byteOffset, 8);
    const mode = dv.getUint32(0, true);
    const T = dv.getUint32(4, true);
    const body = first.subarray(8); // [T] or [my piece]
    if (mode === 0 && body.byteLength === T) return body;
    const b = splitBounds(T, this.size);
    const pieceLen = (r: number) => b[r + 1] - b[r];
    if (mode !== 1 || body.byteLength !== pieceLen(this.rank)) {
      throw new CollectiveError(peer, 'protocol', ctx.name, `bad broadcast header (mode ${mode}, total ${T})`);
    }
    // Everyone but the root forwards its piece to the other non-root ranks; the root sent its own already.
    const others = this.others();
    const peers = others.filter((r) => r !== root);
    const [got] = await Promise.all([
      Promise.all(others.map((r) => ctx.recv(r, 1))),
      Promise.all(peers.map((r) => ctx.send(r, 1, body))),
    ]);
    const out = new Uint8Array(T); // [T]
    out.set(body, b[this.rank]);
    others.forEach((r, i) => {
      if (got[i].byteLength !== pieceLen(r)) {
        throw new CollectiveError(this.members[r], 'protocol', ctx.name, `piece of ${got[i].byteLength} bytes`);
      }
      out.set(got[i], b[r]);
    });
    return out;
  }

  // ---- call plumbing: sequence numbers, deadline, peer loss ----

  private breakGroup(peer: string): void {
    if (this.broken) return;
    const err = new CollectiveError(peer, 'peer-closed', 'group', `member ${peer} left the group`);
    this.broken = err;
    for (const fail of [...this.outstanding]) fail(err);
  }

  private run<T>(opName: string, body: (ctx: OpCtx) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const callSeq = this.seq; // taken synchronously: call order on every member gives the same numbers
    this.seq = (this.seq + 1) & SEQ_MASK;
    const name = `${opName}#${callSeq}`;
    if (this.broken) {
      const b = this.broken;
      return Promise.reject(new CollectiveError(b.peer, b.kind, name, b.detail));
    }
    const ctrl = new AbortController();
    const waitingOn = new Map<number, number>(); // rank -> pending receives, to name a peer on timeout
    const key = (step: number) => ({ tag: Tag.Data, stream: this.stream, seq: ((callSeq << 8) | step) >>> 0 });
    const wrap = (rank: number, e: unknown): CollectiveError => {
      if (e instanceof CollectiveError) return e;
      const peer = this.members[rank];
      if (e instanceof LinkClosedError) return new CollectiveError(peer, 'peer-closed', name, e.message);
      return new CollectiveError(peer, 'protocol', name, e instanceof Error ? e.message : String(e));
    };
    const ctx: OpCtx = {
      name,
      signal: ctrl.signal,
      send: (rank, step, data) => this.mesh.send(this.members[rank], key(step), data).catch((e) => {
        throw wrap(rank, e);
      }),
      recv: (rank, step) => {
        waitingOn.set(rank, (waitingOn.get(rank) ?? 0) + 1);
        return this.mesh.recv(this.members[rank], key(step), ctrl.signal).then(
          (d) => {
            const c = waitingOn.get(rank)! - 1;
            if (c === 0) waitingOn.delete(rank);
            else waitingOn.set(rank, c);
            return d;
          },
          (e) => {
            throw wrap(rank, e);
          },
        );
      },
      f32: (rank, bytes, expectLen) => {
        const peer = this.members[rank];
        if (bytes.byteLength % 4 !== 0 || (expectLen !== undefined && bytes.byteLength !== expectLen * 4)) {
          const want = expectLen === undefined ? 'a multiple of 4' : `${expectLen * 4}`;
          throw new CollectiveError(peer, 'protocol', name, `got ${bytes.byteLength} bytes, expected ${want}`);
        }
        if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        return new Float32Array(bytes.slice().buffer); // unaligned view: copy once
      },
    };
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (err: CollectiveError | null, value?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.outstanding.delete(fail);
        if (err) {
          ctrl.abort(err); // withdraws this call's pending receives from the link queues
          reject(err);
        } else resolve(value as T);
      };
      const fail = (e: CollectiveError) => finish(new CollectiveError(e.peer, e.kind, name, e.detail));
      const timer = setTimeout(() => {
        const r = waitingOn.keys().next();
        const peer = r.done ? null : this.members[r.value];
        const who = peer ? `, still waiting for ${peer}` : '';
        finish(new CollectiveError(peer, 'timeout', name, `timed out after ${timeoutMs} ms${who}`));
      }, timeoutMs);
      this.outstanding.add(fail);
      body(ctx).then(
        (v) => finish(null, v),
        (e) => finish(e instanceof CollectiveError ? e : new CollectiveError(null, 'protocol', name, String(e))),
      );
    });
  }
}
