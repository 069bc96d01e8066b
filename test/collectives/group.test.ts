import { describe, expect, it } from 'vitest';
import { CollectiveError } from '../../src/collectives/errors';
import { DIRECT_MAX_BYTES, GroupComm, groupStream } from '../../src/collectives/group';
import { loopbackComms, loopbackGroup } from '../../src/collectives/loopback';
import { Tag, encodeFrame } from '../../src/transport/frame';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values spanning six orders of magnitude and both signs, so the summation order changes the rounding. */
function vec(len: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(len); // [len]
  for (let i = 0; i < len; i++) a[i] = (r() - 0.5) * 10 ** (r() * 6 - 3);
  return a;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Independent reference: float64 sum, compared with a tolerance scaled by the sum of magnitudes. */
function expectCloseToSum(got: Float32Array, inputs: Float32Array[]) {
  expect(got.length).toBe(inputs[0].length);
  for (let i = 0; i < got.length; i++) {
    let s = 0;
    let mag = 0;
    for (const v of inputs) {
      s += v[i];
      mag += Math.abs(v[i]);
    }
    const err = Math.abs(got[i] - s);
    if (err > 4e-7 * inputs.length * mag + 1e-30) throw new Error(`index ${i}: got ${got[i]}, want ${s} (mag ${mag})`);
  }
}

/** Float32 sum in rank order 0..n-1, written with Math.fround: what both allReduce algorithms promise. */
function rankOrderF32(inputs: Float32Array[]): Float32Array {
  const out = new Float32Array(inputs[0].length); // [len]
  for (let i = 0; i < out.length; i++) {
    let s = inputs[0][i];
    for (let r = 1; r < inputs.length; r++) s = Math.fround(s + inputs[r][i]);
    out[i] = s;
  }
  return out;
}

/** Bitwise equality with a short message (toEqual on big typed arrays is very slow). */
function expectSameBits(a: Float32Array, b: Float32Array, what = '') {
  expect(a.length, what).toBe(b.length);
  const x = bits(a);
  const y = bits(b);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) throw new Error(`${what} index ${i}: ${a[i]} (0x${x[i].toString(16)}) != ${b[i]} (0x${y[i].toString(16)})`);
  }
}

function expectAllBitwiseEqual(results: Float32Array[]) {
  for (let r = 1; r < results.length; r++) expectSameBits(results[r], results[0], `rank ${r} vs rank 0`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GroupComm allReduce', () => {
  const lengths = [0, 1, 3, 7, 250, 1001];
  for (let n = 1; n <= 5; n++) {
    for (const directMaxBytes of [DIRECT_MAX_BYTES, 8]) {
      const algo = directMaxBytes === 8 && n > 2 ? 'two-round' : 'direct';
      it(`n=${n} ${algo} (directMaxBytes ${directMaxBytes}), lengths ${lengths.join('/')}`, async () => {
        const comms = loopbackComms(n, { directMaxBytes, timeoutMs: 10_000 });
        for (const len of lengths) {
          const inputs = comms.map((_, r) => vec(len, 1000 * n + 10 * r + len));
          const results = await Promise.all(comms.map((c, r) => c.allReduce(inputs[r])));
          expectCloseToSum(results[0], inputs);
          expectAllBitwiseEqual(results);
          // Both algorithms sum in rank order: the threshold never changes the bits.
          expectSameBits(results[0], rankOrderF32(inputs), 'rank-order f32 sum');
          // inputs untouched, results are fresh arrays
          inputs.forEach((v, r) => expectSameBits(v, vec(len, 1000 * n + 10 * r + len), 'input'));
        }
      });
    }
  }

  it('large vectors cross the threshold and the chunk size with default settings (n=3, n=5 two rounds, n=2 direct)', async () => {
    for (const [n, len] of [[3, 40_001], [5, 70_003], [2, 30_000]]) {
      const comms = loopbackComms(n);
      const inputs = comms.map((_, r) => vec(len, 77 + r));
      expect(len * 4).toBeGreaterThan(DIRECT_MAX_BYTES);
      const results = await Promise.all(comms.map((c, r) => c.allReduce(inputs[r])));
      expectCloseToSum(results[0], inputs);
      expectAllBitwiseEqual(results);
      expectSameBits(results[0], rankOrderF32(inputs), 'rank-order f32 sum');
    }
  });

  it('rejects mismatched lengths with a protocol error naming the other peer', async () => {
    const comms = loopbackComms(2, { timeoutMs: 2000 });
    const [e0, e1] = await Promise.all([
      comms[0].allReduce(new Float32Array(4)).catch((e) => e),
      comms[1].allReduce(new Float32Array(5)).catch((e) => e),
    ]);
    expect(e0).toBeInstanceOf(CollectiveError);
    expect(e0).toMatchObject({ kind: 'protocol', peer: 'p1' });
    expect(e1).toMatchObject({ kind: 'protocol', peer: 'p0' });
  });
});

