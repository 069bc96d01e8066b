// `npm run bench`: kernel GFLOPS on this machine's WebGPU adapter (Node + Dawn), then browser
// benchmarks (collectives over WebRTC, LLM tokens/s) in headless Chromium inside the network
// namespace. Each writes bench/out/<name>.json and a markdown table. Not tests: nothing asserts speed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { bundle } from './bundle.mjs';

const only = process.argv[2];
const run = (cmd, args, env = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) console.error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return r.status ?? 1;
};
fs.mkdirSync('bench/out', { recursive: true });
let rc = 0;
if (!only || only === 'kernels') {
  if (fs.existsSync('bench/gpu-kernels.ts')) {
    await bundle('bench/gpu-kernels.ts', 'bench/out/gpu-kernels.mjs');
    rc |= run('node', ['bench/out/gpu-kernels.mjs'], { OUT: 'bench/out' }); // small sizes on a software adapter, full on a GPU
  }
}
if (!only || only === 'browser') {
  rc |= run('bash', ['scripts/netns.sh', 'npx', 'playwright', 'test', '-c', 'bench/playwright.config.ts']);
}
process.exit(rc);
