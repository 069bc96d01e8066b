// Device probes that only use the Gpu's public API: the tiled-matmul GFLOPS figure the worker reports
// to the scheduler (Gpu.matmulGflops() delegates here, keeping gpu.ts small).
import matmulWgsl from '../../shaders/llm/matmul.wgsl?raw';
import type { Gpu, Kernel } from './gpu';

/** Measured f32 GFLOPS of the tiled matmul kernel at 256^3 (compile and warm-up excluded). */
export async function matmulGflops(gpu: Gpu): Promise<number> {
  const n = 256;
  const a = gpu.alloc(n * n * 4, 'bench.a');
  const b = gpu.alloc(n * n * 4, 'bench.b');
  const c = gpu.alloc(n * n * 4, 'bench.c');
  const fill = new Float32Array(n * n).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  gpu.write(a, fill);
  gpu.write(b, fill);
  const kernel: Kernel = { code: matmulWgsl, file: 'shaders/llm/matmul.wgsl', constants: { WTYPE: 0 } };
  const params = new Uint32Array([n, n, n, 0]);
  const wg: [number, number] = [Math.ceil(n / 64), Math.ceil(n / 64)];
  gpu.run(kernel, params, [a, b, c], wg); // warm-up: compiles the pipeline
  await gpu.checkCompiles();
  await gpu.sync();
  let reps = 2;
  let secs = 0;
  // Grow the rep count until the timed batch is long enough to measure (>= 50 ms) or reps get large.
  for (;;) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) gpu.run(kernel, params, [a, b, c], wg);
    await gpu.sync();
    secs = (performance.now() - t0) / 1000;
    if (secs >= 0.05 || reps >= 256) break;
    reps *= 4;
  }
  gpu.free(a);
  gpu.free(b);
  gpu.free(c);
  return (2 * n * n * n * reps) / secs / 1e9;
}
