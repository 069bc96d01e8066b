// What the GPU worker exposes to its page through Comlink. One instance per worker.
import type { Remote } from 'comlink';
import type { Comm } from '../collectives/types';
import type { ChatMessage } from '../model/chat-template';
import { Gpu } from '../gpu/gpu';
import type { JobEvent, LlmEngineKind, PeerReport } from '../session/protocol';
import { autoEngine, ORT_WASM_MEMORY_BYTES, resolveEngine } from './engine-choice';
import type { LlmEngine, LoadInfo, LoadRequest } from './llm-engine';
import { remoteComm, type CommTimer } from './remote-comm';
import { installTuneCache, type TuneCache } from '../kernels/autotune';
import { openIdbTuneCache } from './tune-store';
import type { ImageRequest, ImageResult, ImageStepEvent } from './image-engine';

export class GpuWorkerApi {
  private gpu: Gpu | null = null;
  private llm: LlmEngine | null = null;
  private lostCallbacks: ((reason: string) => void)[] = [];
  private autoEngine: LlmEngineKind = 'wgsl';

  /** `tuneCache`: the host's persistent tuning store (the headless peer's JSON file); default IndexedDB. */
  constructor(private readonly opts: { tuneCache?: TuneCache } = {}) {}

  /**
   * Measures this peer. Without a usable WebGPU device it is a CPU peer (ONNX Runtime on wasm, adapter
   * vendor 'none'); it fails only when neither WebGPU nor ORT's wasm runs here. GFLOPS come from
   * the engine 'auto' picks: the WGSL matmul on a hardware GPU, an ORT wasm matmul otherwise.
   */
  async init(): Promise<Omit<PeerReport, 'id' | 'userAgent'>> {
    let noGpu = '';
    try {
      this.gpu = await Gpu.create();
    } catch (e) {
      noGpu = (e as Error).message || String(e);
    }
    if (!this.gpu) {
      this.autoEngine = 'ort-wasm';
      let gflops: number;
      try {
        gflops = await this.ortGflops();
      } catch (e) {
        throw new Error(`${noGpu}; and ONNX Runtime (wasm) does not run either: ${(e as Error).message}`);
      }
      return {
        adapter: { vendor: 'none', architecture: 'cpu', description: `no WebGPU (${noGpu}): ONNX Runtime wasm`, isFallback: true },
        features: { shaderF16: false, subgroups: false },
        // No GPU bindings: the memory an ORT wasm peer plans with stands in for them (serve sizes by it).
        limits: { maxStorageBufferBindingSize: ORT_WASM_MEMORY_BYTES, maxBufferSize: ORT_WASM_MEMORY_BYTES, maxComputeWorkgroupStorageSize: 0, maxComputeInvocationsPerWorkgroup: 0 },
        gflops,
        engine: 'ort-wasm',
      };
    }
    this.gpu.onLost((reason) => this.lostCallbacks.forEach((cb) => cb(reason)));
    // Kernel tunings persist per GPU model across loads and reloads (src/engines/tune-model.ts).
    installTuneCache(this.opts.tuneCache ?? (await openIdbTuneCache()).cache);
    const r = this.gpu.report;
    this.autoEngine = autoEngine(r);
    let gflops = 0;
    if (this.autoEngine === 'ort-wasm') {
      // A software adapter prefers ORT; if ORT's wasm cannot start here, WGSL on that adapter still works.
      gflops = await this.ortGflops().catch(() => ((this.autoEngine = 'wgsl'), 0));
    }
    if (this.autoEngine === 'wgsl') gflops = await this.gpu.matmulGflops();
    return {
      adapter: { vendor: r.vendor, architecture: r.architecture, description: r.description, isFallback: r.isFallback },
      features: { shaderF16: r.hasF16, subgroups: r.hasSubgroups },
      limits: r.limits,
      gflops,
      engine: this.autoEngine,
    };
  }

  private async ortGflops(): Promise<number> {
    const { ortMatmulGflops } = await import('../model/ort/ort-probe'); // ORT is parsed only where it is used
    return ortMatmulGflops('wasm');
  }

  onLost(cb: (reason: string) => void): void {
    this.lostCallbacks.push(cb);
  }

  // `comm` arrives as a Comlink proxy of the page's communicator (typed as the plain interface so
  // the page can pass `proxy(comm)`); remoteComm() turns it back into an awaitable Comm.
  async loadLlm(req: LoadRequest, comm: Comm, onProgress: (loaded: number, total: number) => void,
    remoteRead?: (start: number, end: number) => Promise<Uint8Array>): Promise<LoadInfo> {
    const engine = resolveEngine(req.engine, this.autoEngine, { hasGpu: this.gpu !== null, browser: !isNodeRealm() });
    const gpu = engine === 'wgsl' ? this.requireGpu() : this.gpu;
    this.llm?.destroy();
    this.llm = null; // nothing half-loaded stays behind: the old model is gone before the new one loads
    const timer: CommTimer = { commMs: 0, calls: 0 };
    // Loaded on first use: a peer that only joins (or runs other engines) never parses model code.
    const { LlmEngine } = await import('./llm-engine');
    this.llm = await LlmEngine.load(gpu, { ...req, engine }, remoteComm(comm as unknown as Remote<Comm>, req.rank, req.tp, timer), timer, onProgress, remoteRead);
    return this.llm.info;
  }

  async generate(req: { prompt: string; sampling: Record<string, unknown>; messages?: ChatMessage[] }, onEvent: (ev: JobEvent) => void): Promise<unknown> {
    if (!this.llm) throw new Error('no model is loaded on this peer');
    return this.llm.generate(req.prompt, req.sampling, (t) => onEvent({ kind: 'token', ...t }), req.messages);
  }

  /** A request for the replica's continuous-batching loop; `key` is the same on every rank (the job number). */
  async generateBatched(req: { key: number; prompt: string; sampling: Record<string, unknown>; messages?: ChatMessage[] }, onEvent: (ev: JobEvent) => void): Promise<unknown> {
    if (!this.llm) throw new Error('no model is loaded on this peer');
    return this.llm.generateBatched(req.key, req.prompt, req.sampling, (t) => onEvent({ kind: 'token', ...t }), req.messages);
  }

  /** One DistriFusion image over the group behind `comm` (a Comlink proxy of the page's communicator). */
  async runImage(req: ImageRequest, comm: Comm, onStep?: (ev: ImageStepEvent) => void): Promise<ImageResult> {
    // backend 'cpu' computes in plain JS: a peer without WebGPU runs it too.
    const gpu = req.backend === 'cpu' ? this.gpu : this.requireGpu();
    const { runImage } = await import('./image-engine');
    const timer: CommTimer = { commMs: 0, calls: 0 };
    const rank = await (comm as unknown as Remote<Comm>).rank;
    const size = await (comm as unknown as Remote<Comm>).size;
    return runImage(gpu, remoteComm(comm as unknown as Remote<Comm>, rank, size, timer), req, onStep);
  }

  /** With a key: that batched request only; without: the unbatched generate. */
  cancel(key?: number): void {
    if (key === undefined) this.llm?.cancel();
    else this.llm?.cancelBatched(key);
  }

  private requireGpu(): Gpu {
    if (!this.gpu) throw new Error('this peer has no WebGPU device (it computes LLMs with ONNX Runtime wasm): this job needs WebGPU');
    return this.gpu;
  }
}

/** Node (the headless peer) rather than a browser page or worker: ORT there has no webgpu backend. */
function isNodeRealm(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
}
