import { defineConfig } from 'vite';

// The app lives in web/ (pages), workers/ (GPU worker entries), src/ (library) and shaders/ (WGSL,
// imported with `?raw`). `npm start` runs Vite in middleware mode inside server/dev.mjs so the
// signaling server shares its port; this file is the one config both it and `vite build` read.
export default defineConfig({
  root: 'web',
  build: { outDir: '../dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { fs: { allow: ['..'] } },
});
