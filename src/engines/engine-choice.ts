// Which engine computes a peer's LLM shard. WGSL kernels want a real GPU; on a software adapter
// (SwiftShader in Chromium, lavapipe/llvmpipe under Dawn) or with no WebGPU at all, ONNX Runtime's wasm
// backend is about 30x faster (../shared/BROWSER.md), so 'auto' picks it there. The choice is per
// peer: ranks on different engines still form one tensor-parallel group (same reduce points).
import type { AdapterReport } from '../gpu/gpu';
import type { LlmEngineChoice, LlmEngineKind } from '../session/protocol';

export const LLM_ENGINE_KINDS: readonly LlmEngineKind[] = ['wgsl', 'ort-wasm', 'ort-webgpu'];

/**
 * How much memory an ORT wasm peer plans with: wasm32's address space is 4 GiB, and the model's
 * weights (dequantized to f32) live in it, plus each step's copy of the past K/V rows.
 */
export const ORT_WASM_MEMORY_BYTES = 4 * 1024 ** 3;

type AdapterId = Pick<AdapterReport, 'vendor' | 'architecture' | 'description' | 'isFallback'>;

/** A CPU-emulated WebGPU adapter: flagged fallback (SwiftShader in Chromium, lavapipe under Dawn), or named like one. */
export function isSoftwareAdapter(a: AdapterId): boolean {
  return a.isFallback || /swiftshader|lavapipe|llvmpipe|softpipe/i.test(`${a.vendor} ${a.architecture} ${a.description}`);
}

/** 'auto': a hardware WebGPU adapter runs WGSL; a software one, or none (null), runs ORT on wasm. */
export function autoEngine(adapter: AdapterId | null): LlmEngineKind {
  return adapter && !isSoftwareAdapter(adapter) ? 'wgsl' : 'ort-wasm';
}

export function isEngineChoice(v: unknown): v is LlmEngineChoice {
  return v === 'auto' || LLM_ENGINE_KINDS.includes(v as LlmEngineKind);
}

/**
 * The engine a load runs with: the request's, or the peer's auto choice. Throws a clear error when
 * the peer cannot run the requested one (WGSL needs a WebGPU device; ORT's webgpu backend needs
 * navigator.gpu in a browser).
 */
export function resolveEngine(choice: LlmEngineChoice | undefined, auto: LlmEngineKind, env: { hasGpu: boolean; browser: boolean }): LlmEngineKind {
  const c = choice ?? 'auto';
  if (!isEngineChoice(c)) throw new Error(`unknown engine "${String(c)}": use ${['auto', ...LLM_ENGINE_KINDS].join(', ')}`);
  const e = c === 'auto' ? auto : c;
  if (e === 'wgsl' && !env.hasGpu) throw new Error('engine wgsl needs WebGPU, which this peer lacks: use ort-wasm (or auto)');
  if (e === 'ort-webgpu' && !(env.hasGpu && env.browser)) throw new Error('engine ort-webgpu needs WebGPU in a browser: use ort-wasm (or auto)');
  return e;
}
