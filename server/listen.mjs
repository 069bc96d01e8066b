// Listening logic shared by the dev and production servers.
import express from 'express';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { createSignaling, isolationHeaders, modelsRouter, lanCertificate, printUrls } from './signaling.mjs';
import { createOpenAiApi } from './openai.mjs';

export async function startServers(mountApp) {
  const port = Number(process.env.PORT ?? 5173);
  const host = process.env.HOST ?? '0.0.0.0';
  // HTTPS for the LAN sits next to the HTTP port; TABMESH_HTTPS=0 turns it off (tests, loopback-only use).
  const httpsPort = process.env.TABMESH_HTTPS === '0' ? 0 : Number(process.env.HTTPS_PORT ?? port + 1);
  const modelsDir = path.resolve(process.env.TABMESH_MODELS ?? './models');

  const signaling = createSignaling();
  const app = express();
  app.use(isolationHeaders);
  app.use(signaling.app);
  app.use(modelsRouter(modelsDir));
  const openai = createOpenAiApi(); // /v1/* relayed to the coordinator page over /tabmesh-api
  app.use(openai.router);
  mountApp(app);

  const servers = [http.createServer(app)];
  if (httpsPort) servers.push(https.createServer(await lanCertificate(), app));
  const ports = [port, httpsPort];
  await Promise.all(servers.map((s, i) => new Promise((resolve, reject) => {
    signaling.attach(s);
    openai.attach(s);
    s.once('error', reject);
    s.listen(ports[i], host, resolve);
  })));
  printUrls({ host, port, httpsPort });
  console.log(`models from ${modelsDir}`);
  const stop = () => { for (const s of servers) s.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
