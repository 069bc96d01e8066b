// The same-host channel (src/transport/uds-channel.node.ts) over real Unix domain sockets in a temp dir:
// through a Link (order, whole-frame bulk messages, back-pressure, close), against a raw socket that
// writes malformed or oversized frames, and the endpoint's handshake (token, ack, socket file).
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HEADER_BYTES, Tag, encodeFrame, type MsgKey } from '../../src/transport/frame';
import { Link, LinkClosedError } from '../../src/transport/link';
import { Mesh } from '../../src/transport/mesh';
import { GroupComm } from '../../src/collectives/group';
import { UDS_MAX_MESSAGE_BYTES, UdsChannel, UdsEndpoint, socketPathFor, udsLinkOptions } from '../../src/transport/uds-channel.node';

const key = (seq: number, stream = 7): MsgKey => ({ tag: Tag.Data, stream, seq });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pattern(n: number, salt: number): Uint8Array {
  const a = new Uint8Array(n); // [n]
  for (let i = 0; i < n; i++) a[i] = (i * 31 + salt * 17 + (i >> 8)) & 255;
  return a;
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tm-uds-'));
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A connected pair of raw sockets: [dialer side, listener side]. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const p = path.join(tmpDir(), 's.sock');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(p, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.createConnection(p);
  await new Promise<void>((r) => client.once('connect', () => r()));
  const s = await accepted;
  server.close();
  cleanup.push(() => {
    client.destroy();
    s.destroy();
  });
  return [client, s];
}

async function linkPair(max = UDS_MAX_MESSAGE_BYTES) {
  const [x, y] = await socketPair();
  const ca = new UdsChannel(x, { maxMessageSize: max });
  const cb = new UdsChannel(y, { maxMessageSize: max });
  return { a: new Link('B', ca, udsLinkOptions(max)), b: new Link('A', cb, udsLinkOptions(max)), ca, cb, x, y };
}

/** [u32 LE length][bytes]: what UdsChannel puts on the wire, built independently of it. */
function lengthPrefixed(body: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + body.byteLength);
  b.writeUInt32LE(body.byteLength, 0);
  b.set(body, 4);
  return b;
}

