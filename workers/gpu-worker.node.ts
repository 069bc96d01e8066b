// GPU worker entry of the headless Node peer (a worker_threads thread): the same GpuWorkerApi as
// workers/gpu.worker.ts, behind Comlink, so that the peer's main thread (PeerJS, WebRTC, same-host
// sockets) is never busy encoding GPU work. Started by src/session/gpu-thread.node.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { GpuWorkerApi } from '../src/engines/worker-api';
import { fileTuneCache } from '../src/engines/tune-store.node';
import { installNodeGpu } from '../src/session/node-gpu.node';

installNodeGpu((workerData as { userAgent: string }).userAgent);
expose(new GpuWorkerApi({ tuneCache: fileTuneCache() }), nodeEndpoint(parentPort!));