describe('GroupComm allGather / broadcast / barrier', () => {
  for (let n = 1; n <= 5; n++) {
    it(`allGather with different sizes per rank, n=${n}`, async () => {
      const comms = loopbackComms(n);
      for (const base of [0, 1, 300, 20_000]) {
        const inputs = comms.map((_, r) => vec(base === 0 ? r % 2 : base + 13 * r, 5 * r + base));
        const results = await Promise.all(comms.map((c, r) => c.allGather(inputs[r])));
        for (const res of results) {
          expect(res.length).toBe(n);
          res.forEach((v, r) => expectSameBits(v, inputs[r], `allGather part ${r}`));
        }
      }
    });

    it(`broadcast from every root, direct and scatter, n=${n}`, async () => {
      for (const directMaxBytes of [DIRECT_MAX_BYTES, 16]) {
        const comms = loopbackComms(n, { directMaxBytes });
        for (const T of [0, 1, 5, 4097, 100_003]) {
          for (let root = 0; root < n; root++) {
            const data = new Uint8Array(vec(Math.ceil(T / 4), T + root).buffer, 0, T);
            const results = await Promise.all(comms.map((c, r) => c.broadcast(r === root ? data : null, root)));
            for (const res of results) expect(Buffer.from(res).equals(Buffer.from(data))).toBe(true);
          }
        }
      }
    });
  }

  it('barrier waits for the last member', async () => {
    const comms = loopbackComms(3);
    let late = false;
    const early = Promise.all([comms[0].barrier(), comms[1].barrier()]).then(() => expect(late).toBe(true));
    await sleep(30);
    late = true;
    await Promise.all([early, comms[2].barrier()]);
  });

  it('broadcast rejects a bad root or a root without data', async () => {
    const comms = loopbackComms(2);
    await expect(comms[0].broadcast(new Uint8Array(1), 2)).rejects.toMatchObject({ kind: 'usage' });
    await expect(comms[0].broadcast(null, 0)).rejects.toMatchObject({ kind: 'usage' });
  });
});

