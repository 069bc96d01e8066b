// The headless peer: `npx tabmesh peer <join-link>` runs src/session/peer-agent.ts in Node, on the
// same code as a peer tab. What the browser provides comes from npm packages instead:
//  - WebGPU: Dawn (`webgpu`), installed as navigator.gpu, so GpuWorkerApi.init() is unchanged (engine
//    'auto' is WGSL on a hardware adapter, ONNX Runtime wasm on a software one such as lavapipe);
//  - WebRTC: node-datachannel's W3C polyfill (libdatachannel) as RTCPeerConnection & co;
//  - WebSocket (PeerJS's signaling socket): `ws` (Node 20 has no global WebSocket).
// These globals must exist before PeerJS is evaluated: it probes `new RTCPeerConnection()` once at
// module load (util.supports) and refuses to start when that probe failed. So this file imports
// PeerJS (via the agent) only dynamically, after installNodeGlobals(); the esbuild bundle keeps
// dynamically imported modules lazily initialised, which preserves that order.
import * as rtc from 'node-datachannel/polyfill';
import WebSocket from 'ws';
import { parseJoinLink } from './join-link';
import { newPeerId } from './ids';
import type { PeerAgent, PeerAlertCode } from './peer-agent';
import { UdsEndpoint } from '../transport/uds-channel.node';
import { fileTuneCache } from '../engines/tune-store.node';
import { installNodeGpu } from './node-gpu.node';
import { gpuWorkerFile, startGpuWorker, type GpuThread, type GpuWorkerHandle } from './gpu-thread.node';

const USAGE = `usage: tabmesh peer <join-link> [--name NAME] [--ice JSON] [--insecure] [--same-host on|off] [--gpu-thread worker|main]

Joins a tabmesh session as a headless peer (Node + Dawn WebGPU + libdatachannel WebRTC).
  <join-link>   the link the coordinator page shows, e.g. http://host:5199/#join=<session>
  --name NAME   shown in the coordinator's roster (in the peer's user agent)
  --ice JSON    ICE servers, a JSON array of RTCIceServer objects (default: none, LAN only)
  --insecure    accept a self-signed HTTPS certificate (the dev server's LAN port)
  --same-host on|off
                links to other headless peers on this machine over a Unix socket instead of WebRTC
                (default on; env TABMESH_SAME_HOST=0 turns it off; browsers and other hosts: WebRTC)
  --gpu-thread worker|main
                worker (the default where the GPU worker is bundled, as by npx tabmesh): GPU work in a
                worker thread, as a tab does, so the network never waits behind it; main: one thread
                (env TABMESH_GPU_THREAD)
One GPU per process: Dawn takes the first adapter; see ../shared/gpu/README.md for pinning.`;

export interface HeadlessArgs {
  link: string;
  name?: string;
  ice?: string;
  insecure: boolean;
  /** Same-host links (Unix sockets) to headless peers on this machine; default on, see USAGE. */
  sameHost: boolean;
  /** Where GPU work runs (see USAGE); undefined: the worker where its bundle exists, else main. */
  gpuThread?: GpuThread;
}

function onOff(v: string | undefined, what: string): boolean {
  if (v === undefined || !['on', 'off', '1', '0', 'true', 'false'].includes(v)) throw new Error(`${what} must be on or off, got ${v}\n\n${USAGE}`);
  return v === 'on' || v === '1' || v === 'true';
}

