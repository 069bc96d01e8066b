// `npm start`: the Vite dev server (middleware mode) plus the signaling server on one port.
// HTTP on PORT for this machine; HTTPS (self-signed) on HTTPS_PORT for the LAN, because phones and
// other computers only get WebGPU in a secure context.
import { createServer as createViteServer } from 'vite';
import { startServers } from './listen.mjs';

const vite = await createViteServer({ server: { middlewareMode: true, hmr: { port: Number(process.env.HMR_PORT ?? 0) || undefined } }, appType: 'spa' });
await startServers((app) => app.use(vite.middlewares));
