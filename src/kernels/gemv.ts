// Matrix-vector product for decode (shaders/gemm/gemv.wgsl, gemv_sg.wgsl): y[N] = W[N,K] . x[K] with
// W row-major f32, f16 packed two per u32 (unpacked in-shader, no shader-f16 needed), or q8_0 in the
// layout of common.ts repack() (int8 quants, then the f32 block scales at word `scaleOff`).
import { f16ToF32, f32ToF16 } from '../gpu/f16';
import code from '../../shaders/gemm/gemv.wgsl?raw';
import codeSg from '../../shaders/gemm/gemv_sg.wgsl?raw';
import type { Gpu, Kernel } from '../gpu/gpu';
import { autotune, tuneKey, wallClock, type TuneCache, type TuneResult } from './autotune';
import { WTYPE } from './common';

export type GemvWeights = 'f32' | 'f16' | 'q8_0';

/** K divisible by this takes the fast path (16-byte weight loads): 4 f32, 8 f16 or 16 q8_0 values a load. */
export const GEMV_ALIGN: Record<GemvWeights, number> = { f32: 4, f16: 8, q8_0: 16 };

/** Bytes of a [N, K] weight as the kernels read it (q8_0: N*K quants + one f32 scale per 32, as repack()). */
export function gemvWeightBytes(N: number, K: number, wtype: GemvWeights): number {
  return wtype === 'f32' ? N * K * 4 : wtype === 'f16' ? Math.ceil(N * K / 2) * 4 : Math.ceil(N * K / 4) * 4 + (N * K / 32) * 4;
}

/** Threads per workgroup, rows per workgroup (both powers of two), whether to reduce by subgroups, and (subgroup
 * kernel only) rows per thread `rt` (1, 2 or 4, dividing rows; default 1), whose threads share each x load. */
export interface GemvConfig {
  wg: number;
  rows: number;
  subgroups: boolean;
  rt?: number;
  /** q8_0 on the subgroup kernel only: x arrives int8-quantized (src/kernels/quantize-q8.ts), packed int8 dots. */
  xq?: boolean;
}

export const GEMV_DEFAULT: GemvConfig = { wg: 256, rows: 4, subgroups: false };

export const GEMV_CANDIDATES: GemvConfig[] = [
  { wg: 256, rows: 4, subgroups: true, rt: 4 },
  { wg: 256, rows: 8, subgroups: true, rt: 4 },
  { wg: 128, rows: 4, subgroups: true, rt: 4 },
  { wg: 256, rows: 4, subgroups: true, rt: 2 },
  { wg: 256, rows: 8, subgroups: true, rt: 2 },
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
  // Unknown size: assume the largest any API allows.
  const maxSg = maxSubgroupSize ?? gpu.report.subgroupMaxSize ?? 128;
  return gpu.report.hasSubgroups && maxSg <= (cfg.wg * (cfg.rt ?? 1)) / cfg.rows;
}

// Decode's GEMV (matmul() at M = 1), read off the H200 sweep (bench/results/gpu-kernels-gemv-q8-*): f32 and f16
// take 256 threads on 2 rows with a subgroup reduction (within 4% of each shape's tuned best), q8_0 256 threads
// on 8 rows, 4 rows per thread (the best or within 3% on every shape). Without subgroups that fit (a row group's
// threads must hold whole subgroups), the workgroup-memory kernel on 4 rows. Until 2026-11-29 the subgroup
// config was wg256 rows4 (64 threads a row), which the 128-wide worst case ruled out everywhere, so decode
// always took the workgroup-memory kernel (0.80-0.96x of the subgroup one on the H200, same run).
export const GEMV_DECODE: Record<GemvWeights, GemvConfig> = {
  f32: { wg: 256, rows: 2, subgroups: true },
  f16: { wg: 256, rows: 2, subgroups: true },
  q8_0: { wg: 256, rows: 8, subgroups: true, rt: 4 },
};

// q8_0 decode where WGSL has dot4I8Packed: x quantized to int8 per 32 (ggml's activation rounding, as llama.cpp's
// q8_0 dot products), then packed int8 dots, 256 threads on 2 rows (the best of rt 1 / 2 / 4 on all four H200
// shapes: 69-74% of peak on the large ones, 1.3-3.0x the float form in the same processes).
export const GEMV_DECODE_Q8_INT8X: GemvConfig = { wg: 256, rows: 2, subgroups: true, xq: true };

