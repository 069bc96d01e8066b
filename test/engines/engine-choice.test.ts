// Engine choice per peer: 'auto' maps hardware adapters to WGSL and software ones (or none) to ORT
// wasm; explicit choices the peer cannot run fail with a clear message.
import { describe, expect, it } from 'vitest';
import { autoEngine, isSoftwareAdapter, resolveEngine } from '../../src/engines/engine-choice';

const hw = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100', isFallback: false };
const swiftshader = { vendor: 'google', architecture: 'swiftshader', description: '', isFallback: true };
const lavapipe = { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)', isFallback: false };

describe('engine choice', () => {
  it('auto: hardware -> wgsl; fallback, lavapipe/llvmpipe or no adapter -> ort-wasm', () => {
    expect(autoEngine(hw)).toBe('wgsl');
    expect(autoEngine(swiftshader)).toBe('ort-wasm');
    expect(isSoftwareAdapter(lavapipe)).toBe(true);
    expect(autoEngine(lavapipe)).toBe('ort-wasm');
    expect(autoEngine(null)).toBe('ort-wasm');
  });

  it('resolves auto to the peer choice and refuses engines the peer lacks', () => {
    expect(resolveEngine(undefined, 'wgsl', { hasGpu: true, browser: true })).toBe('wgsl');
    expect(resolveEngine('auto', 'ort-wasm', { hasGpu: false, browser: true })).toBe('ort-wasm');
    expect(resolveEngine('ort-wasm', 'wgsl', { hasGpu: true, browser: false })).toBe('ort-wasm');
    expect(() => resolveEngine('wgsl', 'ort-wasm', { hasGpu: false, browser: true })).toThrow(/wgsl needs WebGPU/);
    expect(() => resolveEngine('ort-webgpu', 'wgsl', { hasGpu: true, browser: false })).toThrow(/ort-webgpu needs WebGPU in a browser/);
    expect(() => resolveEngine('cuda' as never, 'wgsl', { hasGpu: true, browser: true })).toThrow(/unknown engine "cuda"/);
  });
});
