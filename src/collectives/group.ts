// Collectives over one explicit group of peers, on top of a Mesh. Every member calls the same collectives in
// the same order; each call takes the group's next sequence number, and its messages are keyed by
// (group stream, seq, step), so several calls may be outstanding at once and messages may arrive early.
// Results are bitwise identical on every rank: allReduce sums in rank order 0..n-1 (the direct round on
// every rank, the two-round form on each segment's owner, which copies it to everyone); the rest only copy bytes.
import { decodeI8Carrier, encodeI8Carrier } from '../codec/i8-block';
import { isReduceWire, type Comm, type ReduceWire } from './types';
import { CollectiveError } from './errors';
import { Call, asCollectiveError } from './call';
import type { Mesh } from '../transport/mesh';

/** allReduce payloads up to this many bytes use one direct round (everyone sends everything to everyone);
 *  bigger ones use a direct reduce-scatter + all-gather: rank r owns segment r, everyone sends it its
 *  segment, r sums it, r sends the sum to everyone. Direct: 1 round, (n-1)*V bytes out per rank and
 *  (n-1)*V floats summed. Two rounds: 2(n-1)/n*V bytes and (n-1)/n*V floats. With one-way latency L and
 *  per-rank bandwidth B the two cost the same at V = L*B*n / ((n-1)(n-2)): ~8 KB for n=4 on a WebRTC mesh
 *  (BROWSER.md: RTT ~0.5 ms, ~45 MiB/s). Measured on 4 H200 peer processes over same-host sockets
 *  (bench/results/multi-gpu-*two-round-x4*, two runs): direct is faster up to 16 KiB (0.136 vs 0.160 ms;
 *  a tie in the other run), two rounds from 32 KiB (0.19 vs 0.21 ms) to 2 MiB (6.6 vs 10.8 ms). 16 KiB keeps a
 *  decode step's all-reduce (8 KB at 1B, 16 KB at 7B) in one round. With n <= 2 the two rounds move as many
 *  bytes as direct: always direct. Both sum in rank order 0..n-1, so the threshold never changes the bits.
 *  The two rounds replaced a ring (2(n-1) dependent steps, the same bytes): on sockets it measured the same
 *  within noise (128 KB 0.45 vs 0.39 ms, 256 KB 0.78 vs 0.79, 1 MiB 2.8-3.5 vs 3.1-3.5) but it pays 2(n-1)
 *  link latencies where this pays 2, which on WebRTC (~0.25 ms each) is the larger cost below ~100 KB. */
export const DIRECT_MAX_BYTES = 16 * 1024;
/** Default deadline of one collective. Long enough for a slow peer mid-step (a phone, a big matmul on a
 *  software adapter), short enough that a vanished peer is reported. Before the first collective after model
 *  loading, call barrier() with a longer deadline: peers finish loading at very different times. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** seq packs (call sequence << 8 | step); steps are 0 and 1. 128: the largest group anyone has asked for is
 *  far smaller, and a bound keeps a malformed member list from building a huge mesh. */
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
 *  largest CPU cost of a big allReduce (f32 -> f64 -> f32 per element), which is why reduceDirect sums in
 *  place instead of also copying. Unrolled by 8: V8 does not unroll or vectorize, and the loop overhead
 *  (bounds checks, the branch) was a third of it: 1M elements took 3.3 ms, now 1.9 ms on the 2-core test
 *  machine. Each element is still one f32 add, so the bits are the same as the plain loop's. */
function addInto(acc: Float32Array, v: Float32Array): void {
  const n = acc.length;
  const m = n - (n & 7);
  let i = 0;
  for (; i < m; i += 8) {
    acc[i] += v[i];
    acc[i + 1] += v[i + 1];
    acc[i + 2] += v[i + 2];
    acc[i + 3] += v[i + 3];
    acc[i + 4] += v[i + 4];
    acc[i + 5] += v[i + 5];
    acc[i + 6] += v[i + 6];
    acc[i + 7] += v[i + 7];
  }
  for (; i < n; i++) acc[i] += v[i];
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength); // [4*len] view, no copy
}

/** a [len] as the bytes of its int8-block carrier ([4 * i8Words(len)]). */
function encodeBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(encodeI8Carrier(a).buffer);
}

/** The values the others decode from this rank's carrier (so every rank adds the same bits for it). */
function decodeOwn(bytes: Uint8Array, len: number): Float32Array {
  return decodeI8Carrier(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), len); // [len]
}

/** now() in ms for deadlines: monotonic, and in both Node and browsers. */
const now = (): number => performance.now();
/** A deadline counts as passed this close to it: a timer may fire a little early by performance.now(). */
const DEADLINE_SLACK_MS = 1;
const MAX_TIMER_MS = 2 ** 31 - 1;


