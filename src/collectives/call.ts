// One outstanding collective call of a GroupComm (src/collectives/group.ts): its message keys, its pending
// receives and how it settles, kept out of group.ts so the algorithms read on their own. Promise-free on the
// hot path (sendThen / recvThen): a decode step makes thousands of calls a second, and each promise hop and
// closure is a measurable share of a call on a fast link.
import { decodeI8Carrier, i8Words } from '../codec/i8-block';
import { CollectiveError } from './errors';
import { Tag, type MsgKey } from '../transport/frame';
import { LinkClosedError, type RecvWaiter } from '../transport/link';
import type { Mesh } from '../transport/mesh';

/** What a call needs of its group. */
export interface CallGroup {
  readonly stream: number;
  readonly members: readonly string[];
  readonly mesh: Mesh;
}

export function asCollectiveError(e: unknown, name: string): CollectiveError {
  return e instanceof CollectiveError ? e : new CollectiveError(null, 'protocol', name, String(e));
}

/** One receive of a call, registered with the link as its RecvWaiter; a failing call withdraws it. */
class PendingRecv implements RecvWaiter {
  settled = false;
  constructor(
    readonly call: Call,
    readonly rank: number,
    readonly key: MsgKey,
    private readonly ok: (d: Uint8Array) => void,
    private readonly bad: ((e: CollectiveError) => void) | null, // null: the error fails the call
  ) {}

  resolve(d: Uint8Array): void {
    if (this.settled) return;
    this.settled = true;
    this.ok(d);
  }

  reject(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    (this.bad ?? ((err: CollectiveError) => this.call.fail(err)))(this.call.wrap(this.rank, e));
  }
}

/** One outstanding collective call: its message keys, its pending receives (to name a peer on timeout and
 *  to withdraw them on failure) and how it settles. Both the promise (send/recv) and the callback
 *  (sendThen/recvThen) style of the algorithms go through it. */
export class Call {
  done = false;
  private readonly recvs: PendingRecv[] = [];

  constructor(
    private readonly comm: CallGroup,
    private readonly onSettled: (c: Call) => void,
    private readonly opName: string,
    private readonly callSeq: number,
    readonly deadline: number,
    private readonly timeoutMs: number,
    private readonly resolveFn: (v: unknown) => void,
    private readonly rejectFn: (e: CollectiveError) => void,
  ) {}

  /** e.g. 'allReduce#12'; built only when needed (errors). */
  get name(): string {
    return `${this.opName}#${this.callSeq}`;
  }

  private key(step: number): MsgKey {
    return { tag: Tag.Data, stream: this.comm.stream, seq: ((this.callSeq << 8) | step) >>> 0 };
  }

  wrap(rank: number, e: unknown): CollectiveError {
    if (e instanceof CollectiveError) return e;
    const peer = this.comm.members[rank];
    if (e instanceof LinkClosedError) return new CollectiveError(peer, 'peer-closed', this.name, e.message);
    return new CollectiveError(peer, 'protocol', this.name, e instanceof Error ? e.message : String(e));
  }

  /** Sends this call's step-`step` message to `rank`; `then` runs once sent (a failure fails the call). */
  sendThen(rank: number, step: number, data: Uint8Array, then: () => void): void {
    this.comm.mesh.post(this.comm.members[rank], this.key(step), data, (err) => (err ? this.fail(this.wrap(rank, err)) : then()));
  }

  /** Receives this call's step-`step` message from `rank` (possibly before returning, when it is queued
   *  already); a failure fails the call. */
  recvThen(rank: number, step: number, then: (d: Uint8Array) => void): void {
    this.register(new PendingRecv(this, rank, this.key(step), then, null));
  }

  send(rank: number, step: number, data: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.comm.mesh.post(this.comm.members[rank], this.key(step), data, (err) => (err ? reject(this.wrap(rank, err)) : resolve()));
    });
  }

  recv(rank: number, step: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => this.register(new PendingRecv(this, rank, this.key(step), resolve, reject)));
  }

  private register(r: PendingRecv): void {
    if (this.done) return; // the call failed already: nothing will wait for this
    this.recvs.push(r);
    this.comm.mesh.recvInto(this.comm.members[r.rank], r.key, r);
  }

  /** `bytes` from `rank` as float32 (a view when aligned), checked against the expected element count. */
  f32(rank: number, bytes: Uint8Array, expectLen?: number): Float32Array {
    if (bytes.byteLength % 4 !== 0 || (expectLen !== undefined && bytes.byteLength !== expectLen * 4)) {
      const want = expectLen === undefined ? 'a multiple of 4' : `${expectLen * 4}`;
      throw new CollectiveError(this.comm.members[rank], 'protocol', this.name, `got ${bytes.byteLength} bytes, expected ${want}`);
    }
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    return new Float32Array(bytes.slice().buffer); // unaligned view: copy once
  }

  /** The `len` floats of an int8-block carrier (src/codec/i8-block.ts) from a peer; a wrong size is its protocol error. */
  i8(rank: number, bytes: Uint8Array, len: number): Float32Array {
    const words = i8Words(len);
    if (bytes.byteLength !== words * 4) {
      throw new CollectiveError(this.comm.members[rank], 'protocol', this.name, `got ${bytes.byteLength} bytes of int8 carrier, expected ${words * 4} for ${len} values`);
    }
    const w = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, words) : new Uint32Array(bytes.slice().buffer); // [words]
    return decodeI8Carrier(w, len); // [len]
  }

  finish(err: CollectiveError | null, value?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.onSettled(this);
    if (err === null) return this.resolveFn(value);
    // Withdraw the receives still pending, so their messages, if they ever come, are queued unclaimed (and
    // dropped with the group's stream) instead of being handed to a call that is over.
    for (const r of this.recvs) {
      if (r.settled) continue;
      r.settled = true;
      this.comm.mesh.cancelRecv(this.comm.members[r.rank], r.key, r);
    }
    this.rejectFn(err);
  }

  /** Fails the call with `e` (from a peer leaving, a protocol error, dispose), renamed to this call. */
  fail(e: CollectiveError): void {
    this.finish(e.op === this.name ? e : new CollectiveError(e.peer, e.kind, this.name, e.detail));
  }

  /** The deadline passed: names the first peer a receive still waits for. */
  expire(): void {
    const r = this.recvs.find((x) => !x.settled);
    const peer = r ? this.comm.members[r.rank] : null;
    const who = peer ? `, still waiting for ${peer}` : '';
    this.finish(new CollectiveError(peer, 'timeout', this.name, `timed out after ${this.timeoutMs} ms${who}`));
  }
}
