import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, Tag, encodeFrame, type MsgKey } from '../../src/transport/frame';
import { Link, LinkClosedError } from '../../src/transport/link';
import { Mesh } from '../../src/transport/mesh';
import { loopbackChannelPair, loopbackMeshes, type LoopbackChannelOptions } from '../../src/transport/loopback';
import type { LinkOptions } from '../../src/transport/link';

const key = (seq: number, stream = 7): MsgKey => ({ tag: Tag.Data, stream, seq });

function pattern(n: number, salt: number): Uint8Array {
  const a = new Uint8Array(n); // [n]
  for (let i = 0; i < n; i++) a[i] = (i * 31 + salt * 17 + (i >> 8)) & 255;
  return a;
}

function pair(ch: LoopbackChannelOptions = {}, lo: LinkOptions = {}) {
  const [ca, cb] = loopbackChannelPair(ch);
  return { a: new Link('B', ca, lo), b: new Link('A', cb, lo), ca, cb };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Link over loopback', () => {
  it('delivers messages of every size, chunked to the channel limit', async () => {
    const { a, b } = pair(); // maxMessageSize 1024: 1000 payload bytes per frame
    const sizes = [0, 1, 999, 1000, 1001, 4321, 100_000];
    await Promise.all(sizes.map((n, i) => a.send(key(i), pattern(n, i))));
    for (let i = 0; i < sizes.length; i++) {
      const got = await b.recv(key(i));
      expect(got.byteLength).toBe(sizes[i]);
      expect(Buffer.from(got).equals(Buffer.from(pattern(sizes[i], i)))).toBe(true);
    }
    const frames = sizes.reduce((s, n) => s + Math.max(1, Math.ceil(n / (1024 - HEADER_BYTES))), 0);
    expect(a.stats.framesOut).toBe(frames);
    expect(b.stats.framesIn).toBe(frames);
    expect(b.stats.messagesIn).toBe(sizes.length);
  });

  it('matches by key: out-of-order and early arrival, interleaved large messages', async () => {
    const { a, b } = pair();
    const big1 = pattern(50_000, 1);
    const big2 = pattern(30_001, 2);
    const p2 = b.recv(key(2)); // asked before it is sent
    await Promise.all([a.send(key(1), big1), a.send(key(2), big2), a.send(key(3), pattern(5, 3))]);
    await sleep(20); // all arrived; 1 and 3 are queued unclaimed
    expect(b.unclaimedBytes).toBe(50_005);
    expect(Buffer.from(await b.recv(key(3))).equals(Buffer.from(pattern(5, 3)))).toBe(true);
    expect(Buffer.from(await p2).equals(Buffer.from(big2))).toBe(true);
    expect(Buffer.from(await b.recv(key(1))).equals(Buffer.from(big1))).toBe(true);
    expect(b.unclaimedBytes).toBe(0);
    // the same (tag, seq) on another stream is another message
    await a.send(key(1, 8), pattern(3, 9));
    expect([...(await b.recv(key(1, 8)))]).toEqual([...pattern(3, 9)]);
  });

  it('respects back-pressure: never exceeds the high-water mark, resumes on bufferedamountlow', async () => {
    const ch = { bytesPerTick: 4096, maxBufferedAmount: 32 * 1024 };
    const { a, b, ca } = pair(ch, { highWaterBytes: 8 * 1024, lowWaterBytes: 2048 });
    const data = pattern(1 << 20, 5);
    const got = b.recv(key(1));
    await a.send(key(1), data);
    expect(Buffer.from(await got).equals(Buffer.from(data))).toBe(true);
    expect(a.stats.pauses).toBeGreaterThan(0);
    expect(ca.peakBufferedAmount).toBeLessThanOrEqual(8 * 1024 + 1024);
  });

  it('control: ignoring back-pressure makes the same channel throw (the test above can fail)', async () => {
    const ch = { bytesPerTick: 4096, maxBufferedAmount: 32 * 1024 };
    const { a } = pair(ch, { highWaterBytes: 1 << 30 });
    await expect(a.send(key(1), pattern(1 << 20, 5))).rejects.toThrow(/queue is full/);
    expect(a.isClosed).toBe(true);
  });

  it('drops malformed frames, counts them, and keeps working', async () => {
    const { a, b, ca } = pair({ maxMessageSize: 4096 }, { maxMessageSize: 1024, maxMessageBytes: 1 << 20 });
    const hdr = (h: Partial<{ tag: number; seq: number; chunkIndex: number; chunkCount: number; totalLength: number }>, p: Uint8Array) =>
      encodeFrame({ tag: Tag.Data, stream: 7, seq: 100, chunkIndex: 0, chunkCount: 1, totalLength: p.byteLength, ...h }, p);
    const good = new Uint8Array(hdr({}, pattern(10, 1)));
    const badMagic = good.slice();
    badMagic[0] ^= 0xff;
    const badVersion = good.slice();
    badVersion[2] = 9;
    ca.injectToPeer(good.slice(0, 10).buffer); // truncated header
    ca.injectToPeer(badMagic.buffer);
    ca.injectToPeer(badVersion.buffer);
    ca.injectToPeer(hdr({ tag: 200 }, pattern(10, 1))); // unknown tag
    ca.injectToPeer(hdr({}, pattern(2000, 1))); // frame above the receiver's 1024 limit
    ca.injectToPeer(hdr({ totalLength: 0xfffffff0, chunkCount: 2 }, pattern(10, 1))); // declared total too big
    ca.injectToPeer(hdr({ chunkIndex: 5, chunkCount: 5, totalLength: 50 }, pattern(10, 1))); // index out of range
    ca.injectToPeer(hdr({ chunkIndex: 1, chunkCount: 3, totalLength: 30 }, pattern(10, 1))); // no chunk 0 before it
    ca.injectToPeer('a string'); // not binary
    // a real multi-chunk message with garbage between its chunks still completes
    const parts = [pattern(10, 2), pattern(10, 3), pattern(5, 4)];
    ca.injectToPeer(hdr({ seq: 5, chunkIndex: 0, chunkCount: 3, totalLength: 25 }, parts[0]));
    ca.injectToPeer(hdr({ seq: 5, chunkIndex: 2, chunkCount: 3, totalLength: 25 }, parts[2])); // skips 1
    ca.injectToPeer(hdr({ seq: 5, chunkIndex: 1, chunkCount: 4, totalLength: 25 }, parts[1])); // count differs
    ca.injectToPeer(hdr({ seq: 5, chunkIndex: 1, chunkCount: 3, totalLength: 25 }, parts[1]));
    ca.injectToPeer(hdr({ seq: 5, chunkIndex: 2, chunkCount: 3, totalLength: 25 }, parts[2]));
    await sleep(20);
    expect(b.stats.dropped).toEqual({
      truncated: 1, badMagic: 1, badVersion: 1, unknownTag: 1, oversizedFrame: 1, oversizedMessage: 1,
      badChunk: 4, nonBinary: 1, queueOverflow: 0,
    });
    expect([...(await b.recv(key(5)))]).toEqual([...parts[0], ...parts[1], ...parts[2]]);
    await a.send(key(6), pattern(3000, 6));
    expect(Buffer.from(await b.recv(key(6))).equals(Buffer.from(pattern(3000, 6)))).toBe(true);
    expect(b.isClosed).toBe(false);
  });

  it('bounds unclaimed bytes: drops and counts beyond maxQueuedBytes', async () => {
    const { a, b } = pair({}, { maxQueuedBytes: 5000 });
    await a.send(key(1), pattern(4000, 1));
    await a.send(key(2), pattern(4000, 2)); // would exceed 5000 unclaimed
    await sleep(20);
    expect(b.stats.dropped.queueOverflow).toBeGreaterThan(0);
    expect((await b.recv(key(1))).byteLength).toBe(4000);
    await a.send(key(3), pattern(4000, 3)); // room again once claimed
    expect((await b.recv(key(3))).byteLength).toBe(4000);
  });

  it('close fails pending receives and sends with the peer named; queued messages stay readable', async () => {
    const { a, b, ca } = pair({ bytesPerTick: 1000 }, { highWaterBytes: 4096, lowWaterBytes: 1024 });
    await a.send(key(1), pattern(10, 1));
    await sleep(10);
    const pending = b.recv(key(2));
    const bigSend = a.send(key(3), pattern(200_000, 3)).catch((e) => e); // still pumping at close
    ca.close();
    await expect(pending).rejects.toBeInstanceOf(LinkClosedError);
    await expect(pending).rejects.toMatchObject({ peer: 'A' });
    expect(await bigSend).toBeInstanceOf(LinkClosedError);
    expect(await bigSend).toMatchObject({ peer: 'B' });
    expect([...(await b.recv(key(1)))]).toEqual([...pattern(10, 1)]);
    await expect(b.recv(key(9))).rejects.toBeInstanceOf(LinkClosedError);
  });

  it('abort withdraws a pending receive', async () => {
    const { a, b } = pair();
    const ctrl = new AbortController();
    const p = b.recv(key(1), ctrl.signal);
    ctrl.abort(new Error('gave up'));
    await expect(p).rejects.toThrow('gave up');
    await a.send(key(1), pattern(4, 1)); // now queued for a later receive, not lost
    expect([...(await b.recv(key(1)))]).toEqual([...pattern(4, 1)]);
  });

  it('answers Ping with Pong and Probe with Ack by itself', async () => {
    const { a } = pair();
    const p = pattern(3333, 7);
    const pong = a.recv({ tag: Tag.Pong, stream: 0, seq: 1 });
    await a.send({ tag: Tag.Ping, stream: 0, seq: 1 }, p);
    expect(Buffer.from(await pong).equals(Buffer.from(p))).toBe(true);
    const ack = a.recv({ tag: Tag.Ack, stream: 0, seq: 2 });
    await a.send({ tag: Tag.Probe, stream: 0, seq: 2 }, p);
    expect((await ack).byteLength).toBe(0);
  });

  it('waits for a connecting channel to open', async () => {
    const [ca, cb] = loopbackChannelPair();
    ca.readyState = 'connecting';
    const a = new Link('B', ca);
    const b = new Link('A', cb);
    const sent = a.send(key(1), pattern(2500, 1));
    await sleep(10);
    expect(a.stats.framesOut).toBe(0);
    ca.readyState = 'open';
    (ca as unknown as { dispatch(t: string, e: unknown): void }).dispatch('open', {});
    await sent;
    expect((await b.recv(key(1))).byteLength).toBe(2500);
  });
});