describe('GroupComm concurrency, failures, robustness', () => {
  it('several outstanding collectives, ranks entering at different times', async () => {
    const n = 4;
    const comms = loopbackComms(n, { directMaxBytes: 64 });
    const inputs = (k: number) => comms.map((_, r) => vec(100 + k, 31 * k + r));
    const perRank = comms.map(async (c, r) => {
      await sleep((r * 7) % 13); // rank order of arrival differs from rank order
      const g = c.allGather(inputs(0)[r]); // awaited only at the end (DistriFusion style)
      const a1 = c.allReduce(inputs(1)[r]); // issued back to back (tensor parallel style)
      const a2 = c.allReduce(inputs(2)[r]);
      const b = c.broadcast(r === 2 ? new Uint8Array([1, 2, 3]) : null, 2);
      const a3 = await c.allReduce(inputs(3)[r]);
      return { g: await g, a1: await a1, a2: await a2, a3, b: await b };
    });
    const res = await Promise.all(perRank);
    for (const k of [1, 2, 3] as const) {
      const key = `a${k}` as 'a1' | 'a2' | 'a3';
      expectCloseToSum(res[0][key], inputs(k));
      expectAllBitwiseEqual(res.map((x) => x[key]));
    }
    for (const x of res) {
      x.g.forEach((v, r) => expectSameBits(v, inputs(0)[r], `allGather part ${r}`));
      expect([...x.b]).toEqual([1, 2, 3]);
    }
  });

  it('a member leaving mid-collective fails it with that peer named, well before the timeout', async () => {
    const timeoutMs = 5000;
    const g = loopbackGroup(3, { timeoutMs, directMaxBytes: 16 });
    const t0 = Date.now();
    const calls = [0, 1].map((r) => g.comms[r].allReduce(vec(1000, r)).catch((e) => e));
    await sleep(20);
    for (const peer of ['p0', 'p1']) g.channel('p2', peer).close(); // p2's tab goes away
    const errs = await Promise.all(calls);
    for (const e of errs) {
      expect(e).toBeInstanceOf(CollectiveError);
      expect(e).toMatchObject({ peer: 'p2', kind: 'peer-closed' });
      expect(e.message).toContain('p2');
    }
    expect(Date.now() - t0).toBeLessThan(timeoutMs);
    // the group stays broken: later calls fail at once with the same peer
    await expect(g.comms[0].barrier()).rejects.toMatchObject({ peer: 'p2', kind: 'peer-closed' });
  });

  it('a member that never calls makes the collective time out, naming it', async () => {
    const comms = loopbackComms(3, { timeoutMs: 150 });
    const t0 = Date.now();
    const [e0, e1] = await Promise.all([0, 1].map((r) => comms[r].allReduce(new Float32Array(8)).catch((e) => e)));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(e0).toMatchObject({ kind: 'timeout', peer: 'p2' });
    expect(e1).toMatchObject({ kind: 'timeout', peer: 'p2' });
  });

  it('one shared deadline timer: calls time out at their own deadlines, others stay unaffected', async () => {
    const comms = loopbackComms(2, { timeoutMs: 600 });
    const t0 = Date.now();
    const a = comms[0].allReduce(new Float32Array([1, 2, 3])); // deadline 600 ms
    const b = comms[0].barrier(100).catch((e) => e); // later call, earlier deadline
    const eb = await b;
    const tb = Date.now() - t0;
    expect(eb).toBeInstanceOf(CollectiveError);
    expect(eb).toMatchObject({ kind: 'timeout', peer: 'p1', op: 'barrier#1' });
    expect(tb).toBeGreaterThanOrEqual(95);
    expect(tb).toBeLessThan(550);
    // p1 joins the first call late, well before its deadline: it completes normally
    const [x, y] = await Promise.all([a, comms[1].allReduce(new Float32Array([10, 20, 30]))]);
    expect([...x, ...y]).toEqual([11, 22, 33, 11, 22, 33]);
    expect(Date.now() - t0).toBeLessThan(550);
    // no call outstanding: no timer left armed (it would keep a Node process alive for the full deadline)
    for (const c of comms) expect((c as unknown as { timer: unknown }).timer).toBeNull();
    // and a later call still gets a deadline of its own
    const t1 = Date.now();
    await expect(comms[0].allReduce(new Float32Array(1))).rejects.toMatchObject({ kind: 'timeout', peer: 'p1' });
    expect(Date.now() - t1).toBeGreaterThanOrEqual(590);
  });

  it('a message that arrives before its call is buffered and used; results match the rank-order sum', async () => {
    const comms = loopbackComms(3, { timeoutMs: 5000 });
    const inputs = [0, 1, 2].map((r) => vec(300, 40 + r));
    const early = [comms[1].allReduce(inputs[1]), comms[2].allReduce(inputs[2])];
    await sleep(30); // p1's and p2's messages wait in p0's link queues
    const results = await Promise.all([comms[0].allReduce(inputs[0]), ...early]);
    const want = rankOrderF32(inputs);
    results.forEach((r, i) => expectSameBits(r, want, `rank ${i}`));
  });

  it('garbage frames between collectives are dropped and counted; results stay right', async () => {
    const g = loopbackGroup(3, { directMaxBytes: 64 });
    const stream = g.comms[0].stream;
    const ch = g.channel('p1', 'p0');
    ch.injectToPeer(new Uint8Array([1, 2, 3]).buffer); // truncated
    ch.injectToPeer(encodeFrame({ tag: 77, stream, seq: 0, chunkIndex: 0, chunkCount: 1, totalLength: 0 }, new Uint8Array(0)));
    ch.injectToPeer(encodeFrame({ tag: Tag.Data, stream, seq: 0, chunkIndex: 4, chunkCount: 2, totalLength: 8 }, new Uint8Array(4)));
    const inputs = g.comms.map((_, r) => vec(333, r));
    const results = await Promise.all(g.comms.map((c, r) => c.allReduce(inputs[r])));
    expectCloseToSum(results[0], inputs);
    expectAllBitwiseEqual(results);
    const d = g.meshes[0].link('p1')!.stats.dropped;
    expect(d.truncated + d.unknownTag + d.badChunk).toBe(3);
  });

  it('groups on the same peers are kept apart by groupId; a duplicate is refused', async () => {
    const g = loopbackGroup(2);
    const ids = ['p0', 'p1'];
    const tp = g.meshes.map((m, r) => new GroupComm(m, ids, ids[r], { groupId: 'tp' }));
    expect(tp[0].stream).toBe(groupStream('tp', ids));
    expect(() => new GroupComm(g.meshes[0], ids, 'p0', { groupId: 'tp' })).toThrow(/already claimed/);
    const [x, y] = await Promise.all([
      Promise.all(g.comms.map((c, r) => c.allReduce(new Float32Array([r + 1])))),
      Promise.all(tp.map((c, r) => c.allReduce(new Float32Array([10 * (r + 1)])))),
    ]);
    expect([...x[0], ...x[1], ...y[0], ...y[1]]).toEqual([3, 3, 30, 30]);
    // a message that arrived for tp but was never received is freed by dispose
    await g.meshes[1].send('p0', { tag: Tag.Data, stream: tp[0].stream, seq: 999 }, new Uint8Array(40));
    await sleep(10);
    expect(g.meshes[0].link('p1')!.unclaimedBytes).toBe(40);
    const pending = tp[0].allReduce(new Float32Array(1));
    tp[0].dispose();
    await expect(pending).rejects.toMatchObject({ kind: 'disposed' });
    expect(g.meshes[0].link('p1')!.unclaimedBytes).toBe(0);
    expect(() => new GroupComm(g.meshes[0], ids, 'p0', { groupId: 'tp' })).not.toThrow();
  });
});