export function parseArgs(argv: string[], env: Record<string, string | undefined> = process.env): HeadlessArgs {
  const rest = [...argv];
  let sameHost = env.TABMESH_SAME_HOST === undefined || env.TABMESH_SAME_HOST === '' ? true : onOff(env.TABMESH_SAME_HOST, 'TABMESH_SAME_HOST');
  let link: string | undefined;
  let name: string | undefined;
  let ice: string | undefined;
  let insecure = false;
  let gpuThread = env.TABMESH_GPU_THREAD ? thread(env.TABMESH_GPU_THREAD, 'TABMESH_GPU_THREAD') : undefined;
  while (rest.length) {
    const a = rest.shift()!;
    if (a === '--name') name = rest.shift();
    else if (a.startsWith('--name=')) name = a.slice(7);
    else if (a === '--ice') ice = rest.shift();
    else if (a.startsWith('--ice=')) ice = a.slice(6);
    else if (a === '--insecure') insecure = true;
    else if (a === '--same-host') sameHost = onOff(rest.shift(), '--same-host');
    else if (a.startsWith('--same-host=')) sameHost = onOff(a.slice(12), '--same-host');
    else if (a === '--no-same-host') sameHost = false;
    else if (a === '--gpu-thread') gpuThread = thread(rest.shift(), '--gpu-thread');
    else if (a.startsWith('--gpu-thread=')) gpuThread = thread(a.slice(13), '--gpu-thread');
    else if (a === '-h' || a === '--help') throw new Error(USAGE);
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n\n${USAGE}`);
    else if (link === undefined) link = a;
    else throw new Error(`unexpected argument ${a}\n\n${USAGE}`);
  }
  if (!link) throw new Error(USAGE);
  return { link, name, ice, insecure, sameHost, gpuThread };
}

function thread(v: string | undefined, what: string): GpuThread {
  if (v !== 'worker' && v !== 'main') throw new Error(`${what} must be worker or main, got ${v}\n\n${USAGE}`);
  return v;
}

/**
 * `ws` with the browser's error semantics: a browser WebSocket's 'error' is only an event (a 'close'
 * follows, which PeerJS handles), while ws is an EventEmitter whose 'error' without a listener throws
 * out of the process (e.g. ECONNREFUSED when the server is down). PeerJS sets no onerror.
 */
class BrowserLikeWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    this.on('error', () => undefined);
  }
}

/** The browser globals the shared peer code expects, from Node packages. Idempotent. */
export function installNodeGlobals(userAgent: string): void {
  const g = globalThis as Record<string, unknown>;
  installNodeGpu(userAgent); // also in the GPU worker thread, which uses it
  for (const k of ['RTCPeerConnection', 'RTCSessionDescription', 'RTCIceCandidate', 'RTCDataChannel', 'RTCDataChannelEvent', 'RTCPeerConnectionIceEvent', 'RTCSctpTransport', 'RTCError'] as const) {
    g[k] ??= rtc[k];
  }
  g.WebSocket ??= BrowserLikeWebSocket;
}

/** Runs the peer until the session ends or the process is signalled; resolves with an exit code. */
export async function runHeadlessPeer(argv: string[], log: (line: string) => void = (l) => console.log(l)): Promise<number> {
  let args: HeadlessArgs;
  let target: ReturnType<typeof parseJoinLink>;
  try {
    args = parseArgs(argv);
    target = parseJoinLink(args.link, args.ice);
  } catch (e) {
    log((e as Error).message);
    return 2;
  }
  // Node's TLS stack (used by fetch and ws) honours this for the whole process.
  if (args.insecure) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  const userAgent = `tabmesh-headless${args.name ? ` "${args.name}"` : ''} (Node ${process.version}; ${process.platform} ${process.arch})`;
  installNodeGlobals(userAgent);
  const workerFile = gpuWorkerFile();
  if (args.gpuThread === 'worker' && !workerFile) {
    log('--gpu-thread worker: no GPU worker bundle (gpu-worker.mjs) beside this peer; run it through npx tabmesh');
    return 2;
  }
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  let worker: GpuWorkerHandle | null = null;
  let markDied: () => void = () => undefined;
  // A dead GPU thread never answers: the start below must not wait on it forever.
  const died = new Promise<null>((resolve) => (markDied = () => resolve(null)));
  if (workerFile && args.gpuThread !== 'main') {
    worker = startGpuWorker(workerFile, userAgent, (why) => {
      log(`error: ${why}`);
      finish(1);
      markDied();
    });
  }
  const [{ startPeerAgent }, { GpuWorkerApi }, { provideSameHostLinks }] = await Promise.all([import('./peer-agent'), import('../engines/worker-api'), import('./peer-mesh')]);
  // Our id is chosen here (not by the agent) so the same-host endpoint is registered for this peer alone.
  const peerId = newPeerId(target.sessionId);
  let endpoint: UdsEndpoint | null = null;
  const unprovide = args.sameHost
    ? provideSameHostLinks(peerId, async () => {
      const ep = await UdsEndpoint.listen(peerId);
      endpoint = ep;
      ep.onLink = (p, kind, why) => log(`link to ${p}: ${kind === 'same-host' ? 'same-host unix socket' : 'webrtc'} (${why})`);
      return ep;
    })
    : () => undefined;
  if (!args.sameHost) log('same-host links off: every link uses WebRTC');

  const fatal: PeerAlertCode[] = ['no-webgpu', 'gpu-lost', 'unknown-session', 'signaling-error', 'control-timeout'];
  let lastProgress = 0;
  const agent: PeerAgent | null = await Promise.race([died, startPeerAgent({
    sessionId: target.sessionId,
    peerId,
    // in-process: proxy()/transfer() markers are inert on direct calls; kernel tunings persist in a JSON file
    gpu: worker ? worker.api : new GpuWorkerApi({ tuneCache: fileTuneCache() }),
    signaling: target.signaling,
    userAgent,
    ui: {
      state: (text) => log(`state: ${text}`),
      job: (text) => log(`job: ${text}`),
      progress: (loaded, total) => {
        // A line per 10% at most: downloads report every range.
        if (loaded === 0) return void (lastProgress = 0); // the agent's reset before a load
        const now = Math.floor((10 * loaded) / total);
        if (now !== lastProgress) log(`load: ${loaded}/${total} bytes`);
        lastProgress = now;
      },
      alert: (message, kind, code) => {
        log(`${kind}: ${message}`);
        if (code === 'session-ended') finish(0);
        else if (fatal.includes(code)) finish(1);
      },
    },
  })]);
  if (!agent) {
    unprovide();
    await worker?.terminate();
    return 1;
  }
  log(`peer id: ${agent.id}`);
  log(`GPU work: ${worker ? 'worker thread' : 'main thread'}`);
  log(`adapter: ${agent.report.adapter.vendor} ${agent.report.adapter.architecture} ${agent.report.adapter.description}${agent.report.adapter.isFallback ? ' (fallback)' : ''}, engine ${agent.report.engine ?? 'wgsl'}, ${agent.report.gflops.toFixed(1)} GFLOPS`);
  const onSignal = (sig: string) => () => {
    log(`${sig}: leaving the session`);
    finish(0);
  };
  process.once('SIGINT', onSignal('SIGINT'));
  process.once('SIGTERM', onSignal('SIGTERM'));
  const code = await done;
  agent.close();
  unprovide();
  (endpoint as UdsEndpoint | null)?.close(); // open links close with the process (or with the mesh above)
  await worker?.terminate();
  // Let the close reach the coordinator (it then drops us at once instead of after the heartbeat timeout).
  await new Promise((r) => setTimeout(r, 300));
  return code;
}
