// A peer page: joins the session from the link, runs GPU work in a Comlink worker, keeps the raw
// data-channel mesh to the other peers (WebRTC lives here, not in the worker), and executes jobs.
import { Peer, type DataConnection } from 'peerjs';
import { proxy, wrap, type Remote } from 'comlink';
import { coordinatorPeerId, isValidSessionId, newPeerId } from '../src/session/ids';
import type { AllReduceResult, Job, JobEvent, PeerReport, ToCoordinator, ToPeer } from '../src/session/protocol';
import type { GpuWorkerApi } from '../src/engines/worker-api';
import { PeerMesh } from './mesh';
import { benchCollectives, benchLink } from '../src/collectives/bench';
import type { GroupComm } from '../src/collectives/group';
import { el, peerOptions, setRole, showAlert } from './ui';

const WEBGPU_HELP = 'This browser has no WebGPU (navigator.gpu is missing). tabmesh needs it: use Chrome or Edge 113+ (desktop or Android 121+), Safari 26+, or Firefox 141+ on Windows, over HTTPS or localhost.';

export async function startPeer(sessionId: string): Promise<void> {
  setRole('peer');
  const app = document.getElementById('app')!;
  const state = el('p', { 'data-testid': 'peer-state' }, 'starting…');
  const progress = el('progress', { max: '1', value: '0', 'data-testid': 'load-progress' });
  const jobLine = el('p', { class: 'muted', 'data-testid': 'peer-job' }, 'idle');
  app.append(el('section', {}, el('h2', {}, 'This device is a peer'), state, progress, jobLine));

  if (!isValidSessionId(sessionId)) {
    state.textContent = 'not joined';
    showAlert('This join link is malformed: it names no valid session. Ask for a fresh link from the coordinator page.', 'error', 'unknown-session');
    return;
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    state.textContent = 'not joined: no WebGPU';
    showAlert(WEBGPU_HELP, 'error', 'no-webgpu');
    return;
  }

  const worker = new Worker(new URL('../workers/gpu.worker.ts', import.meta.url), { type: 'module' });
  const gpu: Remote<GpuWorkerApi> = wrap<GpuWorkerApi>(worker);
  let report: PeerReport;
  const myId = newPeerId(sessionId);
  app.append(el('p', { class: 'muted' }, 'peer id: ', el('code', { 'data-testid': 'peer-id' }, myId)));
  try {
    state.textContent = 'measuring this GPU…';
    const r = await gpu.init();
    report = { ...r, id: myId, userAgent: navigator.userAgent };
  } catch (e) {
    state.textContent = 'not joined: no usable GPU';
    showAlert(`WebGPU is present but no GPU device could be created: ${(e as Error).message}. ${WEBGPU_HELP}`, 'error', 'no-webgpu');
    return;
  }
  let coord: DataConnection | null = null;
  const toCoord = (m: ToCoordinator): void => void (coord?.open && coord.send(m));
  await gpu.onLost(proxy((reason: string) => {
    state.textContent = 'GPU lost';
    showAlert(`This device's GPU was lost (${reason}). Reload the page to rejoin.`, 'error', 'gpu-lost');
    toCoord({ type: 'fatal', error: `GPU device lost: ${reason}` });
  }));

  const peer = new Peer(myId, peerOptions());
  const mesh = new PeerMesh(peer, myId);
  const running = new Map<string, AbortController>();

  peer.on('error', (err) => {
    const type = (err as { type?: string }).type ?? '';
    if (type === 'peer-unavailable' && !coord?.open) {
      state.textContent = 'not joined';
      showAlert('Unknown or ended session: no coordinator answers this link. Ask for a fresh link from the coordinator page.', 'error', 'unknown-session');
    } else if (['network', 'server-error', 'socket-error', 'socket-closed'].includes(type)) {
      state.textContent = 'signaling server unreachable';
      showAlert(`The signaling server (${location.host}/peerjs) is unreachable: this device cannot join.`, 'error', 'signaling-error');
    }
  });
  peer.on('open', () => {
    state.textContent = 'joining…';
    coord = peer.connect(coordinatorPeerId(sessionId), { label: 'control', serialization: 'json', reliable: true });
    coord.on('open', () => toCoord({ type: 'hello', report }));
    coord.on('close', () => {
      state.textContent = 'session ended';
      showAlert('The coordinator closed the session.', 'info', 'session-ended');
      mesh.closeAll();
    });
    coord.on('data', (raw) => void onMessage(raw as ToPeer));
  });

  async function onMessage(msg: ToPeer): Promise<void> {
    switch (msg.type) {
      case 'welcome':
        state.textContent = `ready (${report.adapter.vendor} ${report.adapter.architecture}, ${report.gflops.toFixed(1)} GFLOPS)`;
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
        jobLine.textContent = `running ${msg.job.kind}`;
        try {
          const result = await runJob(msg.job, ac.signal, (event) => toCoord({ type: 'job-progress', jobId: msg.jobId, event }));
          toCoord({ type: 'job-done', jobId: msg.jobId, result });
          jobLine.textContent = `done: ${msg.job.kind}`;
        } catch (e) {
          const text = (e as Error).message || String(e);
          toCoord({ type: 'job-error', jobId: msg.jobId, error: text });
          jobLine.textContent = `failed: ${msg.job.kind}: ${text}`;
        } finally {
          running.delete(msg.jobId);
        }
      }
    }
  }

  async function runJob(job: Job, signal: AbortSignal, emit: (e: JobEvent) => void): Promise<unknown> {
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
        const comm = await mesh.group(job.group, 120_000);
        // The raw channel measured in the same run: rank 0 pings/probes rank 1's link directly.
        const link = rank === 0 && job.group.length > 1 ? await benchLink(mesh.mesh, job.group[1], { bulkBytes: Math.min(Math.max(...job.sizes), 16 << 20) }) : null;
        await (comm as GroupComm).barrier(60_000);
        const rows = await benchCollectives(comm as GroupComm, job.sizes, job.reps);
        return { rows, link };
      }
      case 'image': {
        const comm = await mesh.group(job.group, 60_000);
        return gpu.runImage({ url: job.model.url, seed: job.seed, steps: job.steps, sampler: job.sampler, mode: job.mode, warmupSteps: job.warmupSteps, withSingle: job.withSingle }, proxy(mesh.bridge(comm)));
      }
      case 'llm-load': {
        const comm = await mesh.group(job.group, 30_000);
        progress.value = 0;
        const info = await gpu.loadLlm({ url: job.model.url, rank, tp: job.group.length, maxSeqLen: job.maxSeqLen }, proxy(mesh.bridge(comm)), proxy((loaded: number, total: number) => {
          progress.max = total;
          progress.value = loaded;
          emit({ kind: 'progress', loaded, total, label: job.model.name });
        }));
        return info;
      }
      case 'llm-generate': {
        signal.addEventListener('abort', () => void gpu.cancel());
        return gpu.generate({ prompt: job.prompt, sampling: job.sampling }, proxy((ev: JobEvent) => emit(ev)));
      }
    }
  }
}
