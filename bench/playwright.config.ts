import { defineConfig } from '@playwright/test';
import base from '../playwright.config';

// Benchmarks reuse the e2e setup (Debian Chromium, the dev server, the network namespace) but are
// not tests: they write JSON and markdown under bench/out/ and assert nothing about speed.
export default defineConfig({
  ...base,
  testDir: '.',
  testMatch: /.*\.bench\.ts$/,
  timeout: 1_800_000,
  reporter: [['list']],
  webServer: { ...base.webServer!, command: 'node server/dev.mjs', cwd: '..' } as typeof base.webServer,
});
