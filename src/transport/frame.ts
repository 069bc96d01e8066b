// Wire format of one frame on a raw binary data channel, and the limits the receiver enforces.
// A message (any byte string, possibly empty) is split into 1..n frames; every frame carries the full
// routing key and the message's total length so a receiver can validate it without any prior state.
//
// Header, 24 bytes, little-endian (24 keeps the payload 4-byte aligned, so a single-chunk Float32 payload
// can be viewed in place):
//   off  size  field
//    0    u16  magic        0x4D54 ("TM" on the wire): rejects bytes that are not ours (another protocol on
//                           the same PeerJS connection, a 'binary'/'json' serializer, garbage)
//    2    u8   version      FRAME_VERSION; a peer running another build is dropped, not misparsed
//    3    u8   tag          Tag.*: what the message is; unknown tags are dropped
//    4    u32  stream       who it is for (a collective group's id; 0 = link control)
//    8    u32  seq          which message of that stream (collectives pack call sequence and step here)
//   12    u32  chunkIndex   0..chunkCount-1, in order (the channel is ordered and reliable)
//   16    u32  chunkCount   >= 1
//   20    u32  totalLength  bytes of the whole message (sum of every chunk's payload)
//   24    ...  payload

export const FRAME_MAGIC = 0x4d54;
export const FRAME_VERSION = 1;
export const HEADER_BYTES = 24;

/** Message kinds. Data is routed to receive queues; the link answers Ping and Probe itself (bench.ts). */
export const Tag = {
  Data: 1, // collective / application payload, matched by (tag, stream, seq)
  Ping: 2, // echo request: the remote link answers with Pong carrying the same payload
  Pong: 3,
  Probe: 4, // bulk throughput probe: the remote link answers with an empty Ack once it has all bytes
  Ack: 5,
} as const;
export type TagValue = (typeof Tag)[keyof typeof Tag];

export function isKnownTag(t: number): t is TagValue {
  return t >= Tag.Data && t <= Tag.Ack;
}

/** Chromium's pc.sctp.maxMessageSize: a larger send() throws. Used when the channel does not say. */
export const DEFAULT_MAX_FRAME_BYTES = 262_144;

/** Frames we build are at most this big even if the channel allows more: BROWSER.md measured ~45 MiB/s
 *  between tabs with 64 KiB chunks, and smaller SCTP messages keep a big transfer from delaying a small
 *  latency-critical message queued behind it on the same channel for long (~1.4 ms per 64 KiB at 45 MiB/s). */
export const TARGET_FRAME_BYTES = 65_536;

/** Largest message (declared totalLength) a receiver accepts. It bounds what one bogus header can make us
 *  buffer; callers move bigger things (model shards) as several messages of at most one tensor each. */
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

export interface FrameHeader {
  tag: number;
  stream: number;
  seq: number;
  chunkIndex: number;
  chunkCount: number;
  totalLength: number;
}

/** Builds one frame: header + a copy of `payload` in a fresh ArrayBuffer (what channel.send takes). */
export function encodeFrame(h: FrameHeader, payload: Uint8Array): ArrayBuffer {
  const buf = new ArrayBuffer(HEADER_BYTES + payload.byteLength); // [24 + chunk bytes]
  const u8 = new Uint8Array(buf);
  writeHeader(u8, 0, h);
  u8.set(payload, HEADER_BYTES);
  return buf;
}

/** Writes the 24 header bytes at dst[off..off+24), e.g. right after a byte stream's length prefix. Byte by
 *  byte: no DataView to allocate per frame, and any offset works. */
export function writeHeader(dst: Uint8Array, off: number, h: FrameHeader): void {
  dst[off] = FRAME_MAGIC & 0xff;
  dst[off + 1] = FRAME_MAGIC >>> 8;
  dst[off + 2] = FRAME_VERSION;
  dst[off + 3] = h.tag;
  putU32(dst, off + 4, h.stream);
  putU32(dst, off + 8, h.seq);
  putU32(dst, off + 12, h.chunkIndex);
  putU32(dst, off + 16, h.chunkCount);
  putU32(dst, off + 20, h.totalLength);
}

function putU32(dst: Uint8Array, off: number, v: number): void {
  dst[off] = v & 0xff;
  dst[off + 1] = (v >>> 8) & 0xff;
  dst[off + 2] = (v >>> 16) & 0xff;
  dst[off + 3] = (v >>> 24) & 0xff;
}

/** Why a frame was dropped; each has a counter in LinkStats.dropped. */
export type DropReason =
  | 'nonBinary' // a string / Blob arrived: not from our sender
  | 'oversizedFrame' // longer than the receiver's max frame size
  | 'truncated' // shorter than the header
  | 'badMagic'
  | 'badVersion'
  | 'unknownTag'
  | 'oversizedMessage' // declared totalLength above the receiver's max message size
  | 'badChunk' // index/count/length inconsistent with the header or with earlier chunks
  | 'queueOverflow'; // the receiver already buffers too many unclaimed bytes from this peer

export type DecodeResult = { ok: true; header: FrameHeader; payload: Uint8Array } | { ok: false; reason: DropReason };

/** Validates everything that can be checked from one frame alone. */
export function decodeFrame(frame: Uint8Array, maxFrameBytes: number, maxMessageBytes: number): DecodeResult {
  if (frame.byteLength > maxFrameBytes) return { ok: false, reason: 'oversizedFrame' };
  if (frame.byteLength < HEADER_BYTES) return { ok: false, reason: 'truncated' };
  const dv = new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES);
  if (dv.getUint16(0, true) !== FRAME_MAGIC) return { ok: false, reason: 'badMagic' };
  if (dv.getUint8(2) !== FRAME_VERSION) return { ok: false, reason: 'badVersion' };
  const tag = dv.getUint8(3);
  if (!isKnownTag(tag)) return { ok: false, reason: 'unknownTag' };
  const header: FrameHeader = {
    tag,
    stream: dv.getUint32(4, true),
    seq: dv.getUint32(8, true),
    chunkIndex: dv.getUint32(12, true),
    chunkCount: dv.getUint32(16, true),
    totalLength: dv.getUint32(20, true),
  };
  if (header.totalLength > maxMessageBytes) return { ok: false, reason: 'oversizedMessage' };
  const payload = frame.subarray(HEADER_BYTES); // [chunk bytes]
  const { chunkIndex, chunkCount, totalLength } = header;
  // Every chunk but an empty message's single one carries >= 1 byte, so count <= max(1, total).
  if (chunkCount < 1 || chunkIndex >= chunkCount || chunkCount > Math.max(1, totalLength)) {
    return { ok: false, reason: 'badChunk' };
  }
  if (payload.byteLength > totalLength || (chunkCount > 1 && payload.byteLength === 0)) {
    return { ok: false, reason: 'badChunk' };
  }
  if (chunkCount === 1 && payload.byteLength !== totalLength) return { ok: false, reason: 'badChunk' };
  return { ok: true, header, payload };
}

/** Key of one message in the receive queues. */
export interface MsgKey {
  tag: number;
  stream: number;
  seq: number;
}

export function keyString(k: MsgKey): string {
  return `${k.tag}:${k.stream >>> 0}:${k.seq >>> 0}`;
}
