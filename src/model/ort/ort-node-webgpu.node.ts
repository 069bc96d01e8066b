// ONNX Runtime Web's WebGPU execution provider in Node, on Dawn (npm `webgpu`): what it takes to run
// the browser package outside a browser. Node-only (node: imports); the browser path is ort-env.ts.
// - Build: 'onnxruntime-web/webgpu' (dist/ort.webgpu.bundle.min.mjs) is ORT 1.30's native C++ WebGPU
//   EP compiled with emscripten + asyncify (ort-wasm-simd-threaded.asyncify.wasm). The package's
//   default import in a browser (ort.bundle.min.mjs) is the older JSEP build (WGSL kernels written in
//   JS, ort-wasm-simd-threaded.jsep.wasm); in Node the default import is wasm-only (ort.node.min.mjs).
//   Both webgpu builds run here; this module installs the native-EP one (the build ORT recommends for
//   WebGPU; one .wasm of ~26 MB, 3.8 MB xz, is all the GPU machine's size cap leaves room for).
// - navigator.gpu: Node 20 has no navigator; ORT calls navigator.gpu.requestAdapter()/requestDevice()
//   itself, so a Dawn GPU object goes there.
// - Shared memory: the threaded wasm's heap is a SharedArrayBuffer even with one thread, and ORT passes
//   views of it (or the buffer itself) to GPUQueue.writeBuffer, which Dawn-node rejects ("Invalid
//   argument" / "no overload matched"). writeBuffer is wrapped to copy such data into a plain buffer.
// - Event loop: a pending Dawn promise (createComputePipelineAsync, mapAsync) does not keep Node's
//   event loop alive, and ORT waits on them from an asyncify-suspended call: with nothing else
//   pending Node stops servicing them (the run never finishes). A referenced interval keeps the loop
//   alive until dispose(); it does not pace anything (Dawn resolves its promises on its own ticks).
// - The .wasm: read from `wasmFile` (default: the package's dist/ file) and handed to ORT as bytes
//   (env.wasm.wasmBinary), so nothing is fetched by URL.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import * as ortWebgpu from 'onnxruntime-web/webgpu';
import { setOrtRuntime, type OrtRuntime } from './ort-env';

/** The .wasm of the native-WebGPU-EP build (the one 'onnxruntime-web/webgpu' loads). */
export const ORT_WEBGPU_WASM = 'ort-wasm-simd-threaded.asyncify.wasm';

export interface OrtNodeWebgpu {
  /** The ORT build now creating sessions (also runs the 'wasm' backend, on the same .wasm). */
  ort: typeof ortWebgpu;
  /** Stops keeping the event loop alive (call when done with ORT sessions). */
  dispose(): void;
}

const PATCHED = Symbol.for('tabmesh.writeBufferUnshared');

/** Wraps GPUQueue.writeBuffer (once per realm) to copy SharedArrayBuffer-backed data first. */
function patchWriteBuffer(): void {
  const Q = (globalThis as { GPUQueue?: { prototype: GPUQueue & { [PATCHED]?: boolean } } }).GPUQueue;
  if (!Q) throw new Error('installOrtWebgpu: GPUQueue is not global; Object.assign(globalThis, globals) from webgpu first');
  const proto = Q.prototype;
  if (proto[PATCHED]) return;
  const orig = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: GPUAllowSharedBufferSource, dataOffset?: number, size?: number): undefined {
    const view = ArrayBuffer.isView(data);
    const ab = view ? data.buffer : data;
    if (typeof SharedArrayBuffer === 'undefined' || !(ab instanceof SharedArrayBuffer)) {
      return orig.call(this, buffer, offset, data, dataOffset, size);
    }
    // dataOffset/size count elements of a typed array, bytes of an ArrayBuffer (WebGPU's rule).
    const bpe = view ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
    const base = view ? data.byteOffset : 0;
    const start = (dataOffset ?? 0) * bpe;
    const len = size !== undefined ? size * bpe : data.byteLength - start;
    const copy = new Uint8Array(len); // [len] bytes, not shared
    copy.set(new Uint8Array(ab, base + start, len));
    return orig.call(this, buffer, offset, copy, 0, len);
  };
  proto[PATCHED] = true;
}

/**
 * Makes ORT's 'webgpu' backend usable in this Node realm on `gpu` (Dawn's `create([])`), and makes
 * the webgpu build the runtime of ort-env.ts (so LlamaOrt / createSession use it). Call before the
 * first ORT session. `runtime` replaces what ort-env gets (a bench can wrap session creation).
 */
export function installOrtWebgpu(opts: { gpu: GPU; wasmFile?: string; runtime?: (o: typeof ortWebgpu) => OrtRuntime }): OrtNodeWebgpu {
  patchWriteBuffer();
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: opts.gpu }, configurable: true, writable: true });
  } else if (!g.navigator.gpu) {
    Object.defineProperty(g.navigator, 'gpu', { value: opts.gpu, configurable: true });
  }
  const file = opts.wasmFile ?? createRequire(import.meta.url).resolve(`onnxruntime-web/${ORT_WEBGPU_WASM}`);
  const bytes = fs.readFileSync(file);
  ortWebgpu.env.wasm.wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  ortWebgpu.env.wasm.numThreads = 1;
  setOrtRuntime(opts.runtime ? opts.runtime(ortWebgpu) : ortWebgpu);
  const keepAlive = setInterval(() => undefined, 1000);
  return { ort: ortWebgpu, dispose: () => clearInterval(keepAlive) };
}