describe('UdsChannel through a Link', () => {
  it('delivers messages in order, a multi-MB one as a single frame', async () => {
    const { a, b } = await linkPair();
    const sizes = [0, 1, 4095, 8192, 16_384, 3 * 1024 * 1024 + 7, 100];
    await Promise.all(sizes.map((n, i) => a.send(key(i), pattern(n, i))));
    for (let i = 0; i < sizes.length; i++) {
      const got = await b.recv(key(i));
      expect(got.byteLength).toBe(sizes[i]);
      expect(Buffer.from(got).equals(Buffer.from(pattern(sizes[i], i)))).toBe(true);
    }
    expect(a.stats.framesOut).toBe(sizes.length); // no chunking below 16 MiB
    expect(b.stats.framesIn).toBe(sizes.length);
    expect(b.stats.bytesIn).toBe(sizes.reduce((s, n) => s + n + HEADER_BYTES, 0));
    // and back the other way, many small messages (the decode all-reduce pattern), still in order
    const small = Array.from({ length: 200 }, (_, i) => pattern(64, i));
    await Promise.all(small.map((m, i) => b.send(key(i, 9), m)));
    for (let i = 0; i < small.length; i++) expect(Buffer.from(await a.recv(key(i, 9))).equals(Buffer.from(small[i]))).toBe(true);
    expect(Object.values(b.stats.dropped).every((n) => n === 0)).toBe(true);
  });

  it('chunks a message above the channel limit and reassembles it', async () => {
    const { a, b } = await linkPair(64 * 1024);
    const data = pattern(300_000, 3);
    const got = b.recv(key(1));
    await a.send(key(1), data);
    expect(Buffer.from(await got).equals(Buffer.from(data))).toBe(true);
    expect(a.stats.framesOut).toBe(Math.ceil(300_000 / (64 * 1024 - HEADER_BYTES)));
  });

  it('applies back-pressure: pauses above the high-water mark and resumes on bufferedamountlow', async () => {
    const [x, y] = await socketPair();
    const ca = new UdsChannel(x);
    const cb = new UdsChannel(y);
    const a = new Link('B', ca, { ...udsLinkOptions(), highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024 });
    const b = new Link('A', cb, udsLinkOptions());
    let lows = 0;
    ca.addEventListener('bufferedamountlow', () => lows++);
    const msgs = Array.from({ length: 6 }, (_, i) => pattern(2 * 1024 * 1024, i)); // 12 MiB, far beyond the mark
    const sends = Promise.all(msgs.map((m, i) => a.send(key(i), m)));
    expect(ca.bufferedAmount).toBeGreaterThan(256 * 1024); // the first frame is queued in user space
    await sends;
    for (let i = 0; i < msgs.length; i++) expect(Buffer.from(await b.recv(key(i))).equals(Buffer.from(msgs[i]))).toBe(true);
    expect(a.stats.pauses).toBeGreaterThan(0);
    expect(lows).toBeGreaterThan(0); // resumed by the event, not only by the 50 ms poll
    expect(a.stats.maxBufferedAmount).toBeLessThanOrEqual(256 * 1024 + 2 * 1024 * 1024 + 2 * HEADER_BYTES);
  });

  it('close on one side fails the other side with LinkClosedError', async () => {
    const { a, b, cb } = await linkPair();
    const pending = b.recv(key(5));
    a.close();
    await expect(pending).rejects.toBeInstanceOf(LinkClosedError);
    expect(b.isClosed).toBe(true);
    expect(cb.readyState).toBe('closed');
    await expect(b.send(key(1), pattern(10, 1))).rejects.toBeInstanceOf(LinkClosedError);
    await expect(a.send(key(1), pattern(10, 1))).rejects.toBeInstanceOf(LinkClosedError);
  });

  it('send() resolves only once the socket no longer reads the caller\'s data (payload written in place)', async () => {
    const { a, b } = await linkPair();
    const n = 8 * 1024 * 1024; // far beyond the kernel's socket buffer: most of it waits in user space
    const data = pattern(n, 3);
    const want = Buffer.from(data); // an independent copy of what must arrive
    const got = b.recv(key(1));
    await a.send(key(1), data);
    data.fill(0); // allowed once send() resolved: must not reach the wire
    expect(Buffer.from(await got).equals(want)).toBe(true);
    expect(a.stats.framesOut).toBe(1);
  });

  it('a peer that stops reading and vanishes fails a send still in the socket with LinkClosedError', async () => {
    const [x, y] = await socketPair();
    y.pause(); // the raw peer never reads: the write cannot complete
    const a = new Link('B', new UdsChannel(x), udsLinkOptions());
    const sent = a.send(key(1), pattern(8 * 1024 * 1024, 1));
    let settled = false;
    sent.then(() => (settled = true), () => (settled = true));
    await sleep(50);
    expect(settled).toBe(false); // not resolved while the bytes are still ours
    y.destroy();
    await expect(sent).rejects.toBeInstanceOf(LinkClosedError);
  });

  it('allReduce between two GroupComms over a socket: exact sums, same bits on both, inputs untouched', async () => {
    const [x, y] = await socketPair();
    const ids = ['p0', 'p1'];
    const comms = [x, y].map((s, r) => {
      const mesh = new Mesh(ids[r]);
      mesh.addLink(ids[1 - r], new UdsChannel(s), udsLinkOptions());
      return new GroupComm(mesh, ids, ids[r], { timeoutMs: 10_000 });
    });
    for (const len of [3, 2048, 262_144 + 5]) {
      const ins = [0, 1].map((r) => Float32Array.from({ length: len }, (_, i) => Math.fround(Math.sin(i * (r + 1)) * 100))); // [len]
      const copies = ins.map((v) => v.slice()); // [len] each
      const outs = await Promise.all(comms.map((c, r) => c.allReduce(ins[r]))); // [len] each
      for (let r = 0; r < 2; r++) expect(ins[r]).toEqual(copies[r]);
      for (let i = 0; i < len; i++) {
        const want = Math.fround(copies[0][i] + copies[1][i]); // the f32 sum, computed here
        expect(outs[0][i]).toBe(want);
        expect(outs[1][i]).toBe(want);
      }
    }
    for (const c of comms) c.mesh.close();
  });

  it('the other process dying (socket destroyed) closes the link', async () => {
    const { b, x } = await linkPair();
    const pending = b.recv(key(5));
    x.destroy();
    await expect(pending).rejects.toBeInstanceOf(LinkClosedError);
  });
});

