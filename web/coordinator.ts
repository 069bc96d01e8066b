// The coordinator page: creates the session, shows the join link and QR code, the live roster and
// the log, and mounts the panels. The session itself (PeerJS, heartbeats, jobs, file serving) is
// src/session/coordinator-core.ts, shared with the Node coordinator. `window.tabmesh` is its API.
import QRCode from 'qrcode';
import { joinLink, newSessionId } from '../src/session/ids';
import type { AllReduceResult } from '../src/session/protocol';
import { startCoordinatorCore } from '../src/session/coordinator-core';
import { el, fmtBytes, peerOptions, setRole, showAlert } from './ui';
import { mountLlmPanel, type LlmApi } from './llm-panel';
import { mountServePanel, type ServeApi } from './serve-panel';
import { connectApiRelay } from './api-relay';
import { mountImagePanel, type ImageApi } from './image-panel';

export interface TabmeshApi extends LlmApi, ImageApi, ServeApi {
  sessionId: string;
  joinLink: string;
  peers(): { id: string; adapter: unknown; features: unknown; limits: unknown; gflops: number; engine: string; rttMs: number | null; state: string }[];
  benchComm(opts?: { peers?: string[]; sizes?: number[]; reps?: number }): Promise<{ n: number; rows: unknown[]; link: unknown }>;
  allReduceTest(opts?: { length?: number; peers?: string[]; timeoutMs?: number; delayPeer?: string; delayMs?: number }): Promise<{ ok: boolean; expected: number; results: AllReduceResult[] }>;
}

declare global {
  interface Window {
    tabmesh: TabmeshApi;
  }
}

export async function startCoordinator(): Promise<void> {
  setRole('coordinator');
  const app = document.getElementById('app')!;
  const sessionId = newSessionId();
  const link = joinLink(location.origin, sessionId);

  // Session panel: join link + QR code.
  const linkText = el('code', { 'data-testid': 'join-link' }, link);
  const qr = el('img', { alt: 'QR code of the join link', width: '160', height: '160', 'data-testid': 'join-qr' });
  QRCode.toDataURL(link, { margin: 1, width: 160 }).then((u) => (qr.src = u), () => undefined);
  const status = el('span', { class: 'muted', 'data-testid': 'signaling-status' }, 'connecting to the signaling server…');
  app.append(el('section', {}, el('h2', {}, 'Session'), el('div', { class: 'join' }, qr, el('div', {}, el('p', {}, 'Open this link on other tabs or devices to add their GPUs:'), linkText, el('p', {}, status)))));

  const logBox = el('pre', { class: 'output', 'data-testid': 'log' });
  const log = (line: string): void => {
    logBox.textContent = `${new Date().toLocaleTimeString()} ${line}\n${logBox.textContent ?? ''}`.slice(0, 8000);
  };

  const core = startCoordinatorCore({
    sessionId,
    signaling: peerOptions(),
    events: {
      log,
      signaling: (state) => {
        if (state === 'open') return void (status.textContent = 'signaling connected; waiting for peers');
        status.textContent = 'signaling server unreachable';
        showAlert(`The signaling server (${location.host}/peerjs) is unreachable: peers cannot join. Is \`npm start\` still running?`, 'error', 'signaling-error');
      },
      peerFatal: (peer, error) => void showAlert(`Peer ${peer.slice(-12)}: ${error}`, 'error', 'peer-fatal'),
    },
  });
  const { roster, runJob } = core;

  // Roster panel.
  const count = el('strong', { 'data-testid': 'peer-count' }, '0');
  const tbody = el('tbody');
  app.append(el('section', {}, el('h2', {}, 'Peers (', count, ' ready)'), el('table', { 'data-testid': 'roster' }, el('thead', {}, el('tr', {}, ...['peer', 'adapter', 'engine', 'features', 'max binding', 'GFLOPS', 'RTT', 'state'].map((h) => el('th', {}, h)))), tbody)));
  roster.onChange(() => {
    const list = roster.list();
    count.textContent = String(list.filter((e) => e.state === 'ready' || e.state === 'busy').length);
    tbody.replaceChildren(...list.map((e) => el('tr', { 'data-peer': e.id },
      el('td', {}, e.id.slice(-12)),
      el('td', { 'data-testid': 'peer-adapter' }, `${e.adapter.vendor || '?'} ${e.adapter.architecture || ''}${e.adapter.isFallback ? ' (fallback)' : ''}`),
      el('td', { 'data-testid': 'peer-engine' }, e.engine ?? 'wgsl'),
      el('td', {}, [e.features.shaderF16 ? 'shader-f16' : '', e.features.subgroups ? 'subgroups' : ''].filter(Boolean).join(', ') || '—'),
      el('td', {}, fmtBytes(e.limits.maxStorageBufferBindingSize)),
      el('td', {}, e.gflops.toFixed(1)),
      el('td', {}, e.rttMs === null ? '…' : `${e.rttMs.toFixed(1)} ms`),
      el('td', {}, e.state))));
  });

  const llm = mountLlmPanel(app, { roster, runJob, cancel: (id) => core.cancel(id), log, localFiles: core.localFiles });
  const api: TabmeshApi = {
    sessionId,
    joinLink: link,
    peers: () => roster.list().map((e) => ({ id: e.id, adapter: e.adapter, features: e.features, limits: e.limits, gflops: e.gflops, engine: e.engine ?? 'wgsl', rttMs: e.rttMs, state: e.state })),
    allReduceTest: (opts = {}) => core.allReduceTest(opts),
    benchComm: (opts = {}) => core.benchComm(opts),
    ...llm,
    ...mountImagePanel(app, { roster, runJob, models: llm.models, log }),
    ...mountServePanel(app, { roster, runJob, cancel: (id) => core.cancel(id), log, models: llm.models }),
  };
  connectApiRelay(api, log); // the page end of the server's OpenAI-compatible /v1 API
  window.tabmesh = api;
  app.append(el('section', {}, el('h2', {}, 'Bench'), el('p', {}, el('a', { href: '/bench.html', 'data-testid': 'bench-link' }, 'Benchmark results'), ' (matmul, GEMV, tensor-parallel LLM, DistriFusion)')));
  app.append(el('section', {}, el('h2', {}, 'Log'), logBox));
}
