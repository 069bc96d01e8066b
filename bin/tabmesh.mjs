#!/usr/bin/env node
// `tabmesh peer <join-link>`: a headless peer in Node (src/session/headless.node.ts). The sources are
// TypeScript with WGSL `?raw` imports, so on first run (and whenever a source is newer than the
// bundle) they are bundled with esbuild into node_modules/.cache/tabmesh/peer.mjs, then imported.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'src/session/headless.node.ts');
const outfile = path.join(root, 'node_modules/.cache/tabmesh/peer.mjs');
// Native addons and packages that must be loaded from node_modules, not inlined (onnxruntime-web
// finds its .wasm/.mjs files next to its own module, so it must stay in its dist/ folder).
const EXTERNAL = ['node-datachannel', 'node-datachannel/*', 'ws', 'bufferutil', 'utf-8-validate', 'onnxruntime-web'];

function newestMtime(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

async function ensureBundle() {
  const built = fs.existsSync(outfile) ? fs.statSync(outfile).mtimeMs : 0;
  const sources = Math.max(newestMtime(path.join(root, 'src')), newestMtime(path.join(root, 'shaders')), newestMtime(path.join(root, 'workers')), fs.statSync(fileURLToPath(import.meta.url)).mtimeMs);
  if (built > sources && !process.env.TABMESH_REBUNDLE) return;
  const { bundle } = await import(pathToFileURL(path.join(root, 'scripts/bundle.mjs')).href);
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  const tmp = `${outfile}.${process.pid}.tmp.mjs`; // two peers starting at once must not read a half-written file
  await bundle(entry, tmp, { external: EXTERNAL, gpuWorker: true }); // + gpu-worker.mjs: GPU work in a worker thread
  fs.renameSync(tmp, outfile);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd !== 'peer') {
  console.error('usage: tabmesh peer <join-link> [--name NAME] [--ice JSON] [--insecure]   (tabmesh peer --help for more)');
  process.exit(2);
}
await ensureBundle();
const { runHeadlessPeer } = await import(pathToFileURL(outfile).href);
// Exit explicitly: Dawn's instance and libdatachannel's threads would otherwise keep the process alive.
process.exit(await runHeadlessPeer(args));