describe('UdsChannel handover from the handshake', () => {
  it('delivers bytes read together with the handshake first, then the rest of the stream, in order', async () => {
    const [raw, y] = await socketPair();
    const frame = (seq: number, n: number) => lengthPrefixed(new Uint8Array(encodeFrame({ tag: Tag.Data, stream: 7, seq, chunkIndex: 0, chunkCount: 1, totalLength: n }, pattern(n, seq))));
    const f1 = frame(1, 100);
    // The first frame and a half of the second were read with the handshake (the ack's sender did not wait).
    const f2 = frame(2, 5000);
    const cb = new UdsChannel(y, { leftover: Buffer.concat([f1, f2.subarray(0, 2500)]) });
    raw.write(f2.subarray(2500));
    raw.write(frame(3, 7));
    await sleep(20); // no Link yet: nothing may be consumed and lost meanwhile
    const b = new Link('A', cb, udsLinkOptions());
    for (const [seq, n] of [[1, 100], [2, 5000], [3, 7]]) expect(Buffer.from(await b.recv(key(seq))).equals(Buffer.from(pattern(n, seq)))).toBe(true);
  });
});

describe('UdsChannel framing of the byte stream', () => {
  const frameOf = (seq: number, body: Uint8Array) =>
    lengthPrefixed(new Uint8Array(encodeFrame({ tag: Tag.Data, stream: 7, seq, chunkIndex: 0, chunkCount: 1, totalLength: body.length }, body)));

  it('reassembles a frame whose prefix and body arrive in many small reads', async () => {
    const [raw, y] = await socketPair();
    const b = new Link('A', new UdsChannel(y), udsLinkOptions());
    const body = pattern(70_000, 5); // bigger than one 64 KiB read even if it came at once
    const bytes = frameOf(1, body);
    const got = b.recv(key(1));
    // 1-, 2- and 3-byte pieces first (the length prefix itself split), then odd-sized pieces, each its own read
    const cuts = [1, 2, 3, 5, 24, 1000, 4093, 30_000];
    let off = 0;
    for (const c of cuts) {
      raw.write(bytes.subarray(off, off + c));
      off += c;
      await sleep(2);
    }
    raw.write(bytes.subarray(off));
    expect(Buffer.from(await got).equals(Buffer.from(body))).toBe(true);
    expect(b.stats.framesIn).toBe(1);
  });

  it('several messages in one read: each gets bytes of its own (modifying one leaves the others intact)', async () => {
    const [raw, y] = await socketPair();
    const b = new Link('A', new UdsChannel(y), udsLinkOptions());
    // One big message filling most of the read (delivered as a view of it), small ones around it (copied),
    // and one cut at the end that the next write completes.
    const bodies = [pattern(16, 1), pattern(20_000, 2), pattern(12, 3), pattern(3000, 4)];
    const all = Buffer.concat(bodies.map((m, i) => frameOf(i, m)));
    raw.write(all.subarray(0, all.length - 1000));
    await sleep(20);
    raw.write(all.subarray(all.length - 1000));
    const got: Uint8Array[] = [];
    for (let i = 0; i < bodies.length; i++) got.push(await b.recv(key(i)));
    for (let i = 0; i < bodies.length; i++) expect(Buffer.from(got[i]).equals(Buffer.from(bodies[i])), `message ${i}`).toBe(true);
    // A receiver may modify what it got (GroupComm sums in place): the others must not change.
    for (let j = 0; j < got.length; j++) {
      got[j].fill(0xee);
      for (let i = j + 1; i < bodies.length; i++) expect(Buffer.from(got[i]).equals(Buffer.from(bodies[i])), `message ${i} after ${j}`).toBe(true);
    }
  });

  it('a small frame sent alone and a burst of them in one tick both arrive whole and in order', async () => {
    const { a, b } = await linkPair();
    await a.send(key(1), pattern(100, 1)); // alone: written at once
    const burst = Array.from({ length: 50 }, (_, i) => pattern(17 + i, i)); // one tick: corked, one writev
    const sent = burst.map((m, i) => a.send(key(100 + i), m));
    await Promise.all(sent);
    expect(Buffer.from(await b.recv(key(1))).equals(Buffer.from(pattern(100, 1)))).toBe(true);
    for (let i = 0; i < burst.length; i++) expect(Buffer.from(await b.recv(key(100 + i))).equals(Buffer.from(burst[i]))).toBe(true);
  });
});

