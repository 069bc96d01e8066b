// node-datachannel (libdatachannel / usrsctp) SCTP settings for headless peers. Global to the process and
// read when an association starts, so apply before the first RTCPeerConnection. Browsers tune their own
// SCTP stack; this only touches Node peers (the DistriFusion / multi-GPU benches, `tabmesh peer`).
//
// Why: usrsctp's stock window (libdatachannel's default receive/send buffers are ~1 MiB, initial cwnd a few
// MTUs) caps one association on a loopback / LAN link at a few tens of MB/s: the sender stalls waiting for
// SACKs long before the wire is busy. A DistriFusion step moves 5-50 MB per peer, so the window, not the
// link, set the step time. Bigger buffers keep more bytes in flight per RTT (bandwidth-delay product:
// even 1 GB/s x 1 ms RTT is 1 MB), and a short delayed-SACK time returns window credit sooner.

/** The settings we pass to setSctpSettings (numbers measured with bench/distrifusion-speed-link.ts). */
export const NODE_SCTP_SETTINGS = {
  recvBufferSize: 16 * 1024 * 1024, // 16 MiB: several BDPs of a fast local link; memory is per association
  sendBufferSize: 16 * 1024 * 1024,
  maxChunksOnQueue: 64 * 1024, // usrsctp counts chunks (~1200 B each): 64Ki chunks ~ 75 MB queued
  initialCongestionWindow: 64, // MTUs: start big instead of slow-starting every burst after an idle compute phase
  delayedSackTime: 5, // ms (usrsctp default 200 ms is for Internet paths; credit back sooner on a LAN)
} as const;

interface NdcLike {
  setSctpSettings?(s: Record<string, number>): void;
}

/** Applies NODE_SCTP_SETTINGS (or `overrides`) if this node-datachannel build exposes setSctpSettings. */
export function applyNodeSctpSettings(ndc: NdcLike, overrides: Partial<Record<keyof typeof NODE_SCTP_SETTINGS, number>> = {}): boolean {
  if (typeof ndc.setSctpSettings !== 'function') return false;
  ndc.setSctpSettings({ ...NODE_SCTP_SETTINGS, ...overrides });
  return true;
}
