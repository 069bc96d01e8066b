// The part of RTCDataChannel a Link uses. A real RTCDataChannel satisfies it (PeerJS: `conn.dataChannel` of a
// connection opened with `{ serialization: 'raw', reliable: true }`; reliable matters: PeerJS creates the
// channel with `ordered: !!reliable`, and the Link relies on in-order, lossless delivery of chunks).
// The loopback transport (loopback.ts) implements it in memory for tests.

export interface ChannelMessageEvent {
  data: unknown; // ArrayBuffer when binaryType is 'arraybuffer'; anything else is dropped and counted
}

export interface ChannelLike {
  /** 'connecting' | 'open' | 'closing' | 'closed'. Sends wait for 'open'. */
  readonly readyState: string;
  /** Bytes handed to send() and not yet on the wire. */
  readonly bufferedAmount: number;
  /** The Link sets it to its low-water mark; 'bufferedamountlow' fires when bufferedAmount falls to it. */
  bufferedAmountLowThreshold: number;
  /** The Link sets 'arraybuffer' (a Blob would need an async read that could reorder messages). */
  binaryType?: string;
  /** Largest send() accepted. RTCDataChannel has no such field: pass pc.sctp.maxMessageSize to the Link. */
  readonly maxMessageSize?: number;
  /** The Link only ever sends whole frames as fresh ArrayBuffers. May throw (closed, too big, queue full). */
  send(data: ArrayBuffer): void;
  addEventListener(type: 'message', listener: (ev: ChannelMessageEvent) => void): void;
  addEventListener(type: 'open' | 'close' | 'bufferedamountlow', listener: () => void): void;
  removeEventListener(type: 'message', listener: (ev: ChannelMessageEvent) => void): void;
  removeEventListener(type: 'open' | 'close' | 'bufferedamountlow', listener: () => void): void;
  close(): void;
}
