// `npm run serve`: the built app (dist/) with the same signaling server and model routes.
import express from 'express';
import path from 'node:path';
import fs from 'node:fs';
import { startServers } from './listen.mjs';

const dist = path.resolve('dist');
if (!fs.existsSync(path.join(dist, 'index.html'))) {
  console.error('dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
await startServers((app) => {
  app.use(express.static(dist, { index: 'index.html' }));
  app.use((_req, res) => res.sendFile(path.join(dist, 'index.html')));
});
