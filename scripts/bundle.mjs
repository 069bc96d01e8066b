// Bundles a TypeScript entry for plain Node (benchmarks, the GPU machine): WGSL `?raw` imports
// become strings, `webgpu` (Dawn) stays external, as does every package in opts.external (native addons
// such as node-datachannel cannot be bundled). Usage: node scripts/bundle.mjs <entry.ts> <out.mjs>
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

export async function bundle(entry, outfile, opts = {}) {
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