describe('GroupComm allReduce, int8 wire', () => {
  /** Every rank's |values| maxima over [i-63, i+63] summed: a bound on the 64-value blocks (in any
   *  alignment: direct blocks start at 0, two-round blocks at each segment's start) that hold element i. */
  function windowSum(inputs: Float32Array[], i: number): number {
    let s = 0;
    for (const v of inputs) {
      let m = 0;
      for (let j = Math.max(0, i - 63); j < Math.min(v.length, i + 64); j++) m = Math.max(m, Math.abs(v[j]));
      s += m;
    }
    return s;
  }

  /** Independent bound: each rank's values round to the nearest of 255 levels of their block's max (half a level,
   *  1/254 of it, off at most); the two-round form also rounds the sum once more before sending it out. */
  function expectWithinI8(got: Float32Array, inputs: Float32Array[], twoRound: boolean) {
    for (let i = 0; i < got.length; i++) {
      let s = 0;
      for (const v of inputs) s += v[i];
      const S = windowSum(inputs, i);
      const bound = S / 254 + (twoRound ? (S * (1 + 1 / 254)) / 254 : 0) + S * 1e-6;
      const err = Math.abs(got[i] - s);
      if (err > bound) throw new Error(`index ${i}: got ${got[i]}, want ${s}, error ${err} > bound ${bound}`);
    }
  }

  const lengths = [0, 1, 3, 7, 250, 1001];
  for (let n = 2; n <= 5; n++) {
    for (const directMaxBytes of [DIRECT_MAX_BYTES, 8]) {
      const twoRound = directMaxBytes === 8 && n > 2;
      it(`n=${n} ${twoRound ? 'two-round' : 'direct'}: identical bits on every rank, within int8 rounding of the sum`, async () => {
        const comms = loopbackComms(n, { directMaxBytes, timeoutMs: 10_000 });
        for (const len of lengths) {
          const inputs = comms.map((_, r) => vec(len, 500 * n + 10 * r + len));
          const results = await Promise.all(comms.map((c, r) => c.allReduce(inputs[r], 'i8')));
          expectAllBitwiseEqual(results);
          expectWithinI8(results[0], inputs, twoRound);
          inputs.forEach((v, r) => expectSameBits(v, vec(len, 500 * n + 10 * r + len), 'input'));
        }
      });
    }
  }

  it('moves about a quarter of the f32 bytes; the f32 wire of the same call stays exact', async () => {
    const n = 3;
    const len = 64 * 1000;
    const comms = loopbackComms(n);
    const inputs = comms.map((_, r) => vec(len, 9 + r));
    const sent = () => comms.reduce((a, c) => a + Object.values((c as GroupComm).mesh.stats()).reduce((b, s) => b + s.bytesOut, 0), 0);
    const b0 = sent();
    const exact = await Promise.all(comms.map((c, r) => c.allReduce(inputs[r])));
    const b1 = sent();
    const i8 = await Promise.all(comms.map((c, r) => c.allReduce(inputs[r], 'i8')));
    const b2 = sent();
    expectSameBits(exact[0], rankOrderF32(inputs), 'f32 wire');
    expectAllBitwiseEqual(i8);
    expectWithinI8(i8[0], inputs, true);
    // f32: 2(n-1)/n * 4 bytes per value per rank; i8: 1 + 4/64 bytes per value instead of 4 (frame headers aside)
    expect((b2 - b1) / (b1 - b0)).toBeGreaterThan(0.26);
    expect((b2 - b1) / (b1 - b0)).toBeLessThan(0.28);
  });

  it('a carrier of the wrong size is a protocol error naming the sender; an unknown wire is a usage error', async () => {
    const comms = loopbackComms(2, { timeoutMs: 2000 });
    const [e0, e1] = await Promise.all([
      comms[0].allReduce(new Float32Array(64), 'i8').catch((e) => e),
      comms[1].allReduce(new Float32Array(65), 'i8').catch((e) => e),
    ]);
    expect(e0).toMatchObject({ kind: 'protocol', peer: 'p1' });
    expect(String(e0.message)).toContain('int8 carrier');
    expect(e1).toMatchObject({ kind: 'protocol', peer: 'p0' });
    await expect(comms[0].allReduce(new Float32Array(4), 'f8' as 'i8')).rejects.toMatchObject({ kind: 'usage' });
  });
});