describe('Mesh', () => {
  it('routes by peer over a full loopback mesh', async () => {
    const ids = ['x', 'y', 'z'];
    const { meshes } = loopbackMeshes(ids);
    const sends: Promise<void>[] = [];
    for (const m of meshes) for (const p of ids) if (p !== m.myPeerId) sends.push(m.send(p, key(1), new TextEncoder().encode(`${m.myPeerId}>${p}`)));
    await Promise.all(sends);
    for (const m of meshes) {
      expect(m.peers.sort()).toEqual(ids.filter((i) => i !== m.myPeerId));
      for (const p of ids) {
        if (p === m.myPeerId) continue;
        expect(new TextDecoder().decode(await m.recv(p, key(1)))).toBe(`${p}>${m.myPeerId}`);
      }
    }
  });

  it('reports closed peers, refuses unknown peers and double-claimed streams', async () => {
    const { meshes, channel } = loopbackMeshes(['x', 'y']);
    const closed: string[] = [];
    meshes[0].onPeerClosed((p) => closed.push(p));
    channel('y', 'x').close();
    await sleep(10);
    expect(closed).toEqual(['y']);
    await expect(meshes[0].recv('nobody', key(1))).rejects.toMatchObject({ peer: 'nobody' });
    const m = new Mesh('solo');
    m.claimStream(42, 'first');
    expect(() => m.claimStream(42, 'second')).toThrow(/already claimed by first/);
    expect(() => m.claimStream(0, 'x')).toThrow(/reserved/);
    m.releaseStream(42);
    m.claimStream(42, 'third');
  });
});

