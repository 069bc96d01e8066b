import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The app lives in web/ (pages), workers/ (GPU worker entries), src/ (library) and shaders/ (WGSL,
// imported with `?raw`). `npm start` runs Vite in middleware mode inside server/dev.mjs so the
// signaling server shares its port; this file is the one config both it and `vite build` read.
export default defineConfig({
  root: 'web',
  // Two pages: the app and the benchmark charts (web/bench.html, linked from the app).
  build: { outDir: '../dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { main: fileURLToPath(new URL('./web/index.html', import.meta.url)), bench: fileURLToPath(new URL('./web/bench.html', import.meta.url)) } } },
  worker: { format: 'es' },
  // Every bare import the pages and the worker use, pre-bundled when the server starts. Why: Vite's
  // scan starts from the HTML pages and does not follow `new Worker(new URL(...))`, so a dependency
  // only the GPU worker imports (onnx-proto) was found at run time, when the first peer pages of a
  // run loaded: Vite re-optimized ("optimized dependencies changed. reloading") while other pages
  // were still loading their modules. With HMR off (tests, benches) nothing reloads them, and on a
  // fresh clone (cold cache) one peer page of the first swarm now and then never came up.
  // test/app/vite-deps.test.ts fails if a browser-side import is missing from this list.
  // onnxruntime-web stays out: it is ESM already and ships its own wasm/worker files.
  optimizeDeps: {
    entries: ['index.html', 'bench.html', '../workers/*.ts'],
    include: ['comlink', 'peerjs', 'onnx-proto', 'chart.js', 'qrcode', '@huggingface/gguf', '@huggingface/jinja'],
    exclude: ['onnxruntime-web'],
  },
  server: { fs: { allow: ['..'] } },
});
