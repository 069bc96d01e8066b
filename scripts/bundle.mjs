// Bundles a TypeScript entry for plain Node (benchmarks, the GPU machine): WGSL `?raw` imports
// become strings, `webgpu` (Dawn) stays external, as does every package in opts.external (native addons
// such as node-datachannel cannot be bundled). Usage: node scripts/bundle.mjs <entry.ts> <out.mjs>
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// opts.gpuWorker: also bundle the headless peer's GPU worker thread (workers/gpu-worker.node.ts) as
// gpu-worker.mjs beside outfile, where src/session/gpu-thread.node.ts looks for it (written to a temporary
// name and renamed, like bin/tabmesh.mjs's peer bundle, so a peer starting meanwhile never reads half a file).
export async function bundle(entry, outfile, opts = {}) {
  await bundleOne(entry, outfile, opts);
  if (opts.gpuWorker) {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const dest = path.join(path.dirname(outfile), 'gpu-worker.mjs');
    const tmp = `${dest}.${process.pid}.tmp.mjs`;
    await bundleOne(path.join(root, 'workers/gpu-worker.node.ts'), tmp, opts);
    fs.renameSync(tmp, dest);
  }
}

async function bundleOne(entry, outfile, opts) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    external: ['webgpu', ...(opts.external ?? [])],
    logLevel: 'warning',
    // The GPU machine's working tree is capped at 64 MiB: bundles that travel there can be minified.
    minify: opts.minify ?? false,
    // CommonJS packages (express, peer) call require() for Node built-ins: an ESM bundle needs a real one.
    ...(opts.cjsRequire ? { banner: { js: "import { createRequire as __tabmeshCreateRequire } from 'node:module'; const require = __tabmeshCreateRequire(import.meta.url);" } } : {}),
    plugins: [{
      name: 'raw',
      setup(b) {
        b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: path.resolve(a.resolveDir, a.path.replace(/\?raw$/, '')), namespace: 'raw' }));
        b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: fs.readFileSync(a.path, 'utf8'), loader: 'text' }));
      },
    }],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [entry, out] = process.argv.slice(2);
  await bundle(entry, out);
}
