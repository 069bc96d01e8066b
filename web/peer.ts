// A peer page: the DOM shell over src/session/peer-agent.ts. It checks the link, starts the GPU
// worker (Comlink), and shows what the agent reports; WebRTC stays in the page (workers have no
// RTCPeerConnection), GPU work runs in the worker. Without WebGPU the peer still joins: its worker
// computes with ONNX Runtime on wasm (src/engines/engine-choice.ts).
import { wrap, type Remote } from 'comlink';
import { isValidSessionId, newPeerId } from '../src/session/ids';
import type { GpuWorkerApi } from '../src/engines/worker-api';
import { startPeerAgent } from '../src/session/peer-agent';
import { el, peerOptions, setRole, showAlert } from './ui';

const WEBGPU_HELP = 'WebGPU works in Chrome or Edge 113+ (desktop or Android 121+), Safari 26+, or Firefox 141+ on Windows, over HTTPS or localhost.';
const CPU_NOTICE = 'no WebGPU: this peer computes with ONNX Runtime (wasm), on the CPU. It joins the session all the same; a GPU makes it faster.';

declare global {
  interface Window {
    /** A stalled job's post-mortem from the page (e2e tests print it on failure). */
    tabmeshPeer?: { diagnostics(): unknown };
  }
}

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
  let noticed = false;
  if (!('gpu' in navigator) || !navigator.gpu) {
    showAlert(`${CPU_NOTICE} ${WEBGPU_HELP}`, 'info', 'no-webgpu');
    noticed = true;
  }

  const worker = new Worker(new URL('../workers/gpu.worker.ts', import.meta.url), { type: 'module' });
  const gpu: Remote<GpuWorkerApi> = wrap<GpuWorkerApi>(worker);
  const myId = newPeerId(sessionId);
  app.append(el('p', { class: 'muted' }, 'peer id: ', el('code', { 'data-testid': 'peer-id' }, myId)));
  const engine = el('code', { 'data-testid': 'peer-engine' }, '…');
  app.append(el('p', { class: 'muted' }, 'engine: ', engine));
  const agent = await startPeerAgent({
    sessionId,
    peerId: myId,
    gpu,
    signaling: peerOptions(),
    userAgent: navigator.userAgent,
    gpuHelp: WEBGPU_HELP,
    rejoinHint: 'Reload the page to rejoin.',
    ui: {
      state: (text) => void (state.textContent = text),
      progress: (loaded, total) => {
        progress.max = total;
        progress.value = loaded;
      },
      job: (text) => void (jobLine.textContent = text),
      alert: (message, kind, code) => void showAlert(message, kind, code),
    },
  });
  if (!agent) return;
  window.tabmeshPeer = { diagnostics: () => agent.diagnostics() };
  engine.textContent = agent.report.engine ?? 'wgsl';
  // navigator.gpu may exist yet give no adapter (e.g. a blocklisted software one): same notice.
  if (agent.report.adapter.vendor === 'none' && !noticed) showAlert(`${CPU_NOTICE} (${agent.report.adapter.description})`, 'info', 'no-webgpu');
}