export class GroupComm implements Comm {
  readonly rank: number;
  readonly size: number;
  readonly members: readonly string[];
  readonly stream: number;
  private readonly timeoutMs: number;
  private readonly directMax: number;
  private seq = 0;
  private broken: CollectiveError | null = null; // set once a member left; every later call fails fast
  private readonly outstanding = new Set<Call>();
  /** One deadline timer for all outstanding calls, armed for the earliest deadline (at timerAt) while any
   *  call is outstanding: a decode step makes thousands of calls a second, and a setTimeout plus an
   *  AbortController per call cost more than the call's own work on a fast link. */
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
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

  /** Element-wise sum; a new array, identical bits on every rank. wire 'i8': every value travels as int8
   *  blocks, and every rank sums the decoded values (its own too), so the bits stay identical everywhere. */
  allReduce(data: Float32Array, wire: ReduceWire = 'f32'): Promise<Float32Array> {
    if (!isReduceWire(wire)) return Promise.reject(new CollectiveError(null, 'usage', 'allReduce', `unknown wire ${JSON.stringify(wire)}`));
    return this.run('allReduce', (call) => {
      if (this.size === 1) return call.finish(null, data.slice());
      const i8 = wire === 'i8';
      if (this.size <= 2 || data.byteLength <= this.directMax) return this.reduceDirect(call, data, i8);
      return this.reduceTwoRound(call, data, i8);
    });
  }

