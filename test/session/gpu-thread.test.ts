// The headless peer's GPU thread handle (src/session/gpu-thread.node.ts): a thread that dies is reported
// (the peer then exits instead of waiting on a thread that never answers); stopping it is not a death;
// from the TypeScript sources there is no worker bundle to start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuWorkerFile, startGpuWorker } from '../../src/session/gpu-thread.node';

function script(body: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm-gpu-thread-'));
  const f = path.join(dir, 'w.mjs');
  fs.writeFileSync(f, body);
  return f;
}

describe('the GPU worker thread handle', () => {
  it('reports a thread that throws, and one that exits on its own', async () => {
    const reasons: string[] = [];
    const thrown = await new Promise<string>((resolve) => startGpuWorker(script("throw new Error('boom');"), 'ua', (r) => {
      reasons.push(r);
      resolve(r);
    }));
    expect(thrown).toMatch(/GPU worker thread failed: boom/);
    await new Promise((r) => setTimeout(r, 100)); // its 'exit' follows the 'error'
    expect(reasons).toHaveLength(1);
    const exited = await new Promise<string>((resolve) => startGpuWorker(script('process.exit(3);'), 'ua', resolve));
    expect(exited).toMatch(/exited \(code 3\)/);
  });

  it('terminate() stops it without reporting a death', async () => {
    const reasons: string[] = [];
    const h = startGpuWorker(script("import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => undefined);"), 'ua', (r) => reasons.push(r));
    await h.terminate();
    await new Promise((r) => setTimeout(r, 50));
    expect(reasons).toEqual([]);
  });

  it('finds no worker bundle beside the TypeScript sources', () => {
    expect(gpuWorkerFile()).toBeNull();
  });
});
