// Matrix-vector product for decode (shaders/gemm/gemv.wgsl, gemv_sg.wgsl): y[N] = W[N,K] . x[K] with
// W row-major f32, or f16 packed two per u32 (unpacked in-shader, no shader-f16 needed).
import { f16ToF32, f32ToF16 } from '../gpu/f16';
import code from '../../shaders/gemm/gemv.wgsl?raw';
import codeSg from '../../shaders/gemm/gemv_sg.wgsl?raw';
import type { Gpu, Kernel } from '../gpu/gpu';
import { autotune, tuneKey, wallClock, type TuneCache, type TuneResult } from './autotune';

export type GemvWeights = 'f32' | 'f16';

/** Threads per workgroup, rows per workgroup (both powers of two), and whether to reduce by subgroups. */
export interface GemvConfig {
  wg: number;
  rows: number;
  subgroups: boolean;
}

export const GEMV_DEFAULT: GemvConfig = { wg: 256, rows: 4, subgroups: false };

export const GEMV_CANDIDATES: GemvConfig[] = [
  { wg: 256, rows: 1, subgroups: true },
  { wg: 256, rows: 2, subgroups: true },
  { wg: 256, rows: 4, subgroups: true },
  { wg: 256, rows: 8, subgroups: true },
  { wg: 128, rows: 2, subgroups: true },
  { wg: 128, rows: 4, subgroups: true },
  { wg: 256, rows: 4, subgroups: false },
  { wg: 64, rows: 1, subgroups: false },
];

// ---------------------------------------------------------------- f16 packing (CPU side)

// f16 conversion lives in src/gpu/f16.ts (one implementation for every f16 path).
export { f32ToF16 as f32ToF16Bits, f16ToF32 as f16BitsToF32 };

/** Packs f32 values [n] as halves, two per u32 (element 2i in the low half): [ceil(n/2)] words. */
export function packF16(values: Float32Array): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 2)); // [ceil(n/2)]
  for (let i = 0; i < values.length; i++) out[i >> 1] |= f32ToF16(values[i]) << ((i & 1) * 16);
  return out;
}

/** Decodes packF16 output back to f32 [n] (what the GPU sees). */
export function unpackF16(words: Uint32Array, n: number): Float32Array {
  const out = new Float32Array(n); // [n]
  for (let i = 0; i < n; i++) out[i] = f16ToF32((words[i >> 1] >>> ((i & 1) * 16)) & 0xffff);
  return out;
}

// ---------------------------------------------------------------- reference and dispatch

/** CPU reference with f64 accumulation: w [N,K] (f32 values), x [K] -> y [N]. */
export function reference(w: Float32Array, x: Float32Array, N: number, K: number): Float32Array {
  const y = new Float32Array(N); // [N]
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += w[n * K + k] * x[k];
    y[n] = s;
  }
  return y;
}

export interface GemvDispatch {
  kernel: Kernel;
  params: Uint32Array;
  workgroups: [number, number];
}

/** Whether the subgroup variant is safe: subgroups exist and the largest one fits inside a row's threads. */
export function subgroupsUsable(gpu: Pick<Gpu, 'report'>, cfg: GemvConfig, maxSubgroupSize?: number): boolean {
  const maxSg = maxSubgroupSize ?? 128; // unknown size: assume the largest any API allows
  return gpu.report.hasSubgroups && maxSg <= cfg.wg / cfg.rows;
}

/** Kernel, params and grid for one GEMV; the caller must have checked subgroupsUsable() for cfg.subgroups. */
export function planGemv(N: number, K: number, wtype: GemvWeights, cfg: GemvConfig = GEMV_DEFAULT): GemvDispatch {
  if (cfg.wg % cfg.rows !== 0) throw new Error(`gemv config ${JSON.stringify(cfg)}: rows must divide wg`);
  const aligned = K % (wtype === 'f32' ? 4 : 8) === 0;
  const groups = Math.ceil(N / cfg.rows);
  const gx = Math.min(groups, 65535);
  return {
    kernel: {
      code: cfg.subgroups ? codeSg : code,
      file: cfg.subgroups ? 'shaders/gemm/gemv_sg.wgsl' : 'shaders/gemm/gemv.wgsl',
      constants: { WG: cfg.wg, RPW: cfg.rows, WTYPE: wtype === 'f32' ? 0 : 1, CHECK: aligned ? 0 : 1 },
    },
    params: new Uint32Array([N, K, 0, 0]),
    workgroups: [gx, Math.ceil(groups / gx)],
  };
}

/** Encodes y = W x into `out` (or a new pooled buffer) and returns it: w [N,K] f32|f16x2, x [K], y [N]. */
export function gemv(gpu: Gpu, w: GPUBuffer, x: GPUBuffer, N: number, K: number, wtype: GemvWeights,
  opts: { config?: GemvConfig; out?: GPUBuffer } = {}): GPUBuffer {
  const y = opts.out ?? gpu.alloc(N * 4, 'gemv.y'); // [N]
  const d = planGemv(N, K, wtype, opts.config);
  gpu.run(d.kernel, d.params, [w, x, y], d.workgroups);
  return y;
}

/** Picks (and caches per adapter) the fastest candidate for this weight type and K class. */
export async function tuneGemv(gpu: Gpu, N: number, K: number, wtype: GemvWeights,
  opts: { cache?: TuneCache; candidates?: GemvConfig[]; maxSubgroupSize?: number } = {}): Promise<TuneResult<GemvConfig>> {
  const candidates = (opts.candidates ?? GEMV_CANDIDATES).filter(
    (c) => c.wg <= gpu.report.limits.maxComputeInvocationsPerWorkgroup &&
      (!c.subgroups || subgroupsUsable(gpu, c, opts.maxSubgroupSize)),
  );
  const wBytes = wtype === 'f32' ? N * K * 4 : Math.ceil(N * K / 2) * 4;
  const w = gpu.alloc(wBytes, 'tune.w'); // [N, K]
  const x = gpu.alloc(K * 4, 'tune.x'); // [K]
  const y = gpu.alloc(N * 4, 'tune.y'); // [N]
  gpu.write(w, new Uint32Array(wBytes / 4).map((_, i) => 0x3c003c00 ^ ((i * 2654435761) & 0x03ff03ff)));
  gpu.write(x, new Float32Array(K).map((_, i) => ((i * 7919) % 17) / 17 - 0.5));
  try {
    return await autotune({
      key: tuneKey(gpu.report, `gemv|${wtype}|k${Math.round(Math.log2(K))}`),
      candidates,
      cache: opts.cache,
      measure: (config) => wallClock(gpu, () => gemv(gpu, w, x, N, K, wtype, { config, out: y })),
    });
  } finally {
    gpu.free(w);
    gpu.free(x);
    gpu.free(y);
  }
}