  /** Every rank's array in rank order (lengths may differ). Always one direct round: in a full mesh the
   *  ring would move the same (n-1)*V bytes per rank, only in n-1 dependent steps. */
  allGather(data: Float32Array): Promise<Float32Array[]> {
    return this.run('allGather', async (ctx) => {
      const others = this.others();
      const mine = bytesOf(data);
      const [got] = await Promise.all([Promise.all(others.map((r) => ctx.recv(r, 0))), Promise.all(others.map((r) => ctx.send(r, 0, mine)))]);
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
    for (const call of [...this.outstanding]) call.fail(err);
  }

  // ---- algorithms ----

  private others(): number[] {
    const r: number[] = [];
    for (let i = 0; i < this.size; i++) if (i !== this.rank) r.push(i);
    return r;
  }

  /** One direct round, summed in rank order. Callbacks instead of promises: this is the decode path (two
   *  small all-reduces per layer), where each promise hop and closure is a measurable share of the call. */
  private reduceDirect(call: Call, data: Float32Array, i8: boolean): void {
    const n = this.size;
    const me = this.rank;
    const wire = i8 ? encodeBytes(data) : null; // [i8Words(len) * 4] what the others get of mine
    const got: Uint8Array[] = []; // got[r]: rank r's bytes
    let left = 2 * (n - 1); // receives and sends still to complete
    const step = (): void => {
      if (--left > 0 || call.done) return;
      let acc: Float32Array; // [len]
      try {
        const vecs: Float32Array[] = [];
        // own values as the others decode them (so every rank adds the same bits for me), decoded here, after the sends left
        const own = wire ? decodeOwn(wire, data.length) : data; // [len]
        for (let r = 0; r < n; r++) vecs.push(r === me ? own : i8 ? call.i8(r, got[r], data.length) : call.f32(r, got[r], data.length));
        // Summed in place in a received array (the Link hands each message to exactly one receiver, so its
        // buffer is ours): no 4*len allocation and copy. Rank order stays 0..n-1 on every rank, so the bits
        // are identical: acc starts as rank 0's or 1's values and adds the other of the two (a + b == b + a
        // exactly in IEEE arithmetic), then ranks 2..n-1 in order: ((v0 + v1) + v2) + ...
        const first = me === 0 ? 1 : 0;
        acc = vecs[first];
        addInto(acc, vecs[1 - first]);
        for (let r = 2; r < n; r++) addInto(acc, vecs[r]);
      } catch (e) {
        return call.fail(asCollectiveError(e, call.name));
      }
      call.finish(null, acc);
    };
    const mine = wire ?? bytesOf(data);
    for (let r = 0; r < n; r++) {
      if (r === me) continue;
      call.recvThen(r, 0, (d) => {
        got[r] = d;
        step();
      });
    }
    for (let r = 0; r < n && !call.done; r++) if (r !== me) call.sendThen(r, 0, mine, step);
  }

  /** Direct reduce-scatter + all-gather: step 0 sends rank r its segment of everyone's data; r sums the
   *  segment in rank order (the direct round's order, so the same bits); step 1 sends the sum to everyone. */
  private reduceTwoRound(call: Call, data: Float32Array, i8: boolean): void {
    const n = this.size;
    const me = this.rank;
    const b = splitBounds(data.length, n); // segment c = [b[c], b[c+1])
    const segLen = (c: number) => b[c + 1] - b[c];
    const out = new Float32Array(data.length); // [len] the result
    const got: Uint8Array[] = []; // got[r]: rank r's values of my segment, as received
    let toSum = n - 1; // step-0 receives still missing
    let left = 4 * (n - 1); // step-0 and step-1 sends and receives still to complete
    const done = (): void => {
      if (--left === 0 && !call.done) call.finish(null, out);
    };
    const sumMine = (): void => {
      let acc: Float32Array; // [segLen(me)]
      try {
        const parts: Float32Array[] = []; // parts[r]: rank r's values of my segment, [segLen(me)]
        const seg = data.subarray(b[me], b[me + 1]); // [segLen(me)] my values of my segment
        for (let r = 0; r < n; r++) {
          if (r === me) parts.push(i8 ? decodeOwn(encodeBytes(seg), seg.length) : seg);
          else parts.push(i8 ? call.i8(r, got[r], segLen(me)) : call.f32(r, got[r], segLen(me)));
        }
        // As reduceDirect: in place in a received array, ((v0 + v1) + v2) + ... on the owner only.
        const first = me === 0 ? 1 : 0;
        acc = parts[first];
        addInto(acc, parts[1 - first]);
        for (let r = 2; r < n; r++) addInto(acc, parts[r]);
      } catch (e) {
        return call.fail(asCollectiveError(e, call.name));
      }
      const sum = i8 ? encodeBytes(acc) : bytesOf(acc); // the owner keeps what the others will decode
      out.set(i8 ? decodeOwn(sum, acc.length) : acc, b[me]);
      for (let r = 0; r < n && !call.done; r++) if (r !== me) call.sendThen(r, 1, sum, done);
    };
    for (let r = 0; r < n; r++) {
      if (r === me) continue;
      call.recvThen(r, 0, (d) => {
        got[r] = d;
        done();
        if (--toSum === 0 && !call.done) sumMine();
      });
      call.recvThen(r, 1, (d) => {
        let seg: Float32Array; // [segLen(r)] rank r's finished segment
        try {
          seg = i8 ? call.i8(r, d, segLen(r)) : call.f32(r, d, segLen(r));
        } catch (e) {
          return call.fail(asCollectiveError(e, call.name));
        }
        out.set(seg, b[r]);
        done();
      });
    }
    for (let r = 0; r < n && !call.done; r++) {
      if (r === me) continue;
      const seg = data.subarray(b[r], b[r + 1]); // [segLen(r)]
      call.sendThen(r, 0, i8 ? encodeBytes(seg) : bytesOf(seg), done);
    }
  }

  // Broadcast step 0 carries an 8-byte prefix [u32 mode, u32 totalLength] (8 keeps the payload aligned):
  // mode 0 = the whole payload follows; mode 1 = the receiver's own piece follows, pieces come in step 1.
  private async broadcastRoot(ctx: Call, data: Uint8Array): Promise<Uint8Array> {
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

  private async broadcastLeaf(ctx: Call, root: number): Promise<Uint8Array> {
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
    for (const call of [...this.outstanding]) call.fail(err);
  }

  /** Runs one collective: `body` settles the call through call.finish / call.fail, or returns a promise
   *  whose outcome settles it. The call's sequence number is taken synchronously: call order on every
   *  member gives the same numbers. */
  private run<T>(opName: string, body: (call: Call) => Promise<T> | void, timeoutMs = this.timeoutMs): Promise<T> {
    const callSeq = this.seq;
    this.seq = (this.seq + 1) & SEQ_MASK;
    if (this.broken) {
      const b = this.broken;
      return Promise.reject(new CollectiveError(b.peer, b.kind, `${opName}#${callSeq}`, b.detail));
    }
    return new Promise<T>((resolve, reject) => {
      const call = new Call(this, this.settled, opName, callSeq, now() + timeoutMs, timeoutMs, resolve as (v: unknown) => void, reject);
      this.outstanding.add(call);
      if (call.deadline < this.timerAt) this.armTimer(call.deadline);
      let p: Promise<T> | void;
      try {
        p = body(call);
      } catch (e) {
        return call.fail(asCollectiveError(e, call.name));
      }
      p?.then(
        (v) => call.finish(null, v),
        (e) => call.fail(asCollectiveError(e, call.name)),
      );
    });
  }

  /** Call.finish: the call is no longer outstanding. The timer goes once none is: an armed timer keeps a
   *  Node process alive. */
  private readonly settled = (call: Call): void => {
    this.outstanding.delete(call);
    if (this.outstanding.size === 0 && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
    }
  };

  private armTimer(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    // Clamped: setTimeout fires at once for a delay above 2^31-1 ms; onTimer then re-arms for the rest.
    this.timer = setTimeout(this.onTimer, Math.min(MAX_TIMER_MS, Math.max(0, at - now())));
  }

  /** Fails every call whose deadline passed, then re-arms for the earliest one left. */
  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    const t = now() + DEADLINE_SLACK_MS;
    for (const call of [...this.outstanding]) if (call.deadline <= t) call.expire();
    let next = Infinity;
    for (const call of this.outstanding) next = Math.min(next, call.deadline);
    if (next < this.timerAt) this.armTimer(next);
  };
}
