// `npm start`: the Vite dev server (middleware mode) plus the signaling server on one port.
// HTTP on PORT for this machine; HTTPS (self-signed) on HTTPS_PORT for the LAN, because phones and
// other computers only get WebGPU in a secure context. Tests and benchmarks set TABMESH_NO_HMR=1:
// a source edit must never reload pages in the middle of a measured run.
import { createServer as createViteServer } from 'vite';
import { startServers } from './listen.mjs';

const noHmr = process.env.TABMESH_NO_HMR === '1';
const vite = await createViteServer({
  server: { middlewareMode: true, hmr: noHmr ? false : undefined, watch: noHmr ? null : undefined },
  appType: 'spa',
});
await startServers((app) => app.use(vite.middlewares));
