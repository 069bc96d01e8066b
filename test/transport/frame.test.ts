import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, Tag, decodeFrame, encodeFrame, writeHeader } from '../../src/transport/frame';

// The header bytes written out by hand from the layout in docs/arch-comm.md (little-endian).
function handFrame(
  f: { magic?: number; version?: number; tag?: number; stream?: number; seq?: number; idx?: number; count?: number; total?: number },
  payload: number[] = [],
): Uint8Array {
  const le16 = (v: number) => [v & 255, (v >>> 8) & 255];
  const le32 = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
  return new Uint8Array([
    ...le16(f.magic ?? 0x4d54), f.version ?? 1, f.tag ?? 1,
    ...le32(f.stream ?? 0), ...le32(f.seq ?? 0), ...le32(f.idx ?? 0), ...le32(f.count ?? 1),
    ...le32(f.total ?? payload.length), ...payload,
  ]);
}

describe('frame layout', () => {
  it('encodes the documented byte layout', () => {
    const buf = encodeFrame(
      { tag: Tag.Data, stream: 0xdeadbeef, seq: 0x01020304, chunkIndex: 2, chunkCount: 5, totalLength: 4000 },
      new Uint8Array([9, 8, 7]),
    );
    const want = handFrame({ tag: 1, stream: 0xdeadbeef, seq: 0x01020304, idx: 2, count: 5, total: 4000 }, [9, 8, 7]);
    expect([...new Uint8Array(buf)]).toEqual([...want]);
    expect(want[0]).toBe('T'.charCodeAt(0));
    expect(want[1]).toBe('M'.charCodeAt(0));
    expect(HEADER_BYTES).toBe(24);
  });

  it('writeHeader writes the same documented 24 bytes at any offset (a byte stream puts them after its length prefix)', () => {
    const h = new Uint8Array(4 + HEADER_BYTES); // [4 prefix + 24]
    writeHeader(h, 4, { tag: Tag.Ping, stream: 7, seq: 0xfffffffe, chunkIndex: 0, chunkCount: 1, totalLength: 3 });
    expect([...h.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    expect([...h.subarray(4)]).toEqual([...handFrame({ tag: 2, stream: 7, seq: 0xfffffffe, idx: 0, count: 1, total: 3 })]);
  });

  it('decodes a valid frame', () => {
    const r = decodeFrame(handFrame({ tag: 3, stream: 7, seq: 9, idx: 1, count: 3, total: 10 }, [1, 2, 3, 4]), 1024, 1 << 20);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.header).toEqual({ tag: 3, stream: 7, seq: 9, chunkIndex: 1, chunkCount: 3, totalLength: 10 });
    expect([...r.payload]).toEqual([1, 2, 3, 4]);
  });

  const cases: [string, Uint8Array, string][] = [
    ['truncated header', handFrame({}).subarray(0, 23), 'truncated'],
    ['empty', new Uint8Array(0), 'truncated'],
    ['bad magic', handFrame({ magic: 0x1234 }), 'badMagic'],
    ['bad version', handFrame({ version: 2 }), 'badVersion'],
    ['unknown tag 0', handFrame({ tag: 0 }), 'unknownTag'],
    ['unknown tag 99', handFrame({ tag: 99 }), 'unknownTag'],
    ['declared total too big', handFrame({ total: 2_000_000, count: 2 }, [1]), 'oversizedMessage'],
    ['frame too big', handFrame({ total: 2000 }, new Array(2000).fill(1)), 'oversizedFrame'],
    ['chunk index out of range', handFrame({ idx: 3, count: 3, total: 10 }, [1]), 'badChunk'],
    ['chunk count 0', handFrame({ idx: 0, count: 0, total: 0 }), 'badChunk'],
    ['more chunks than bytes', handFrame({ idx: 0, count: 5, total: 4 }, [1]), 'badChunk'],
    ['payload longer than total', handFrame({ idx: 0, count: 2, total: 2 }, [1, 2, 3]), 'badChunk'],
    ['single chunk shorter than total', handFrame({ count: 1, total: 5 }, [1, 2]), 'badChunk'],
    ['empty middle chunk', handFrame({ idx: 1, count: 3, total: 10 }), 'badChunk'],
  ];
  for (const [name, frame, reason] of cases) {
    it(`rejects: ${name}`, () => {
      const r = decodeFrame(frame, 1024, 1_000_000);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toBe(reason);
    });
  }
});
