// Shared server pieces for `npm start` (Vite dev) and `npm run serve` (built app):
// the PeerJS signaling server under /peerjs on the same port(s), the model listing and
// byte-range model serving, and the cross-origin-isolation headers.
import express from 'express';
import { ExpressPeerServer } from 'peer';
import { WebSocketServer } from 'ws';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { getCertificate } from '@vitejs/plugin-basic-ssl';

export const PEER_PATH = '/peerjs';

/**
 * One PeerJS realm shared by every listening server (HTTP for localhost, HTTPS for the LAN), so a
 * tab on localhost and a phone on the LAN meet in the same session. The peer package would attach
 * a path-bound `ws` server to the HTTP server, and `ws` answers 400 to every other upgrade, which
 * would break Vite's HMR socket: we create it `noServer` and route only /peerjs upgrades to it.
 * The peer package wants a server only to hook that socket on, so it gets a bare EventEmitter.
 */
export function createSignaling() {
  let wss;
  const peerApp = ExpressPeerServer(new EventEmitter(), {
    path: '/',
    allow_discovery: false,
    alive_timeout: 20_000,
    createWebSocketServer: () => (wss = new WebSocketServer({ noServer: true })),
  });
  const app = express();
  app.use(PEER_PATH, peerApp); // emits 'mount': the realm and socket server are created now
  function attach(server) {
    server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith(PEER_PATH + '/')) return; // not ours: Vite's HMR socket
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
  }
  return { app, attach };
}

/** Headers every response carries: cross-origin isolation lets onnxruntime-web use threads. */
export function isolationHeaders(_req, res, next) {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'credentialless');
  next();
}

/**
 * Models shipped with the app itself (web/public, served at the site root by Vite and copied into
 * dist/ by `vite build`), listed after the TABMESH_MODELS ones so existing defaults keep their place.
 */
export const BUNDLED_MODELS = [
  { name: 'fm-unet', kind: 'diffusion', url: '/fm-unet/fm-unet.safetensors', files: ['web/public/fm-unet/fm-unet.safetensors', 'dist/fm-unet/fm-unet.safetensors'] },
];

function bundledModels(taken) {
  const out = [];
  for (const m of BUNDLED_MODELS) {
    if (taken.has(m.name)) continue; // a same-named file under TABMESH_MODELS wins
    const file = m.files.map((f) => path.resolve(f)).find((f) => fs.existsSync(f));
    if (file) out.push({ name: m.name, kind: m.kind, bytes: fs.statSync(file).size, url: m.url });
  }
  return out;
}

/** Models found (recursively) under TABMESH_MODELS, served with HTTP Range support, plus the bundled ones. */
export function modelsRouter(root) {
  const router = express.Router();
  const list = () => {
    const found = findModels(root).map(({ name, rel, bytes, kind }) => ({ name, kind, bytes, url: `/models/${rel}` }));
    return [...found, ...bundledModels(new Set(found.map((m) => m.name)))];
  };
  router.get('/api/models', (_req, res) => res.json(list()));
  router.use('/models', express.static(root, { acceptRanges: true, index: false, dotfiles: 'deny', fallthrough: false }));
  return router;
}

function findModels(root) {
  const out = [];
  const walk = (dir, depth) => {
    if (depth > 6) return;
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full, depth + 1);
      else if (/\.(gguf|safetensors)$/.test(e.name) && !e.name.startsWith('golden')) {
        const rel = path.relative(root, full).split(path.sep).map(encodeURIComponent).join('/');
        const kind = e.name.endsWith('.gguf') ? 'llm' : 'diffusion';
        out.push({ name: e.name.replace(/\.(gguf|safetensors)$/, ''), rel, bytes: fs.statSync(full).size, kind });
      }
    }
  };
  walk(root, 0);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A self-signed certificate (cached under node_modules/.cache) for the LAN HTTPS listener. */
export async function lanCertificate() {
  const pem = await getCertificate(path.resolve('node_modules/.cache/tabmesh-ssl'), 'tabmesh', ['localhost', ...lanAddresses()]);
  return { key: pem, cert: pem };
}

export function lanAddresses() {
  return Object.values(os.networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4' && !i.internal).map((i) => i.address);
}

export function printUrls({ host, port, httpsPort }) {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  console.log(`tabmesh coordinator (this machine):`);
  console.log(`http://${shown}:${port}/`);
  if (httpsPort) for (const a of lanAddresses()) console.log(`LAN (HTTPS, self-signed): https://${a}:${httpsPort}/`);
}
