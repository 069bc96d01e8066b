// Reading a join link outside the page (the headless Node peer): the session id from the hash and
// the signaling server from the origin, exactly as web/ui.ts's peerOptions() derives it in a tab
// that opened the link: same host and port, path /peerjs, TLS when the link is https.
import { isValidSessionId, sessionFromHash } from './ids';
import type { SignalingOptions } from './peer-agent';

export interface JoinTarget {
  sessionId: string;
  origin: string; // the app's origin, e.g. http://localhost:5199
  signaling: SignalingOptions;
}

/** Parses `<origin>/#join=<session>[?ice=<json>]`; throws with a user-facing message when malformed. */
export function parseJoinLink(link: string, iceOverride?: string): JoinTarget {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw new Error(`not a URL: "${link}". Copy the join link from the coordinator page (it looks like http://host:port/#join=<32 hex digits>).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the join link must be http(s), not ${url.protocol}`);
  const sessionId = sessionFromHash(url.hash);
  if (sessionId === null || !isValidSessionId(sessionId)) {
    throw new Error('This join link is malformed: it names no valid session. Ask for a fresh link from the coordinator page.');
  }
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  return {
    sessionId,
    origin: url.origin,
    signaling: { host: url.hostname, port, path: '/peerjs', secure, config: { iceServers: parseIce(iceOverride ?? url.searchParams.get('ice')) }, debug: 0 },
  };
}

/** Same rule as the page: no ICE servers unless given as a JSON array of RTCIceServer objects. */
function parseIce(raw: string | null): RTCIceServer[] {
  if (!raw) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error('the ICE server setting is not JSON: give a JSON array of RTCIceServer objects');
  }
  if (!Array.isArray(v)) throw new Error('the ICE server setting must be a JSON array of RTCIceServer objects');
  return v as RTCIceServer[];
}