describe('UdsChannel against malformed input', () => {
  it('drops frames the Link does not understand, as on WebRTC, and keeps going', async () => {
    const [raw, y] = await socketPair();
    const cb = new UdsChannel(y);
    const b = new Link('A', cb, udsLinkOptions());
    const good = pattern(1000, 4);
    const badMagic = new Uint8Array(HEADER_BYTES + 8); // all zero: magic 0
    const unknownTag = new Uint8Array(encodeFrame({ tag: 99, stream: 7, seq: 1, chunkIndex: 0, chunkCount: 1, totalLength: 4 }, pattern(4, 1)));
    const short = new Uint8Array([0x54, 0x4d, 1]); // shorter than a header
    // one write with everything, split at awkward places by a second one: framing must not care
    const all = Buffer.concat([lengthPrefixed(badMagic), lengthPrefixed(unknownTag), lengthPrefixed(short),
      lengthPrefixed(new Uint8Array(encodeFrame({ tag: Tag.Data, stream: 7, seq: 1, chunkIndex: 0, chunkCount: 1, totalLength: good.length }, good)))]);
    raw.write(all.subarray(0, 3));
    await sleep(5);
    raw.write(all.subarray(3, 50));
    raw.write(all.subarray(50));
    expect(Buffer.from(await b.recv(key(1))).equals(Buffer.from(good))).toBe(true);
    expect(b.stats.dropped.badMagic).toBe(1);
    expect(b.stats.dropped.unknownTag).toBe(1);
    expect(b.stats.dropped.truncated).toBe(1);
    expect(b.isClosed).toBe(false);
  });

  it('refuses an oversized frame: the channel closes with the reason, the Link fails pending calls', async () => {
    const [raw, y] = await socketPair();
    const cb = new UdsChannel(y, { maxMessageSize: 1 << 20 });
    const b = new Link('A', cb, udsLinkOptions(1 << 20));
    const pending = b.recv(key(1));
    const head = Buffer.alloc(4);
    head.writeUInt32LE((1 << 20) + 1, 0);
    raw.write(head);
    await expect(pending).rejects.toBeInstanceOf(LinkClosedError);
    expect(cb.closeReason).toMatch(/1048577 bytes exceeds maxMessageSize 1048576/);
  });

  it('send() refuses a message above maxMessageSize, like RTCDataChannel', async () => {
    const [x] = await socketPair();
    const ca = new UdsChannel(x, { maxMessageSize: 1000 });
    expect(() => ca.send(new ArrayBuffer(1001))).toThrow(/exceeds maxMessageSize 1000/);
    ca.close();
    expect(() => ca.send(new ArrayBuffer(10))).toThrow(/closing|closed/);
  });
});

describe('UdsEndpoint', () => {
  it('listens on a 0600 socket named after the peer, acks a dialer with the token once accepted, removes the file on close', async () => {
    const dir = tmpDir();
    const a = await UdsEndpoint.listen('tm-a', { dir });
    const b = await UdsEndpoint.listen('tm-b', { dir });
    cleanup.push(() => { a.close(); b.close(); });
    expect(a.address).toBe(socketPathFor('tm-a', dir));
    expect(fs.statSync(a.address).mode & 0o777).toBe(0o600);
    expect(a.hostKey).toBe(b.hostKey);
    // b dials first; a claims it a little later: the dial waits for that ack
    const dialed = b.dial(a.address, a.token, 5000);
    await sleep(30);
    const accepted = await a.accept('tm-b', new AbortController().signal);
    const chB = await dialed;
    const la = new Link('tm-b', accepted, a.linkOptions);
    const lb = new Link('tm-a', chB, b.linkOptions);
    const big = pattern(5_000_000, 7);
    const got = la.recv(key(1));
    await lb.send(key(1), big);
    expect(Buffer.from(await got).equals(Buffer.from(big))).toBe(true);
    la.close();
    a.close();
    expect(fs.existsSync(a.address)).toBe(false);
  });

  it('a wrong token is refused, and an unclaimed dial times out', async () => {
    const dir = tmpDir();
    const a = await UdsEndpoint.listen('tm-a', { dir });
    const b = await UdsEndpoint.listen('tm-b', { dir });
    cleanup.push(() => { a.close(); b.close(); });
    await expect(b.dial(a.address, 'not-the-token', 2000)).rejects.toThrow(/closed/);
    await expect(b.dial(a.address, a.token, 200)).rejects.toThrow(/no handshake within 200 ms/);
    await expect(b.dial(path.join(dir, 'nobody.sock'), a.token, 200)).rejects.toThrow(/ENOENT/);
    const ctrl = new AbortController();
    const waiting = a.accept('tm-c', ctrl.signal);
    ctrl.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
  });
});
