// Two races of a new mesh connection, forced with real parts. (1) A peer may send on a new connection
// before the other side has made its Link: the sender makes its
// Link once it has the other's hello (or once it stops waiting for it) and may start a collective at
// once. A CI run lost such a first message (the receiver's Link did not exist yet, the collective then
// waited out its 60 s deadline). Here the race is forced with real parts: a PeerJS signaling server,
// two PeerMesh instances over node-datachannel WebRTC in this process. Peer B's hello is held back
// (B sends it only once its same-host transport has failed to start, which the test triggers), peer A
// stops waiting for it after 300 ms, links and sends: B's Link, made afterwards, must deliver that message.
// (2) A negotiation can stall for good with no error (about 1 in 10-20 between two node-datachannel
// peers here): the dialing side closes a connection not open after 5 s and dials again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExpressPeerServer } from 'peer';
import { installNodeGlobals } from '../../src/session/headless.node';
import { PeerMesh, provideSameHostLinks } from '../../src/session/peer-mesh';
import { Tag } from '../../src/transport/frame';

let server: http.Server;
let port = 0;
const closers: (() => void)[] = [];

beforeAll(async () => {
  const app = express();
  server = http.createServer(app);
  app.use('/peerjs', ExpressPeerServer(server, { path: '/', allow_discovery: false }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  installNodeGlobals('peer-mesh-early-test');
});

afterAll(() => {
  for (const c of closers) c();
  server?.close();
});

async function openPeer(id: string): Promise<import('peerjs').Peer> {
  const { Peer } = await import('peerjs'); // after the globals: PeerJS probes WebRTC support at load
  const p = new Peer(id, { host: '127.0.0.1', port, path: '/peerjs', secure: false, config: { iceServers: [] } });
  closers.push(() => p.destroy());
  await new Promise<void>((resolve, reject) => {
    p.on('open', () => resolve());
    p.on('error', reject);
  });
  return p;
}

const until = async (cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('PeerMesh connection set-up', () => {
  it('a message sent before the receiver has its Link reaches it once the Link is made', async () => {
    const idA = 'tm-early-test-pb'; // the larger id dials
    const idB = 'tm-early-test-pa';
    // B's same-host transport "fails to start" when the test says so: B sends its hello only then (WebRTC
    // for every link). Until then B cannot make its Link, however slow the machine.
    let release = (): void => undefined;
    const unregister = provideSameHostLinks(idB, () => new Promise((_, reject) => {
      release = () => reject(new Error('no socket here'));
    }));
    closers.push(unregister);
    const [pa, pb] = await Promise.all([openPeer(idA), openPeer(idB)]);
    const a = new PeerMesh(pa, idA, { helloWaitMs: 300 });
    const b = new PeerMesh(pb, idB, { helloWaitMs: 300 });
    closers.push(() => a.closeAll(), () => b.closeAll());
    b.setMembers([idA, idB]);
    a.setMembers([idA, idB]);

    // A gives up on B's hello after 300 ms, links over WebRTC and sends straight away.
    await until(() => a.transportOf(idB) !== undefined, 10_000, () => `A's link (A: ${JSON.stringify(a.diagnostics())}; B: ${JSON.stringify(b.diagnostics())})`);
    expect(b.transportOf(idA)).toBeUndefined(); // B is still waiting for its same-host transport
    const key = { tag: Tag.Data, stream: 7, seq: 1 };
    const payload = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]); // [8]
    await a.mesh.send(idB, key, payload);
    const trailOfB = () => ((b.diagnostics()[idA] as { trail?: string[] } | undefined)?.trail ?? []);
    await until(() => trailOfB().some((l) => l.includes('binary before link')), 10_000, 'the frame at B (no Link there yet)');
    release();

    await until(() => b.transportOf(idA) !== undefined, 10_000, "B's link");
    const got = await Promise.race([
      b.mesh.recv(idA, key),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the early message never reached B')), 3000)),
    ]);
    expect(Array.from(got)).toEqual(Array.from(payload));
    expect((b.diagnostics()[idA] as { earlyDropped: number }).earlyDropped).toBe(0);

    // And later traffic in both directions flows as usual over the same links.
    const key2 = { tag: Tag.Data, stream: 7, seq: 2 };
    await b.mesh.send(idA, key2, payload);
    expect(Array.from(await a.mesh.recv(idB, key2))).toEqual(Array.from(payload));
  }, 60_000);

  it('a connection whose negotiation stalls is closed and dialed again', async () => {
    const idA = 'tm-redial-test-pb'; // dials
    const idB = 'tm-redial-test-pa';
    const [pa, pb] = await Promise.all([openPeer(idA), openPeer(idB)]);
    // Fault injection on the signaling path: B never sees A's first mesh offer, so A's first connection
    // is never answered and never opens (as a negotiation whose candidates were all dropped), with no error.
    const handle = (pb as unknown as { _handleMessage(m: { type: string }): void })._handleMessage.bind(pb);
    let offersDropped = 0;
    (pb as unknown as { _handleMessage(m: { type: string }): void })._handleMessage = (m) => {
      if (m.type === 'OFFER' && offersDropped === 0) return void offersDropped++;
      handle(m);
    };
    const a = new PeerMesh(pa, idA);
    const b = new PeerMesh(pb, idB);
    closers.push(() => a.closeAll(), () => b.closeAll());
    b.setMembers([idA, idB]);
    a.setMembers([idA, idB]);

    const t0 = Date.now();
    await until(() => a.transportOf(idB) !== undefined && b.transportOf(idA) !== undefined, 20_000, () => `both links (A: ${JSON.stringify(a.diagnostics())})`);
    expect(offersDropped).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_900); // the second try starts 5 s after the first
    const trail = (a.diagnostics()[idB] as { trail: string[] }).trail;
    expect(trail.some((l) => l.includes('not open after 5000 ms: dialing again'))).toBe(true);
    expect(trail.some((l) => l.includes('dial (try 2)'))).toBe(true);
    const key = { tag: Tag.Data, stream: 9, seq: 1 };
    const payload = new Uint8Array([9, 8, 7, 6]); // [4]
    await a.mesh.send(idB, key, payload);
    expect(Array.from(await b.mesh.recv(idA, key))).toEqual(Array.from(payload));
  }, 60_000);
});
