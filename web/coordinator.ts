// The coordinator page: creates the session, shows the join link and QR code, keeps the live
// roster (heartbeats), and runs jobs on groups of peers. `window.tabmesh` is its programmatic API.
import { Peer, type DataConnection } from 'peerjs';
import QRCode from 'qrcode';
import { coordinatorPeerId, joinLink, newSessionId } from '../src/session/ids';
import { FILE_CHUNK_BYTES, toBase64, HEARTBEAT_PERIOD_MS, type Job, type JobEvent, type ToCoordinator, type ToPeer, type AllReduceResult } from '../src/session/protocol';
import { Roster } from '../src/scheduler/roster';
import { Jobs, JobError } from '../src/scheduler/jobs';
import { el, fmtBytes, peerOptions, setRole, showAlert } from './ui';
import { mountLlmPanel, type LlmApi } from './llm-panel';
import { mountServePanel, type ServeApi } from './serve-panel';
import { connectApiRelay } from './api-relay';
import { mountImagePanel, type ImageApi } from './image-panel';

export interface TabmeshApi extends LlmApi, ImageApi, ServeApi {
  sessionId: string;
  joinLink: string;
  peers(): { id: string; adapter: unknown; features: unknown; limits: unknown; gflops: number; rttMs: number | null; state: string }[];
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
  const roster = new Roster();
  const conns = new Map<string, DataConnection>();
  const send = (id: string, msg: ToPeer): boolean => {
    const c = conns.get(id);
    if (!c || !c.open) return false;
    c.send(msg);
    return true;
  };
  const jobs = new Jobs(send);

  // Session panel: join link + QR code.
  const linkText = el('code', { 'data-testid': 'join-link' }, link);
  const qr = el('img', { alt: 'QR code of the join link', width: '160', height: '160', 'data-testid': 'join-qr' });
  QRCode.toDataURL(link, { margin: 1, width: 160 }).then((u) => (qr.src = u), () => undefined);
  const status = el('span', { class: 'muted', 'data-testid': 'signaling-status' }, 'connecting to the signaling server…');
  app.append(el('section', {}, el('h2', {}, 'Session'), el('div', { class: 'join' }, qr, el('div', {}, el('p', {}, 'Open this link on other tabs or devices to add their GPUs:'), linkText, el('p', {}, status)))));

  // Roster panel.
  const count = el('strong', { 'data-testid': 'peer-count' }, '0');
  const tbody = el('tbody');
  app.append(el('section', {}, el('h2', {}, 'Peers (', count, ' ready)'), el('table', { 'data-testid': 'roster' }, el('thead', {}, el('tr', {}, ...['peer', 'adapter', 'features', 'max binding', 'GFLOPS', 'RTT', 'state'].map((h) => el('th', {}, h)))), tbody)));
  roster.onChange(() => {
    const list = roster.list();
    count.textContent = String(list.filter((e) => e.state === 'ready' || e.state === 'busy').length);
    tbody.replaceChildren(...list.map((e) => el('tr', { 'data-peer': e.id },
      el('td', {}, e.id.slice(-12)),
      el('td', { 'data-testid': 'peer-adapter' }, `${e.adapter.vendor || '?'} ${e.adapter.architecture || ''}${e.adapter.isFallback ? ' (fallback)' : ''}`),
      el('td', {}, [e.features.shaderF16 ? 'shader-f16' : '', e.features.subgroups ? 'subgroups' : ''].filter(Boolean).join(', ') || '—'),
      el('td', {}, fmtBytes(e.limits.maxStorageBufferBindingSize)),
      el('td', {}, e.gflops.toFixed(1)),
      el('td', {}, e.rttMs === null ? '…' : `${e.rttMs.toFixed(1)} ms`),
      el('td', {}, e.state))));
  });

  const dropPeer = (id: string, why: string): void => {
    conns.get(id)?.close();
    conns.delete(id);
    if (roster.remove(id)) {
      log(`peer ${id.slice(-12)} left (${why})`);
      broadcastMesh();
    }
    jobs.peerLeft(id);
  };
  const broadcastMesh = (): void => {
    const ids = roster.ids();
    for (const id of ids) send(id, { type: 'mesh', peers: ids });
  };

  const logBox = el('pre', { class: 'output', 'data-testid': 'log' });
  const log = (line: string): void => {
    logBox.textContent = `${new Date().toLocaleTimeString()} ${line}\n${logBox.textContent ?? ''}`.slice(0, 8000);
  };

