// The DOM-free half of a peer: measure the GPU, join the session over the PeerJS control
// connection (hello/report, heartbeats), keep the raw data-channel mesh to the other peers and run
// jobs (allreduce, bench-comm, image, llm-load, llm-generate) on a GPU API. Two shells use it:
// the peer page (web/peer.ts; the GPU API is the Comlink remote of the GPU worker) and the headless
// Node peer (src/session/headless.node.ts; the GPU API is an in-process GpuWorkerApi over Dawn).
import { Peer, type DataConnection } from 'peerjs';
import { proxy } from 'comlink';
import { coordinatorPeerId, newPeerId } from './ids';
import { LOCAL_MODEL_SCHEME, MAX_CONTROL_MESSAGE_CHARS, type AllReduceResult, type Job, type JobEvent, type PeerReport, type ToCoordinator, type ToPeer } from './protocol';
import { PeerMesh } from './peer-mesh';
import { FileClient } from './file-client';
import { benchCollectives, benchLink } from '../collectives/bench';
import type { GroupComm } from '../collectives/group';
import type { Comm } from '../collectives/types';
import type { LoadInfo, LoadRequest } from '../engines/llm-engine';
import type { ImageRequest, ImageResult, ImageStepEvent } from '../engines/image-engine';

/** A control connection that has not opened in this long is replaced by a new one (see connectControl):
 *  on loopback or a LAN it opens in well under a second, so 10 s is a dead negotiation, not a slow one. */
const CONTROL_OPEN_TIMEOUT_MS = 10_000;
const CONTROL_ATTEMPTS = 6;

/**
 * What the agent needs of the GPU side: GpuWorkerApi's methods. Both `Remote<GpuWorkerApi>` (every
 * call a promise) and a plain `GpuWorkerApi` fit. Callbacks and communicators are passed through
 * Comlink's proxy(): in the worker case that makes them callable across the thread; called
 * in-process it only tags the object with a symbol, so the same code serves both.
 */
export interface PeerGpuApi {
  init(): Promise<Omit<PeerReport, 'id' | 'userAgent'>>;
  onLost(cb: (reason: string) => void): unknown;
  loadLlm(req: LoadRequest, comm: Comm, onProgress: (loaded: number, total: number) => void,
    remoteRead?: (start: number, end: number) => Promise<Uint8Array>): Promise<LoadInfo>;
  generate(req: { prompt: string; sampling: Record<string, unknown>; messages?: { role: string; content: string }[] }, onEvent: (ev: JobEvent) => void): Promise<unknown>;
  generateBatched(req: { key: number; prompt: string; sampling: Record<string, unknown>; messages?: { role: string; content: string }[] }, onEvent: (ev: JobEvent) => void): Promise<unknown>;
  runImage(req: ImageRequest, comm: Comm, onStep?: (ev: ImageStepEvent) => void): Promise<ImageResult>;
  cancel(key?: number): unknown; // a batched request's key, or none: the unbatched generate
}

/** Where the agent tells its shell what happens: the page's DOM, or the terminal. */
export interface PeerUi {
  state(text: string): void;
  progress(loaded: number, total: number): void;
  job(text: string): void;
  /** A message a user must see; `code` is a stable name (the page's data-testid, the CLI's exit reason). */
  alert(message: string, kind: 'error' | 'info', code: PeerAlertCode): void;
}

export type PeerAlertCode = 'no-webgpu' | 'gpu-lost' | 'unknown-session' | 'signaling-error' | 'session-ended' | 'control-timeout';

/** PeerJS options for our own signaling server (never PeerJS's public cloud). */
export interface SignalingOptions {
  host: string;
  port: number;
  path: string;
  secure: boolean;
  config: RTCConfiguration;
  debug: number;
}

export interface PeerAgentOptions {
  sessionId: string; // already validated by the shell (isValidSessionId)
  peerId?: string; // default: a fresh newPeerId(sessionId)
  gpu: PeerGpuApi;
  signaling: SignalingOptions;
  userAgent: string; // goes into the report the coordinator's roster shows
  ui: PeerUi;
  gpuHelp?: string; // appended to the "no GPU device" message (the page says which browsers work)
  rejoinHint?: string; // how to rejoin after a lost GPU ("Reload the page…" on the page)
}

