// Session and peer ids. The session id is the capability: whoever has the link can join, so it
// carries 128 random bits (32 hex chars) from the platform CSPRNG and cannot be guessed.

export const SESSION_ID_BYTES = 16; // 128 bits, the minimum

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function newSessionId(): string {
  return hex(crypto.getRandomValues(new Uint8Array(SESSION_ID_BYTES)));
}

/** PeerJS ids allow [A-Za-z0-9_-]; the coordinator's id is derived from the session id. */
export function coordinatorPeerId(sessionId: string): string {
  return `tm-${sessionId}-c`;
}

export function newPeerId(sessionId: string): string {
  return `tm-${sessionId}-p${hex(crypto.getRandomValues(new Uint8Array(6)))}`;
}

export function isValidSessionId(s: string): boolean {
  return /^[0-9a-f]{32}$/.test(s);
}

/** The join link: the app URL with the session in the hash, so it never reaches a server log. */
export function joinLink(origin: string, sessionId: string): string {
  return `${origin}/#join=${sessionId}`;
}

export function sessionFromHash(hash: string): string | null {
  const m = /[#&]join=([^&]*)/.exec(hash);
  return m ? decodeURIComponent(m[1]) : null;
}
