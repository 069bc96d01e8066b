// WebGPU for Node: Dawn (npm `webgpu`) installed as navigator.gpu, shared by the headless peer's main
// thread (GPU work in-process) and its GPU worker thread (workers/gpu-worker.node.ts). Idempotent.
import { create, globals } from 'webgpu';

// Dawn tears its instance down when the object create() returned is garbage collected: module scope
// keeps it for the life of the thread (Gpu also holds it once created).
let dawn: GPU | null = null;

export function installNodeGpu(userAgent: string): void {
  const g = globalThis as Record<string, unknown>;
  Object.assign(g, globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
  dawn ??= create([]) as unknown as GPU;
  // Node 20 has no navigator; Node 21+ has one without gpu. Either way GpuWorkerApi calls Gpu.create(),
  // which reads navigator.gpu, and the report takes its userAgent from here.
  Object.defineProperty(g, 'navigator', { value: { gpu: dawn, userAgent }, configurable: true, writable: true });
}
