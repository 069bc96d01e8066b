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
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { fs: { allow: ['..'] } },
});
