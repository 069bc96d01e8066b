// A peer page: the DOM shell over src/session/peer-agent.ts. It checks the link and WebGPU, starts
// the GPU worker (Comlink), and shows what the agent reports; WebRTC stays in the page (workers
// have no RTCPeerConnection), GPU work runs in the worker.
import { wrap, type Remote } from 'comlink';
import { isValidSessionId, newPeerId } from '../src/session/ids';
import type { GpuWorkerApi } from '../src/engines/worker-api';
import { startPeerAgent } from '../src/session/peer-agent';
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
  const myId = newPeerId(sessionId);
  app.append(el('p', { class: 'muted' }, 'peer id: ', el('code', { 'data-testid': 'peer-id' }, myId)));
  await startPeerAgent({
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
}
