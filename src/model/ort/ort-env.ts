// onnxruntime-web, set up once for this JS realm.
// - Browser: 'onnxruntime-web' resolves to ort.bundle.min.mjs (wasm + the JSEP webgpu backend), which
//   fetches its .wasm next to itself (import.meta.url). If a bundler's dependency pre-bundling moves
//   the module away from its .wasm, pass `wasmPaths` (e.g. a URL prefix serving
//   node_modules/onnxruntime-web/dist/). Threads need a cross-origin isolated page (COOP/COEP, which
//   the server sets); numThreads defaults to ORT's choice there.
// - Node: the package's "node" export is ort.node.min.mjs (wasm only), which loads
//   ort-wasm-simd-threaded.wasm from its own dist/ folder with no configuration. We use 1 thread:
//   ORT's wasm threads need Web Workers, which Node does not provide.
// - Node with WebGPU (Dawn): ort-node-webgpu.node.ts swaps in the package's webgpu build as the runtime
//   that creates sessions (setOrtRuntime); tensors made with this module's `ort.Tensor` still work
//   there (ORT reads their type/dims/data, it does not check their class).
// ort.env is read when the first session is created; later changes are ignored, so the first load wins.
import * as ort from 'onnxruntime-web';

export { ort };

export type OrtBackend = 'wasm' | 'webgpu';

/** What createSession/configureOrt use of an ORT build: its session factory and its env. */
export type OrtRuntime = Pick<typeof ort, 'InferenceSession' | 'env'>;

let configured = false;
let runtime: OrtRuntime = ort;

/** Replaces the ORT build that creates sessions (before the first session of this realm). */
export function setOrtRuntime(r: OrtRuntime): void {
  if (configured) throw new Error('setOrtRuntime: ORT is already configured; call it before the first session');
  runtime = r;
}

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Applies the wasm settings before the first session; later calls are no-ops. */
export function configureOrt(opts: { numThreads?: number; wasmPaths?: string } = {}): void {
  if (configured) return;
  configured = true;
  if (isNode()) runtime.env.wasm.numThreads = 1;
  else if (opts.numThreads !== undefined) runtime.env.wasm.numThreads = opts.numThreads;
  if (opts.wasmPaths) runtime.env.wasm.wasmPaths = opts.wasmPaths;
}

/**
 * Creates a session from ModelProto bytes on the chosen backend, with all graph optimizations.
 * `outputsOnGpu` (webgpu only): outputs ORT leaves in GPU buffers ('gpu-buffer' tensors, which the
 * caller feeds back or disposes) instead of reading them back, e.g. a KV cache's present tensors.
 */
export function createSession(bytes: Uint8Array, backend: OrtBackend, outputsOnGpu: string[] = []): Promise<ort.InferenceSession> {
  const loc = backend === 'webgpu' && outputsOnGpu.length > 0
    ? { preferredOutputLocation: Object.fromEntries(outputsOnGpu.map((n) => [n, 'gpu-buffer' as const])) }
    : {};
  return runtime.InferenceSession.create(bytes, {
    executionProviders: [backend],
    graphOptimizationLevel: 'all',
    ...loc,
  });
}