describe('Link recvInto / cancelRecv / post (the promise-free API collectives use)', () => {
  it('recvInto hands a queued message over before returning, else when it arrives; cancelRecv withdraws', async () => {
    const { a, b } = pair();
    await a.send(key(1), pattern(10, 1));
    await sleep(10);
    const got: Uint8Array[] = [];
    const fail = (e: unknown) => { throw e; };
    b.recvInto(key(1), { resolve: (d) => got.push(d), reject: fail });
    expect(got.length).toBe(1); // synchronous: it was queued
    expect([...got[0]]).toEqual([...pattern(10, 1)]);
    expect(b.unclaimedBytes).toBe(0);
    const late = { resolve: (d: Uint8Array) => got.push(d), reject: fail };
    b.recvInto(key(2), late);
    expect(b.cancelRecv(key(2), late)).toBe(true);
    expect(b.cancelRecv(key(2), late)).toBe(false);
    await a.send(key(2), pattern(5, 2));
    await sleep(10);
    expect(got.length).toBe(1); // withdrawn: the message is queued for someone else instead
    expect(b.unclaimedBytes).toBe(5);
    const w = new Promise<Uint8Array>((resolve, reject) => b.recvInto(key(3), { resolve, reject }));
    let done: Error | null | undefined;
    a.post(key(3), pattern(7, 3), (err) => (done = err));
    expect([...(await w)]).toEqual([...pattern(7, 3)]);
    expect(done).toBeNull();
  });

  it('recvInto on a closed link fails at once; post reports the LinkClosedError', async () => {
    const { a, b } = pair();
    const pending = new Promise((resolve, reject) => b.recvInto(key(1), { resolve, reject }));
    b.close();
    await expect(pending).rejects.toBeInstanceOf(LinkClosedError);
    let err: unknown = 'not called';
    b.recvInto(key(2), { resolve: () => undefined, reject: (e) => (err = e) });
    expect(err).toBeInstanceOf(LinkClosedError);
    await sleep(5);
    a.post(key(1), pattern(3, 1), (e) => (err = e));
    expect(err).toBeInstanceOf(LinkClosedError);
  });
});
