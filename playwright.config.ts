import { defineConfig } from '@playwright/test';

// Browser tests: Debian's Chromium (Playwright cannot download browsers here), WebGPU on its bundled
// SwiftShader adapter. scripts/netns.sh runs all of this inside a private network namespace so
// WebRTC finds a route and nothing leaves the machine. One worker: the machine has 2 cores and each
// test opens several pages that all compute.
const PORT = Number(process.env.E2E_PORT ?? 5199);
export default defineConfig({
  testDir: 'e2e',
  timeout: 180_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'reports/e2e.json' }]],
  use: {
    baseURL: `http://localhost:${PORT}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
  webServer: {
    command: `node server/dev.mjs`,
    url: `http://localhost:${PORT}/api/models`,
    reuseExistingServer: false,
    timeout: 120_000,
    env: { PORT: String(PORT), HOST: '127.0.0.1', TABMESH_HTTPS: '0', TABMESH_NO_HMR: '1', TABMESH_MODELS: process.env.TABMESH_MODELS ?? '../shared/models' },
  },
});
