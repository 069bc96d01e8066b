// One shared Gpu over Node Dawn (npm `webgpu`) for every kernel test in a worker process: creating a
// device per test is slow on the software Vulkan driver, and pipelines compiled once stay cached.
import { create, globals } from 'webgpu';
import { Gpu } from '../../src/gpu/gpu';

let shared: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  if (!shared) {
    Object.assign(globalThis, globals);
    shared = Gpu.create({ gpu: create([]) as unknown as GPU });
  }
  return shared;
}