/** The GEMV config decode uses on this adapter for this weight type (see GEMV_DECODE, GEMV_DECODE_Q8_INT8X). */
export function gemvDecodeConfig(gpu: Pick<Gpu, 'report'>, wtype: GemvWeights): GemvConfig {
  if (wtype === 'q8_0' && gpu.report.hasDot4I8 && subgroupsUsable(gpu, GEMV_DECODE_Q8_INT8X)) return GEMV_DECODE_Q8_INT8X;
  return subgroupsUsable(gpu, GEMV_DECODE[wtype]) ? GEMV_DECODE[wtype] : GEMV_DEFAULT;
}

/** Kernel, params and grid for one GEMV; the caller must have checked subgroupsUsable() for cfg.subgroups.
 * `scaleOff`: q8_0's scale-table word offset (GpuWeight.scaleOff). */
export function planGemv(N: number, K: number, wtype: GemvWeights, cfg: GemvConfig = GEMV_DEFAULT, scaleOff = 0): GemvDispatch {
  const rt = cfg.rt ?? 1;
  if (cfg.wg % cfg.rows !== 0) throw new Error(`gemv config ${JSON.stringify(cfg)}: rows must divide wg`);
  if (rt !== 1 && (!cfg.subgroups || ![2, 4].includes(rt) || cfg.rows % rt !== 0)) {
    throw new Error(`gemv config ${JSON.stringify(cfg)}: rt 2 or 4 (dividing rows) needs the subgroup kernel`);
  }
  if (cfg.xq && (wtype !== 'q8_0' || !cfg.subgroups)) throw new Error(`gemv config ${JSON.stringify(cfg)}: int8 x is for q8_0 weights on the subgroup kernel`);
  if (wtype === 'q8_0' && K % 32 !== 0) throw new Error(`gemv: q8_0 weights need K % 32 == 0 (got K=${K})`);
  const aligned = K % GEMV_ALIGN[wtype] === 0;
  const groups = Math.ceil(N / cfg.rows);
  const gx = Math.min(groups, 65535);
  return {
    kernel: {
      code: cfg.subgroups ? codeSg : code,
      file: cfg.subgroups ? 'shaders/gemm/gemv_sg.wgsl' : 'shaders/gemm/gemv.wgsl',
      constants: { WG: cfg.wg, RPW: cfg.rows, WTYPE: WTYPE[wtype], CHECK: aligned ? 0 : 1,
        ...(cfg.subgroups ? { RT: rt, XQ: cfg.xq ? 1 : 0 } : {}) },
    },
    params: new Uint32Array([N, K, scaleOff, 0]),
    workgroups: [gx, Math.ceil(groups / gx)],
  };
}

/** Encodes y = W x into `out` (or a new pooled buffer) and returns it: w [N,K] f32|f16x2|q8_0, x [K] (config.xq:
 * quantizeQ8()'s output [K/4 + K/32] words), y [N]. */
export function gemv(gpu: Gpu, w: GPUBuffer, x: GPUBuffer, N: number, K: number, wtype: GemvWeights,
  opts: { config?: GemvConfig; out?: GPUBuffer; scaleOff?: number } = {}): GPUBuffer {
  const y = opts.out ?? gpu.alloc(N * 4, 'gemv.y'); // [N]
  const d = planGemv(N, K, wtype, opts.config, opts.scaleOff);
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
  const wBytes = gemvWeightBytes(N, K, wtype);
  const scaleOff = wtype === 'q8_0' ? N * K / 4 : 0; // q8_0: the scales after the quants (words)
  const w = gpu.alloc(wBytes, 'tune.w'); // [N, K]
  const x = gpu.alloc(K * 4, 'tune.x'); // [K]
  const y = gpu.alloc(N * 4, 'tune.y'); // [N]
  // Finite values of every type (f16 halves near 1; the q8_0 scale words too, read as f32 they are ~0.008).
  gpu.write(w, new Uint32Array(wBytes / 4).map((_, i) => 0x3c003c00 ^ ((i * 2654435761) & 0x03ff03ff)));
  gpu.write(x, new Float32Array(K).map((_, i) => ((i * 7919) % 17) / 17 - 0.5));
  try {
    return await autotune({
      key: tuneKey(gpu.report, `gemv|${wtype}|k${Math.round(Math.log2(K))}`),
      candidates,
      cache: opts.cache,
      measure: (config) => wallClock(gpu, () => gemv(gpu, w, x, N, K, wtype, { config, out: y, scaleOff })),
    });
  } finally {
    gpu.free(w);
    gpu.free(x);
    gpu.free(y);
  }
}