  const peer = new Peer(coordinatorPeerId(sessionId), peerOptions());
  peer.on('open', () => (status.textContent = 'signaling connected; waiting for peers'));
  peer.on('error', (err) => {
    const type = (err as { type?: string }).type ?? '';
    if (['network', 'server-error', 'socket-error', 'socket-closed'].includes(type)) {
      status.textContent = 'signaling server unreachable';
      showAlert(`The signaling server (${location.host}/peerjs) is unreachable: peers cannot join. Is \`npm start\` still running?`, 'error', 'signaling-error');
    } else if (type !== 'peer-unavailable') {
      log(`signaling error: ${type} ${err.message}`);
    }
  });
  peer.on('connection', (conn) => {
    if (conn.label !== 'control') return void conn.close();
    conn.on('data', (raw) => {
      const msg = raw as ToCoordinator;
      const now = performance.now();
      switch (msg.type) {
        case 'hello':
          if (msg.report.id !== conn.peer) return void conn.close();
          conns.set(conn.peer, conn);
          roster.add(msg.report, now);
          log(`peer ${conn.peer.slice(-12)} joined: ${msg.report.adapter.vendor} ${msg.report.adapter.architecture}, ${msg.report.gflops.toFixed(1)} GFLOPS`);
          send(conn.peer, { type: 'welcome', sessionId, meshPeers: roster.ids() });
          broadcastMesh();
          break;
        case 'pong':
          roster.seen(conn.peer, now, now - msg.t);
          break;
        case 'job-progress':
          roster.seen(conn.peer, now);
          jobs.event(conn.peer, msg.jobId, msg.event);
          break;
        case 'job-done':
          jobs.done(conn.peer, msg.jobId, msg.result);
          break;
        case 'job-error':
          jobs.error(conn.peer, msg.jobId, msg.error);
          break;
        case 'fatal':
          showAlert(`Peer ${conn.peer.slice(-12)}: ${msg.error}`, 'error', 'peer-fatal');
          dropPeer(conn.peer, msg.error);
          break;
        case 'mesh-state':
          break;
        case 'file-read':
          void serveFileRange(conn.peer, msg);
          break;
      }
    });
    conn.on('close', () => dropPeer(conn.peer, 'connection closed'));
    conn.on('error', () => dropPeer(conn.peer, 'connection error'));
  });

  // Heartbeats: ping everyone each period; a peer silent past the timeout leaves the roster.
  setInterval(() => {
    const now = performance.now();
    for (const id of roster.stale(now)) dropPeer(id, 'heartbeat timeout');
    for (const id of roster.ids()) send(id, { type: 'ping', t: now });
  }, HEARTBEAT_PERIOD_MS);

  // Local model files picked on this page, served to peers range by range over the control channel.
  const localFiles = new Map<string, File>();
  const serveFileRange = async (peerId: string, m: { reqId: number; name: string; start: number; end: number }): Promise<void> => {
    const f = localFiles.get(m.name);
    if (!f || m.start < 0 || m.end > f.size || m.end < m.start) {
      send(peerId, { type: 'file-error', reqId: m.reqId, error: f ? `bad range [${m.start}, ${m.end}) of ${m.name}` : `no local file named ${m.name} on the coordinator` });
      return;
    }
    const bytes = new Uint8Array(await f.slice(m.start, m.end).arrayBuffer()); // [end - start]
    const count = Math.max(1, Math.ceil(bytes.length / FILE_CHUNK_BYTES));
    for (let i = 0; i < count; i++) {
      send(peerId, { type: 'file-data', reqId: m.reqId, index: i, count, b64: toBase64(bytes.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES)) });
    }
  };

  const runJob = <R>(job: Job & { group: string[] }, onEvent?: (peer: string, ev: JobEvent) => void) => jobs.start<R>(job, onEvent);

  const llm = mountLlmPanel(app, { roster, runJob, cancel: (id) => jobs.cancel(id), log, localFiles });
  const api: TabmeshApi = {
    sessionId,
    joinLink: link,
    peers: () => roster.list().map((e) => ({ id: e.id, adapter: e.adapter, features: e.features, limits: e.limits, gflops: e.gflops, rttMs: e.rttMs, state: e.state })),
    async allReduceTest(opts = {}) {
      const group = opts.peers ?? roster.ids().sort();
      const length = opts.length ?? 1024;
      const h = runJob<AllReduceResult>({ kind: 'allreduce', group, length, timeoutMs: opts.timeoutMs ?? 10_000, delayPeer: opts.delayPeer, delayMs: opts.delayMs });
      const results = await h.done;
      // Rank r contributes (r+1)*((i%7)+1), so the exact sum is n(n+1)/2 * sum_i((i%7)+1).
      const n = group.length;
      let base = 0;
      for (let i = 0; i < length; i++) base += (i % 7) + 1;
      const expected = ((n * (n + 1)) / 2) * base;
      return { ok: results.every((r) => r.checksum === expected), expected, results };
    },
    async benchComm(opts: { peers?: string[]; sizes?: number[]; reps?: number } = {}) {
      const group = opts.peers ?? roster.ids().sort();
      const sizes = opts.sizes ?? [4096, 65536, 1 << 20, 16 << 20];
      const h = runJob<{ rows: unknown[]; link: unknown }>({ kind: 'bench-comm', group, sizes, reps: opts.reps ?? 5 });
      const res = await h.done;
      return { n: group.length, rows: res[0].rows, link: res[0].link };
    },
    ...llm,
    ...mountImagePanel(app, { roster, runJob, models: llm.models, log }),
    ...mountServePanel(app, { roster, runJob, cancel: (id) => jobs.cancel(id), log, models: llm.models }),
  };
  connectApiRelay(api, log); // the page end of the server's OpenAI-compatible /v1 API
  window.tabmesh = api;
  app.append(el('section', {}, el('h2', {}, 'Log'), logBox));
  void JobError;
}
