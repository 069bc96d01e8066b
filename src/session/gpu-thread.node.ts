// Where a headless peer's GPU work runs. In a tab it is a Worker behind Comlink (web/peer.ts), so the
// page's event loop only moves messages; the headless peer does the same with a worker_threads thread
// when the GPU worker bundle (workers/gpu-worker.node.ts, bundled next to the peer as gpu-worker.mjs)
// is there. Why it matters: with encoding on the main thread, a Unix socket or data channel moves only
// one kernel buffer (~200 KB) per event-loop turn of each side, so a 1024-px DistriFusion step (7-14 MB
// per peer) waited on its own pieces: 56 ms/step on 2 H200s against 27 for the same work with the
// exchange off. 'main' keeps everything in one thread (one hop fewer per collective; the only choice
// when running from TypeScript sources, e.g. the tests).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { GpuWorkerApi } from '../engines/worker-api';

export type GpuThread = 'worker' | 'main';

/** The GPU worker bundle beside the running bundle, or null (running from sources, or not bundled). */
export function gpuWorkerFile(): string | null {
  if (!import.meta.url.endsWith('.mjs')) return null;
  const f = fileURLToPath(new URL('./gpu-worker.mjs', import.meta.url));
  return fs.existsSync(f) ? f : null;
}

export interface GpuWorkerHandle {
  api: Remote<GpuWorkerApi>;
  /** Stops the thread (its GPU device goes with it). */
  terminate(): Promise<void>;
}

/** Starts the GPU worker thread; `onExit` hears of it dying (an uncaught error, a crash in Dawn). */
export function startGpuWorker(file: string, userAgent: string, onExit: (why: string) => void): GpuWorkerHandle {
  const w = new Worker(file, { workerData: { userAgent } });
  let stopping = false;
  let reported = false;
  const report = (why: string) => {
    if (stopping || reported) return; // a throw is an 'error' and then an 'exit': said once
    reported = true;
    onExit(why);
  };
  w.on('error', (e) => report(`GPU worker thread failed: ${e.message}`));
  w.on('exit', (code) => report(`GPU worker thread exited (code ${code})`));
  return {
    api: wrap<GpuWorkerApi>(nodeEndpoint(w)),
    terminate: async () => {
      stopping = true;
      await w.terminate();
    },
  };
}
