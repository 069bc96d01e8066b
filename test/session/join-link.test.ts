// The headless peer reads the join link the coordinator page shows: session from the hash,
// signaling server from the origin (same host/port, /peerjs, TLS for https), ICE from ?ice= or an
// override; malformed links fail with the page's message.
import { describe, expect, it } from 'vitest';
import { parseJoinLink } from '../../src/session/join-link';

const S = '0123456789abcdef0123456789abcdef';

describe('parseJoinLink', () => {
  it('http link with an explicit port', () => {
    const t = parseJoinLink(`http://localhost:5199/#join=${S}`);
    expect(t).toEqual({ sessionId: S, origin: 'http://localhost:5199', signaling: { host: 'localhost', port: 5199, path: '/peerjs', secure: false, config: { iceServers: [] }, debug: 0 } });
  });

  it('https link on the default port, ICE from the query and from an override', () => {
    const ice = [{ urls: 'stun:stun.example.org:3478' }];
    const t = parseJoinLink(`https://192.168.1.20/?ice=${encodeURIComponent(JSON.stringify(ice))}#join=${S}`);
    expect(t.signaling).toMatchObject({ host: '192.168.1.20', port: 443, secure: true, config: { iceServers: ice } });
    const o = parseJoinLink(`https://192.168.1.20:5200/#join=${S}`, '[{"urls":"turn:t.example.org","username":"u","credential":"c"}]');
    expect(o.signaling.port).toBe(5200);
    expect(o.signaling.config.iceServers).toEqual([{ urls: 'turn:t.example.org', username: 'u', credential: 'c' }]);
  });

  it('malformed links and settings are refused with clear messages', () => {
    expect(() => parseJoinLink('localhost:5199/#join=' + S)).toThrow(/http\(s\)|not a URL/);
    expect(() => parseJoinLink('not a link')).toThrow(/not a URL/);
    expect(() => parseJoinLink('http://localhost:5199/#join=not-a-session')).toThrow(/malformed/);
    expect(() => parseJoinLink('http://localhost:5199/')).toThrow(/malformed/);
    expect(() => parseJoinLink(`ftp://h/#join=${S}`)).toThrow(/http\(s\)/);
    expect(() => parseJoinLink(`http://h/#join=${S}`, '{"urls":"stun:x"}')).toThrow(/JSON array/);
    expect(() => parseJoinLink(`http://h/#join=${S}`, '[oops')).toThrow(/not JSON/);
  });
});
