import { defineConfig } from '@playwright/test';
import base from '../playwright.config';
import { prepareModelsDir } from './models-dir';

// Benchmarks reuse the e2e setup (Debian Chromium, the dev server, the network namespace) but are
// not tests: they write JSON and markdown under bench/out/ and assert nothing about speed.
// The server's models are bench/out/models/: the shared models (symlinked) plus the random-weight
// GGUFs benchmarks generate there (bench/random-llama.ts).
const models = prepareModelsDir();
const server = base.webServer as Exclude<typeof base.webServer, unknown[] | undefined>;
export default defineConfig({
  ...base,
  testDir: '.',
  testMatch: /.*\.bench\.ts$/,
  timeout: 1_800_000,
  reporter: [['list']],
  webServer: { ...server, command: 'node server/dev.mjs', cwd: '..', env: { ...server.env, TABMESH_MODELS: models } },
});
