// Speed probe of a peer that computes with ONNX Runtime Web: one [n, n] x [n, n] f32 MatMul graph,
// timed like Gpu.matmulGflops (warm-up, then reps until the batch lasts >= 50 ms). Its GFLOPS go into
// the peer's report, where the coordinator uses them to pick peers and, with shard_weights 'speed',
// to size proportional shards.
import { GraphBuilder } from './onnx-graph';
import { configureOrt, createSession, ort, type OrtBackend } from './ort-env';

export async function ortMatmulGflops(backend: OrtBackend = 'wasm', n = 256, opts: { numThreads?: number; wasmPaths?: string } = {}): Promise<number> {
  configureOrt(opts);
  const b = new GraphBuilder('probe');
  b.input('a', 'float32', [n, n]);
  b.output('c', 'float32', [n, n]);
  const w = new Float32Array(n * n).map((_, i) => ((i * 7919) % 13) / 13 - 0.5); // [n, n]
  b.node('MatMul', ['a', b.initF32('w', w, [n, n])], {}, 'c');
  const session = await createSession(b.encode(), backend);
  try {
    const feeds = { a: new ort.Tensor('float32', w.slice(), [n, n]) }; // [n, n]
    await session.run(feeds); // warm-up
    let reps = 2;
    let secs = 0;
    for (;;) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) await session.run(feeds);
      secs = (performance.now() - t0) / 1000;
      if (secs >= 0.05 || reps >= 256) break;
      reps *= 4;
    }
    return (2 * n * n * n * reps) / secs / 1e9;
  } finally {
    await session.release();
  }
}
