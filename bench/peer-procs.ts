// The process plumbing shared by the multi-GPU benches (bench/multi-gpu.ts, bench/distrifusion-speed.ts):
// a signaling + model server, one headless peer process per GPU, and their shutdown. A peer is pinned
// to its GPU by hiding the other /dev/nvidiaN in a private mount namespace (root on a multi-GPU host):
// Dawn lists every GPU under one name and a process takes the first it sees.
import express from 'express';
import http from 'node:http';
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { ExpressPeerServer } from 'peer';
import type { NodeCoordinator } from '../src/session/coordinator.node';

/** The NVIDIA GPU indices of this host (/dev/nvidiaN), ascending; none on a machine without them. */
export function hostGpus(): number[] {
  return fs.readdirSync('/dev').filter((n) => /^nvidia\d+$/.test(n)).map((n) => Number(n.slice(6))).sort((a, b) => a - b);
}

/** PeerJS signaling at /peerjs and the model files at /models (HTTP Range: each peer fetches only its shard's bytes). */
export async function startBenchServer(port: number, modelDir: string): Promise<{ origin: string; close(): void }> {
  const app = express();
  const server = http.createServer(app);
  app.use('/peerjs', ExpressPeerServer(server, { path: '/', allow_discovery: false, alive_timeout: 60_000 }));
  app.use('/models', express.static(modelDir, { acceptRanges: true, index: false, fallthrough: false }));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/**
 * Peer i (`node <self> peer <link> --name gpuN`), its output relayed with its name. With `pin`, it runs
 * on GPU gpus[i] alone: the other /dev/nvidiaN are bind-mounted over by /dev/null in its namespace
 * (a mount namespace of its own, but the same /tmp: the same-host Unix sockets still reach each other).
 * `args`: more peer options (e.g. `--same-host off`); `onLine`: every output line, for the driver to read.
 */
export function spawnBenchPeer(self: string, i: number, link: string, o: { pin: boolean; gpus: number[]; args?: string[]; onLine?: (line: string) => void }): ChildProcess {
  const name = o.pin ? `gpu${o.gpus[i]}` : `peer${i}`;
  // PEER_NODE_ARGS: Node options for the peers alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (Node
  // refuses --cpu-prof in NODE_OPTIONS, and the driver's own profile would not show a peer's step).
  const nodeArgs = (process.env.PEER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = [...nodeArgs, self, 'peer', link, '--name', name, ...(o.args ?? [])];
  let child: ChildProcess;
  if (o.pin) {
    const hide = o.gpus.filter((_, j) => j !== i).map((g) => `mount --bind /dev/null /dev/nvidia${g} && `).join('');
    child = spawn('unshare', ['-m', 'sh', '-c', `${hide}exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  } else {
    child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  // Whole lines only (a read may end mid-line), per stream.
  const relay = () => {
    let part = '';
    return (b: Buffer) => {
      const lines = (part + b.toString()).split('\n');
      part = lines.pop()!;
      for (const line of lines) {
        if (!line.trim()) continue;
        console.log(`  [${name}] ${line}`);
        o.onLine?.(line);
      }
    };
  };
  child.stdout!.on('data', relay());
  child.stderr!.on('data', relay());
  return child;
}

/** SIGTERM (SIGKILL after 10 s), then wait until the coordinator's roster has seen them go. */
export async function stopBenchPeers(children: ChildProcess[], coord: NodeCoordinator): Promise<void> {
  const exits = children.map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r()))));
  for (const c of children) c.kill('SIGTERM');
  const t = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 10_000);
  await Promise.all(exits);
  clearTimeout(t);
  // Their control connections close on exit; wait until the roster agrees (the heartbeat at worst).
  for (let i = 0; i < 50 && coord.core.roster.list().length; i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Which transport the peers' mesh links used, counted from their `link to …` lines over a whole run (each
 * link at both ends), so a report names what really carried the bytes: a same-host socket that fell back to
 * WebRTC shows as such instead of being labelled by what was asked for.
 */
export class LinkTally {
  readonly ends = { same_host: 0, webrtc: 0 };
  constructor(readonly sameHost: boolean) {}
  /** Peer option that asks for (or refuses) the same-host socket. */
  get peerArgs(): string[] {
    return ['--same-host', this.sameHost ? 'on' : 'off'];
  }
  /** Feed every peer output line (spawnBenchPeer's onLine). */
  readonly onLine = (line: string): void => {
    if (/^link to \S+: same-host unix socket/.test(line)) this.ends.same_host++;
    else if (/^link to \S+: webrtc/.test(line)) this.ends.webrtc++;
  };
  /** The report's transport sentence. */
  line(): string {
    const rtc = 'WebRTC data channels (node-datachannel / libdatachannel) over loopback';
    const { same_host: s, webrtc: w } = this.ends;
    if (!this.sameHost) return `${rtc}, one process per peer (SAME_HOST=0)`;
    if (w === 0 && s > 0) return `same-host Unix domain sockets between the peer processes (${s} link ends; WebRTC only for control), one process per peer`;
    if (s === 0) return `${rtc}, one process per peer (same-host links requested, none came up)`;
    return `mixed: ${s} link ends over same-host Unix sockets, ${w} over ${rtc}, one process per peer`;
  }
}
