// onnxruntime-web, set up once for this JS realm.
// - Browser: 'onnxruntime-web' resolves to ort.bundle.min.mjs (wasm + the JSEP webgpu backend), which
//   fetches its .wasm next to itself (import.meta.url). If a bundler's dependency pre-bundling moves
//   the module away from its .wasm, pass `wasmPaths` (e.g. a URL prefix serving
//   node_modules/onnxruntime-web/dist/). Threads need a cross-origin isolated page (COOP/COEP, which
//   the server sets); numThreads defaults to ORT's choice there.
// - Node: the package's "node" export is ort.node.min.mjs (wasm only), which loads
//   ort-wasm-simd-threaded.wasm from its own dist/ folder with no configuration. We use 1 thread:
//   ORT's wasm threads need Web Workers, which Node does not provide.
// ort.env is read when the first session is created; later changes are ignored, so the first load wins.
import * as ort from 'onnxruntime-web';

export { ort };

export type OrtBackend = 'wasm' | 'webgpu';

let configured = false;

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Applies the wasm settings before the first session; later calls are no-ops. */
export function configureOrt(opts: { numThreads?: number; wasmPaths?: string } = {}): void {
  if (configured) return;
  configured = true;
  if (isNode()) ort.env.wasm.numThreads = 1;
  else if (opts.numThreads !== undefined) ort.env.wasm.numThreads = opts.numThreads;
  if (opts.wasmPaths) ort.env.wasm.wasmPaths = opts.wasmPaths;
}

/** Creates a session from ModelProto bytes on the chosen backend, with all graph optimizations. */
export function createSession(bytes: Uint8Array, backend: OrtBackend): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: [backend],
    graphOptimizationLevel: 'all',
  });
}
