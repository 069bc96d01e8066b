// End to end: a PeerJS signaling server, the Node coordinator and three headless peers (the `tabmesh peer`
// code, in this process: Dawn on lavapipe, libdatachannel WebRTC) join one session. Two peers have
// same-host links on and must link over a Unix socket; the third has them off, so its links stay WebRTC.
// All-reduces over the mixed mesh must give the exact sum (the coordinator checks every rank's checksum
// against the closed form), small (direct) and large (one multi-MB frame on the socket).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExpressPeerServer } from 'peer';
import { parseArgs, runHeadlessPeer } from '../../src/session/headless.node';
import { startNodeCoordinator, type NodeCoordinator } from '../../src/session/coordinator.node';

let server: http.Server;
let coord: NodeCoordinator;
const logs: string[][] = [[], [], []];
const exits: Promise<number>[] = [];

beforeAll(async () => {
  const app = express();
  server = http.createServer(app);
  app.use('/peerjs', ExpressPeerServer(server, { path: '/', allow_discovery: false }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  coord = await startNodeCoordinator(origin, () => undefined, { heartbeatTimeoutMs: 60_000 });
  const flags = [['--same-host', 'on'], ['--same-host', 'on'], ['--same-host', 'off']];
  for (let i = 0; i < 3; i++) exits.push(runHeadlessPeer([coord.joinLink, '--name', `p${i}`, ...flags[i]], (l) => logs[i].push(l)));
  await coord.waitForPeers(3, 90_000);
});

afterAll(async () => {
  if (process.env.DEBUG_SAME_HOST) console.log(logs.map((l, i) => l.map((x) => `[p${i}] ${x}`).join("\n")).join("\n"));
  coord?.close(); // the peers see the session end and return
  await Promise.all(exits);
  server?.close();
});

const idOf = (i: number) => /peer id: (\S+)/.exec(logs[i].join('\n'))?.[1];

describe('the headless peer switch', () => {
  it('--same-host on|off, --no-same-host and TABMESH_SAME_HOST; default on', () => {
    expect(parseArgs(['http://h/#join=x'], {}).sameHost).toBe(true);
    expect(parseArgs(['http://h/#join=x'], { TABMESH_SAME_HOST: '0' }).sameHost).toBe(false);
    expect(parseArgs(['http://h/#join=x', '--same-host', 'on'], { TABMESH_SAME_HOST: '0' }).sameHost).toBe(true);
    expect(parseArgs(['--same-host=off', 'http://h/#join=x'], {}).sameHost).toBe(false);
    expect(parseArgs(['--no-same-host', 'http://h/#join=x'], {}).sameHost).toBe(false);
    expect(() => parseArgs(['http://h/#join=x', '--same-host', 'maybe'], {})).toThrow(/--same-host must be on or off/);
  });

  it('--gpu-thread worker|main and TABMESH_GPU_THREAD; unset by default (the worker where it is bundled)', () => {
    expect(parseArgs(['http://h/#join=x'], {}).gpuThread).toBeUndefined();
    expect(parseArgs(['http://h/#join=x', '--gpu-thread', 'main'], {}).gpuThread).toBe('main');
    expect(parseArgs(['--gpu-thread=worker', 'http://h/#join=x'], { TABMESH_GPU_THREAD: 'main' }).gpuThread).toBe('worker');
    expect(parseArgs(['http://h/#join=x'], { TABMESH_GPU_THREAD: 'main' }).gpuThread).toBe('main');
    expect(() => parseArgs(['http://h/#join=x', '--gpu-thread', 'gpu'], {})).toThrow(/--gpu-thread must be worker or main/);
  });

  it('from the TypeScript sources there is no GPU worker bundle: GPU work on the main thread, and asking for the worker is an error', async () => {
    expect(logs[0].join('\n')).toContain('GPU work: main thread');
    const lines: string[] = [];
    expect(await runHeadlessPeer([coord.joinLink, '--gpu-thread', 'worker'], (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toMatch(/no GPU worker bundle/);
  });
});

describe('same-host links between headless peers', () => {
  it('two peers with it on sum over a Unix socket; the one with it off over WebRTC', async () => {
    const ids = [idOf(0), idOf(1), idOf(2)];
    expect(ids.every(Boolean), logs.flat().join('\n')).toBe(true);
    const pair = [ids[0]!, ids[1]!].sort();
    const small = await coord.core.allReduceTest({ peers: pair, length: 2048, timeoutMs: 30_000 }); // 8 KB: the 1B decode hidden state
    expect(small.ok, JSON.stringify(small)).toBe(true);
    // Both ends of the pair report the socket; logged once the link is up, so before the sum came back.
    expect(logs[0].join('\n')).toContain(`link to ${ids[1]}: same-host unix socket`);
    expect(logs[1].join('\n')).toContain(`link to ${ids[0]}: same-host unix socket`);
    const big = await coord.core.allReduceTest({ peers: pair, length: 1 << 20, timeoutMs: 60_000 }); // 4 MiB: one frame
    expect(big.ok).toBe(true);
    expect(big.results.map((r) => r.length)).toEqual([1 << 20, 1 << 20]);

    const all = [...ids as string[]].sort();
    const mixed = await coord.core.allReduceTest({ peers: all, length: 100_000, timeoutMs: 60_000 }); // 400 KB: two rounds (reduce-scatter + all-gather), over both transports
    expect(mixed.ok, JSON.stringify(mixed)).toBe(true);
    expect(mixed.results).toHaveLength(3);
    for (const i of [0, 1]) expect(logs[i].join('\n')).toContain(`link to ${ids[2]}: webrtc (the peer has no same-host link)`);
    expect(logs[2].join('\n')).toContain('same-host links off');
  });
});