export interface PeerAgent {
  readonly id: string;
  readonly report: PeerReport;
  /** The jobs running here and each link's state and counters (tests print it when a collective stalls). */
  diagnostics(): { id: string; running: string[]; links: Record<string, unknown> };
  /** Leave the session: closes the control connection (the coordinator drops us at once) and the mesh. */
  close(): void;
}

const LIVE_STATS_PERIOD_MS = 500; // live tokens/s on the coordinator: twice a second is plenty and costs one small message

/** `comm` with every collective timed into `live` (and allGathers counted: one per forward in the LLM engine). */
function timedComm(comm: Comm, live: { commMs: number; gathers: number }): Comm {
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await call(); // the same object comes back, so a Comlink transfer() mark on it still applies
    } finally {
      live.commMs += performance.now() - t0;
    }
  };
  return {
    rank: comm.rank,
    size: comm.size,
    allReduce: (d, wire) => timed(() => comm.allReduce(d, wire)),
    allGather: (d) => {
      live.gathers++;
      return timed(() => comm.allGather(d));
    },
    broadcast: (d, root) => timed(() => comm.broadcast(d, root)),
  };
}

/** Joins the session; resolves once the GPU is measured and signaling started, or null if no GPU. */
export async function startPeerAgent(opts: PeerAgentOptions): Promise<PeerAgent | null> {
  const { sessionId, gpu, ui } = opts;
  const myId = opts.peerId ?? newPeerId(sessionId);
  let report: PeerReport;
  try {
    ui.state('measuring this GPU…');
    const r = await gpu.init();
    report = { ...r, id: myId, userAgent: opts.userAgent };
  } catch (e) {
    ui.state('not joined: nothing can compute here');
    ui.alert(`Neither WebGPU nor ONNX Runtime (wasm) works on this device: ${(e as Error).message}.${opts.gpuHelp ? ` ${opts.gpuHelp}` : ''}`, 'error', 'no-webgpu');
    return null;
  }
  let coord: DataConnection | null = null;
  let closing = false;
  const toCoord = (m: ToCoordinator): void => void (coord?.open && coord.send(m));
  const files = new FileClient(toCoord);
  await gpu.onLost(proxy((reason: string) => {
    ui.state('GPU lost');
    ui.alert(`This device's GPU was lost (${reason}). ${opts.rejoinHint ?? 'Restart this peer to rejoin.'}`, 'error', 'gpu-lost');
    toCoord({ type: 'fatal', error: `GPU device lost: ${reason}` });
  }));

  const sig = opts.signaling;
  const peer = new Peer(myId, sig);
  const mesh = new PeerMesh(peer, myId);
  const running = new Map<string, AbortController>();
  const llmLive = { commMs: 0, gathers: 0 }; // the loaded model's collectives, timed here (live stats)
  const defaultPort = sig.secure ? 443 : 80;
  const signalingAt = `${sig.host}${sig.port === defaultPort ? '' : `:${sig.port}`}${sig.path}`;

  peer.on('error', (err) => {
    const type = (err as { type?: string }).type ?? '';
    if (type === 'peer-unavailable' && !coord?.open) {
      ui.state('not joined');
      ui.alert('Unknown or ended session: no coordinator answers this link. Ask for a fresh link from the coordinator page.', 'error', 'unknown-session');
    } else if (['network', 'server-error', 'socket-error', 'socket-closed'].includes(type) && !closing) {
      ui.state('signaling server unreachable');
      ui.alert(`The signaling server (${signalingAt}) is unreachable: this device cannot join.`, 'error', 'signaling-error');
    }
  });
  // The control connection is retried: in a CI run one of two peers never joined within 90 s (the
  // coordinator counted 1 peer throughout; the multi-GPU bench's headless peers showed the same
  // 'joining…' stall), with no error from PeerJS, so nothing would ever have retried. A fresh
  // connection gets a fresh ICE negotiation.
  const connectControl = (attempt: number): void => {
    const c = peer.connect(coordinatorPeerId(sessionId), { label: 'control', serialization: 'json', reliable: true });
    coord = c;
    let opened = false;
    const timer = setTimeout(() => {
      if (opened || closing || coord !== c) return;
      c.close(); // its 'close' is ignored below: it never opened
      if (attempt + 1 >= CONTROL_ATTEMPTS) {
        ui.state('not joined');
        ui.alert(`The coordinator did not answer within ${(CONTROL_ATTEMPTS * CONTROL_OPEN_TIMEOUT_MS) / 1000} s (${CONTROL_ATTEMPTS} tries): reload to try again.`, 'error', 'control-timeout');
        return;
      }
      ui.state(`joining… (try ${attempt + 2} of ${CONTROL_ATTEMPTS})`);
      connectControl(attempt + 1);
    }, CONTROL_OPEN_TIMEOUT_MS);
    c.on('open', () => {
      opened = true;
      clearTimeout(timer);
      toCoord({ type: 'hello', report });
    });
    c.on('close', () => {
      clearTimeout(timer);
      if (!opened || coord !== c) return; // a superseded try, not the session ending
      mesh.closeAll();
      if (closing) return;
      ui.state('session ended');
      ui.alert('The coordinator closed the session.', 'info', 'session-ended');
    });
    c.on('data', (raw) => void onMessage(raw as ToPeer));
  };
  peer.on('open', () => {
    ui.state('joining…');
    connectControl(0);
  });

  async function onMessage(msg: ToPeer): Promise<void> {
    if (files.handle(msg)) return;
    switch (msg.type) {
      case 'welcome':
        ui.state(`ready (${report.adapter.vendor} ${report.adapter.architecture}, engine ${report.engine ?? 'wgsl'}, ${report.gflops.toFixed(1)} GFLOPS)`);
        mesh.setMembers(msg.meshPeers);
        return;
      case 'mesh':
        mesh.setMembers(msg.peers);
        return;
      case 'ping':
        toCoord({ type: 'pong', t: msg.t });
        return;
      case 'cancel':
        running.get(msg.jobId)?.abort();
        void gpu.cancel();
        return;
      case 'job': {
        const ac = new AbortController();
        running.set(msg.jobId, ac);
        ui.job(`running ${msg.job.kind}`);
        try {
          const result = await runJob(msg.job, ac.signal, (event) => toCoord({ type: 'job-progress', jobId: msg.jobId, event }), msg.jobId);
          // PeerJS drops an oversized JSON message without a word, which would leave the coordinator
          // waiting forever: fail the job with the reason instead.
          const size = JSON.stringify(result ?? null).length;
          if (size > MAX_CONTROL_MESSAGE_CHARS) throw new Error(`the ${msg.job.kind} result is ${size} characters, over the control channel's ${MAX_CONTROL_MESSAGE_CHARS}`);
          toCoord({ type: 'job-done', jobId: msg.jobId, result });
          ui.job(`done: ${msg.job.kind}`);
        } catch (e) {
          const text = (e as Error).message || String(e);
          toCoord({ type: 'job-error', jobId: msg.jobId, error: text });
          ui.job(`failed: ${msg.job.kind}: ${text}`);
        } finally {
          running.delete(msg.jobId);
        }
      }
    }
  }

  async function runJob(job: Job, signal: AbortSignal, emit: (e: JobEvent) => void, jobId = ''): Promise<unknown> {
    const rank = job.group.indexOf(myId);
    if (rank < 0) throw new Error('this peer is not in the job group');
    switch (job.kind) {
      case 'allreduce': {
        if (job.delayPeer === myId && job.delayMs) await new Promise((r) => setTimeout(r, job.delayMs));
        const comm = await mesh.group(job.group, job.timeoutMs);
        const data = new Float32Array(job.length); // [length]
        for (let i = 0; i < job.length; i++) data[i] = (rank + 1) * ((i % 7) + 1);
        const t0 = performance.now();
        const out = await comm.allReduce(data); // [length]
        let checksum = 0;
        for (const v of out) checksum += v;
        const res: AllReduceResult = { rank, length: out.length, checksum, head: Array.from(out.subarray(0, 8)), ms: performance.now() - t0 };
        return res;
      }
      case 'bench-comm': {
        const comm = await mesh.group(job.group, 120_000, job.directMaxBytes);
        // The raw channel measured in the same run: rank 0 pings/probes rank 1's link directly.
        const link = rank === 0 && job.group.length > 1 ? await benchLink(mesh.mesh, job.group[1], { bulkBytes: Math.min(Math.max(...job.sizes), 16 << 20) }) : null;
        await (comm as GroupComm).barrier(60_000);
        const rows = await benchCollectives(comm as GroupComm, job.sizes, job.reps, { ops: job.ops });
        return { rows, link };
      }
      case 'image': {
        // This rank's backend: a group may mix WebGPU peers with peers computing in plain JS (same exchange format).
        const comm = await mesh.group(job.group, 60_000);
        return gpu.runImage({ url: job.model.url, seed: job.seed, steps: job.steps, sampler: job.sampler, mode: job.mode, warmupSteps: job.warmupSteps, withSingle: job.withSingle, label: job.label, guidance: job.guidance, backend: job.backends?.[rank] ?? job.backend, commFree: job.commFree, commDtype: job.commDtype }, proxy(mesh.bridge(comm)), proxy((ev: ImageStepEvent) => emit(ev)));
      }
      case 'llm-load': {
        const comm = await mesh.group(job.group, 30_000);
        ui.progress(0, 1);
        const local = job.model.url.startsWith(LOCAL_MODEL_SCHEME) ? job.model.url.slice(LOCAL_MODEL_SCHEME.length) : null;
        return gpu.loadLlm({ url: job.model.url, size: job.model.size, rank, tp: job.group.length, maxSeqLen: job.maxSeqLen, maxBatchSize: job.maxBatchSize, batchWaitMs: job.batchWaitMs,
          engine: job.engines?.[rank], weights: job.weights, reduceWire: job.reduceWire }, proxy(timedComm(mesh.bridge(comm), llmLive)), proxy((loaded: number, total: number) => {
          ui.progress(loaded, total);
          emit({ kind: 'progress', loaded, total, label: job.model.name });
        }), local === null ? undefined : proxy((start: number, end: number) => files.read(local, start, end)));
      }
      case 'llm-generate': {
        if (job.batched) {
          // Every rank got this job under the same id: its number identifies the request in the
          // replica's batch loop and orders admissions (src/engines/batch-loop.ts).
          const key = Number(/\d+$/.exec(jobId)?.[0] ?? NaN) % 2 ** 24;
          if (!Number.isInteger(key)) throw new Error(`job id ${jobId} has no number for the batch loop`);
          signal.addEventListener('abort', () => void gpu.cancel(key));
          return gpu.generateBatched({ key, prompt: job.prompt, sampling: job.sampling, messages: job.messages }, proxy((ev: JobEvent) => emit(ev)));
        }
        signal.addEventListener('abort', () => void gpu.cancel());
        // Live per-peer numbers for the coordinator's panel: time inside collectives as seen from
        // here, and tokens so far (tp > 1: one logits allGather per forward, i.e. per token).
        llmLive.commMs = 0;
        llmLive.gathers = 0;
        let streamed = 0;
        const t0 = performance.now();
        const tick = () => {
          const wall = performance.now() - t0;
          emit({ kind: 'stats', computeMs: wall - llmLive.commMs, commMs: llmLive.commMs, tokens: job.group.length > 1 ? llmLive.gathers : streamed });
        };
        const timer = setInterval(tick, LIVE_STATS_PERIOD_MS);
        try {
          return await gpu.generate({ prompt: job.prompt, sampling: job.sampling, messages: job.messages }, proxy((ev: JobEvent) => {
            if (ev.kind === 'token') streamed++;
            emit(ev);
          }));
        } finally {
          clearInterval(timer);
        }
      }
    }
  }

  return {
    id: myId,
    report,
    diagnostics: () => ({ id: myId, running: [...running.keys()], links: mesh.diagnostics() }),
    close() {
      closing = true;
      mesh.closeAll();
      peer.destroy(); // closes the control connection and the signaling socket
    },
  };
}
