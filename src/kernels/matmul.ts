// Projection matmul Y[M,N] = X[M,K] * W[N,K]^T for every weight type: for prefill (M > 1) the tuned
// register-tiled GEMM (shaders/gemm/gemm_reg_r16x8.wgsl, every weight type) where it wins, else the
// 64x64 tiled kernel; the bandwidth-tuned GEMV for decode (M = 1, every weight type, subgroup reduction when
// the adapter has it) and the batched GEMV for batched decode.
import matmulWgsl from '../../shaders/llm/matmul.wgsl?raw';
import matvecRowsWgsl from '../../shaders/llm/matvec_rows.wgsl?raw';
import type { Gpu, Kernel } from '../gpu/gpu';
import { f32ToF16 } from '../gpu/f16';
import { gemv, gemvDecodeConfig } from './gemv';
import { quantizedWords, quantizeQ8 } from './quantize-q8';
import { gemvBatch } from './gemv-batch';
import { dequantize, grid, params, WTYPE, type GpuWeight } from './common';
import { autotune, cachedWinner, defaultTuneCache, tuneKey, wallClock, type TuneCache, type TuneResult } from './autotune';
import { planGemmReg, gemmRegConfigError, gemmRegPackedError, gemmRegTile, type GemmRegConfig } from './gemm-reg';
import type { WeightTensor } from '../model/types';

/** CPU reference: x [M, K] times w [N, K] transposed -> [M, N], accumulated in f64. */
export function reference(x: Float32Array, w: Float32Array, M: number, N: number, K: number): Float32Array {
  const y = new Float32Array(M * N); // [M, N]
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  }
  return y;
}

/**
 * Stacks weights that read the same input ([N_i, K] each) into one [sum N_i, K] matrix, so one matmul
 * computes all their outputs side by side (row m = [y_0 | y_1 | ...]): fused q|k|v and gate|up
 * projections, one dispatch instead of three or two. Rows are independent in every matmul kernel, so
 * each output keeps its bits. Same types: the raw ggml rows concatenate as they are (q8_0 blocks run
 * along a row); mixed types are widened to f32 (exact for f16 and q8_0 values).
 */
export function concatRows(ws: WeightTensor[]): WeightTensor {
  const K = ws[0].cols;
  if (ws.some((w) => w.cols !== K)) throw new Error(`concatRows: column counts ${ws.map((w) => w.cols).join(', ')}`);
  const rows = ws.reduce((s, w) => s + w.rows, 0);
  const same = ws.every((w) => w.type === ws[0].type);
  const parts = same ? ws.map((w) => w.data) : ws.map((w) => new Uint8Array(dequantize(w).buffer)); // bytes of [N_i, K]
  const data = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0)); // [rows, K] in the common type
  let o = 0;
  for (const p of parts) { data.set(p, o); o += p.byteLength; }
  return { type: same ? ws[0].type : 'f32', rows, cols: K, data };
}

export type MatmulPath = 'tiled' | 'rows' | 'gemv' | 'gemv-batch' | 'gemm';

// ---------------------------------------------------------------- prefill: tuned GEMM or the tiled kernel

/** A prefill kernel choice: the 64x64 tiled kernel (shaders/llm/matmul.wgsl) or gemm_reg_r16x8 with a config. */
export type MatmulChoice = { tiled: true } | { reg: GemmRegConfig };

/** gemm_reg_r16x8 configs for prefill with f32 weights. [0] 128x128 bk16 w4 g32 is the 4096^3 winner (47.4 TFLOPS
 * with robustness on, 46.5 at 2048^3; bench/results/gemm-sweep-r16x8-nvidia-h100-2026-11-28.md); bk8 was 38
 * there. [1] 64x128 and [2] 128x64 (64 threads) keep more workgroups busy when M * N is small. With f32 B they
 * stay at bk8: at bk16 each thread holds 8 f32 B quads and runs at 0.3-0.7x of bk8 (H200 prefill table,
 * bench/results/gemm-sweep-prefill-nvidia-h200-2026-11-29.md; register pressure). */
export const MATMUL_GEMM_CONFIGS: GemmRegConfig[] = [
  { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 16, stages: 1, warpX: 4, groupM: 32, regs: true }, // 128x128, 128 threads
  { wgX: 16, wgY: 4, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 8, groupM: 0, regs: true }, // 64x128, 64 threads
  { wgX: 8, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 4, groupM: 0, regs: true }, // 128x64, 64 threads
];

/** The same tiles for packed weights (f16, q8_0), the 64-thread ones at bk16: a 16-deep k step is only 2-4
 * packed B pieces per thread, and it halves the barriers. H200 prefill table: 1.11-1.70x their bk8 versions in
 * all 32 f16 / q8_0 comparisons at M = 128 / 512 (0.87-1.26x at M = 2048, where 128x128 runs). */
export const MATMUL_GEMM_CONFIGS_PACKED: GemmRegConfig[] = [
  MATMUL_GEMM_CONFIGS[0], { ...MATMUL_GEMM_CONFIGS[1], bk: 16 }, { ...MATMUL_GEMM_CONFIGS[2], bk: 16 },
];

/** [128x128, 64x128, 128x64] for this weight type. */
export function matmulGemmConfigs(wtype: GpuWeight['type']): GemmRegConfig[] {
  return wtype === 'f32' ? MATMUL_GEMM_CONFIGS : MATMUL_GEMM_CONFIGS_PACKED;
}

/** What tuneMatmul() times: the tiled kernel and the weight type's GEMM configs. */
export function matmulCandidates(wtype: GpuWeight['type']): MatmulChoice[] {
  return [{ tiled: true }, ...matmulGemmConfigs(wtype).map((reg) => ({ reg }))];
}

// The untuned rule. "wg" = workgroups of the 128x64 GEMM tile, ceil(M/128) * ceil(N/64); the prefill tables
// time M = 128 / 512 / 2048 against the Llama 1B / 7B projections.
// - f32, read off the H100 table (bench/results/gemm-sweep-r16x8-nvidia-h100-2026-11-28.md): the GEMM wins from
//   wg = 88 (M=128 N=5632: 1.54x; N=11008: 1.31x; every M=512, M=2048 case 1.06x..3.4x), the 64x64 tiled kernel
//   at wg <= 64 (M=128 with N=2048 or 4096, K large: GEMM 0.70x); 128x64 bk8 within 2% of the best GEMM row
//   there (64x128 ties it; 25.5 vs 14.5 TFLOPS at M=512 N=5632 K=2048). On the H200 table the same picks are
//   0.82-1.0x of the best (128x128 bk16 leads at M = 128 / 512 there): the load-time tuner's job.
// - f16 and q8_0, read off the H200 table with the bk16 tiles: the same crossover (tiled at wg = 32 / 64, GEMM
//   from wg = 88: f16 1.14x..2.3x, q8_0 1.11x..2.3x over the tiled kernel, whose q8_0 reads dequantize each
//   element). Below M = 2048, 64x128 is best or within 1% for f16 while 128x64 trails by up to 16%; for q8_0
//   the two are within 3% of each other, 128x64 ahead in all 8 cases and within 11% of the best (128x128 leads
//   some); so f16 tries 64x128 first and q8_0 128x64.
// - 128x128 bk16 (the 4096^3 winner) from 16 tile rows (M >= 2048) and 256 of its tiles: 46.5 TFLOPS at 2048^3
//   (256 tiles) against 35..41 for 128x64 bk8 at M=2048 (H100); the best or within 3% of it at M = 2048 for
//   every type on the H200.
const MIN_GEMM_WG = 80;
const BIG_TILE_MIN_ROWS = 16;
const BIG_TILE_MIN_WG = 256;

/** Why `choice` cannot run this shape / weight type on this adapter, or null. */
export function matmulChoiceError(choice: MatmulChoice, N: number, K: number, wtype: GpuWeight['type'],
  limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number }): string | null {
  if ('tiled' in choice) return null;
  // N and K tile-aligned: vec4 loads on the CHECK <= 1 path (any M); otherwise the tiled kernel is as good.
  const { bn } = gemmRegTile(choice.reg);
  if (N % bn !== 0 || K % choice.reg.bk !== 0) return `N % ${bn} or K % ${choice.reg.bk} != 0`;
  return gemmRegConfigError(choice.reg, limits) ?? (wtype === 'f32' ? null : gemmRegPackedError(choice.reg));
}

/** Shape class of a prefill matmul: M rounded up to a power of two (8..4096), N, K and the weight type. */
export function matmulShapeKey(M: number, N: number, K: number, wtype: GpuWeight['type']): string {
  const mb = Math.min(4096, Math.max(8, 2 ** Math.ceil(Math.log2(M))));
  return `matmul.v1|${wtype}|m${mb}|n${N}|k${K}`;
}

/** The untuned rule (see the table-derived reasons above): tiled below the GEMM crossover, 128x128 bk16 for
 * large M * N, else 128x64 then 64x128 (64x128 first for f16), tiled when no GEMM config fits the shape. */
export function matmulDefaultChoice(M: number, N: number, K: number, wtype: GpuWeight['type'],
  limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number }): MatmulChoice {
  const wg = Math.ceil(M / 128) * Math.ceil(N / 64); // workgroups of the 128x64 tile
  if (wg < MIN_GEMM_WG) return { tiled: true };
  const [big, wide, tall] = matmulGemmConfigs(wtype); // 128x128 bk16, 64x128, 128x64
  const small = wtype === 'f16' ? [wide, tall] : [tall, wide];
  const order = Math.ceil(M / 128) >= BIG_TILE_MIN_ROWS && Math.ceil(M / 128) * Math.ceil(N / 128) >= BIG_TILE_MIN_WG
    ? [big, ...small] : small;
  for (const reg of order) {
    if (!matmulChoiceError({ reg }, N, K, wtype, limits)) return { reg };
  }
  return { tiled: true };
}

// Memo of the choice per adapter and shape class: matmul() runs for every projection of every prefill, and
// reading (localStorage) and parsing the tuning cache each time would cost more than the lookup.
const choiceMemo = new WeakMap<Gpu, Map<string, MatmulChoice>>();

/** Drops the memo: the next matmulChoice() reads the default cache again (a bench that rewrites the cache's
 * entries itself, e.g. to time a forced kernel; tuneMatmul() keeps the memo current on its own). */
export function forgetMatmulChoices(gpu: Gpu): void {
  choiceMemo.delete(gpu);
}

/**
 * The prefill kernel for this shape class on this adapter: tuneMatmul()'s cached winner, else the untuned
 * rule. Memoized per Gpu for the default cache (tuneMatmul() refreshes the entry it tunes).
 */
export function matmulChoice(gpu: Gpu, M: number, N: number, K: number, wtype: GpuWeight['type'],
  cache?: TuneCache): MatmulChoice {
  const sk = matmulShapeKey(M, N, K, wtype);
  let memo = cache ? undefined : choiceMemo.get(gpu); // memo for the default cache only
  if (!cache && !memo) choiceMemo.set(gpu, (memo = new Map()));
  const known = memo?.get(sk);
  if (known) return known;
  const limits = gpu.report.limits;
  let choice: MatmulChoice | null = null;
  const hit = (cache ?? defaultTuneCache()).get(tuneKey(gpu.report, sk));
  if (hit) {
    try {
      const c = JSON.parse(hit) as MatmulChoice;
      if (!matmulChoiceError(c, N, K, wtype, limits)) choice = c;
    } catch {
      // corrupt entry: the untuned rule
    }
  }
  choice ??= matmulDefaultChoice(M, N, K, wtype, limits);
  memo?.set(sk, choice);
  return choice;
}

/**
 * Times the tiled kernel against the GEMM configs on this shape (random weights of type `wtype`) and caches
 * the winner for its shape class (adapter | M bucket | N | K | type). Call at load time, e.g. once per
 * projection shape with the expected prompt length.
 */
export async function tuneMatmul(gpu: Gpu, M: number, N: number, K: number, wtype: GpuWeight['type'],
  opts: { cache?: TuneCache; candidates?: MatmulChoice[] } = {}): Promise<TuneResult<MatmulChoice>> {
  const cache = opts.cache ?? defaultTuneCache();
  const limits = gpu.report.limits;
  const candidates = (opts.candidates ?? matmulCandidates(wtype)).filter((c) => !matmulChoiceError(c, N, K, wtype, limits));
  // A cached winner returns before any test data is built: a later load must not pay for 90M-element weights
  // (measured: a 7B load spent 17 s on it with every entry cached).
  const key = tuneKey(gpu.report, matmulShapeKey(M, N, K, wtype));
  const known = cachedWinner(cache, key, candidates);
  if (known) return { best: known, cached: true, trials: [] };
  const x = gpu.alloc(M * K * 4, 'tune.x'); // [M, K]
  const y = gpu.alloc(M * N * 4, 'tune.y'); // [M, N]
  const w = patternWeight(gpu, N, K, wtype);
  gpu.write(x, new Float32Array(M * K).map((_, i) => ((i * 7919) % 17) / 17 - 0.5));
  try {
    const res = await autotune({
      key,
      candidates,
      cache,
      measure: (c) => wallClock(gpu, () => runPrefill(gpu, x, w, y, M, c)),
    });
    choiceMemo.get(gpu)?.delete(matmulShapeKey(M, N, K, wtype)); // the next matmulChoice() reads the new winner
    return res;
  } finally {
    gpu.free(x);
    gpu.free(y);
    w.buf.destroy();
  }
}

/**
 * [N, K] weights of `wtype` as the GPU reads them, for timing: a 13-value pattern (not zeros: zeros can run
 * faster), converted once and tiled, since converting every element in JS took seconds at 7B shapes. q8_0:
 * the pattern's quants (scaled by 127) with every block scale 1/127, in the repacked layout.
 */
function patternWeight(gpu: Gpu, N: number, K: number, wtype: GpuWeight['type']): GpuWeight {
  const pattern = new Float32Array(13 * 1024).map((_, i) => ((i * 104729) % 13) / 13 - 0.5); // [13K]
  const unit = wtype === 'f32' ? pattern : wtype === 'f16' ? Uint16Array.from(pattern, f32ToF16)
    : Int8Array.from(pattern, (v) => Math.round(v * 127)); // [13K]
  const n = N * K;
  const data = wtype === 'f32' ? new Float32Array(n) : wtype === 'f16' ? new Uint16Array(n)
    : new Int8Array(n + (n / 32) * 4); // [N, K] (q8_0: quants, then [n/32] f32 scales)
  for (let o = 0; o < n; o += unit.length) data.set(unit.subarray(0, Math.min(unit.length, n - o)), o);
  if (wtype === 'q8_0') new Float32Array(data.buffer, n, n / 32).fill(1 / 127);
  return { type: wtype, rows: N, cols: K, buf: gpu.upload(data, 'tune.w'), scaleOff: wtype === 'q8_0' ? n / 4 : 0, bytes: data.byteLength };
}

/** Kernel, params and grid of one prefill matmul with an explicit choice (bindings: params, x, w, y). */
export function planPrefill(M: number, N: number, K: number, wtype: GpuWeight['type'], scaleOff: number,
  choice: MatmulChoice): { kernel: Kernel; params: Uint8Array; workgroups: [number, number] } {
  if ('reg' in choice) {
    const d = planGemmReg(M, N, K, { bT: true, bF16: wtype === 'f16', bQ8: wtype === 'q8_0', scaleOff, config: choice.reg });
    return { kernel: d.kernel, params: new Uint8Array(d.params.buffer), workgroups: d.workgroups };
  }
  return { kernel: { code: matmulWgsl, file: 'shaders/llm/matmul.wgsl', constants: { WTYPE: WTYPE[wtype] } },
    params: params(M, N, K, scaleOff), workgroups: [Math.ceil(N / 64), Math.ceil(M / 64)] };
}

/** Encodes one prefill matmul with an explicit choice (tuner, tests): y [M, N] = x [M, K] * w^T. */
export function runPrefill(gpu: Gpu, x: GPUBuffer, w: GpuWeight, y: GPUBuffer, M: number, choice: MatmulChoice): void {
  const d = planPrefill(M, w.rows, w.cols, w.type, w.scaleOff, choice);
  gpu.run(d.kernel, d.params, [x, w.buf, y], d.workgroups);
}

// One int8-x buffer per Gpu for q8_0 decode (grown to the largest M*K seen): every projection's input is quantized
// into it right before its GEMV (by quantize_q8, or by the kernel that produced the input: add_rmsnorm / swiglu
// main_q8), and the queue's order keeps one projection's quants from overwriting another's still being read; a
// fixed buffer keeps decode's bind groups cacheable.
const int8Bufs = new WeakMap<Gpu, GPUBuffer>();
/** That buffer, holding at least the quantization of n values: [n/4 + n/32] words. */
export function int8Scratch(gpu: Gpu, n: number): GPUBuffer {
  const bytes = quantizedWords(n) * 4;
  let b = int8Bufs.get(gpu);
  if (!b || b.size < bytes) {
    if (b) gpu.free(b); // back to the pool: queue order protects the reads already encoded
    b = gpu.alloc(bytes, 'q8.x');
    int8Bufs.set(gpu, b);
  }
  return b;
}

/** Encodes the int8 quantization of x [n] (n % 32 == 0) into int8Scratch and returns it. */
function int8Input(gpu: Gpu, x: GPUBuffer, n: number): GPUBuffer {
  const b = int8Scratch(gpu, n);
  quantizeQ8(gpu, x, b, n);
  return b;
}

/** The path matmul() takes (see there). */
function matmulPath(gpu: Gpu, M: number, w: GpuWeight, force?: MatmulPath): MatmulPath {
  return force ?? (gpu.report.isFallback ? 'rows' : M === 1 ? 'gemv'
    : 'reg' in matmulChoice(gpu, M, w.rows, w.cols, w.type) ? 'gemm' : 'tiled');
}

/**
 * Whether matmul(gpu, x, w, y, M, force) reads x as int8 (q8_0 weights on decode's GEMV where the adapter has
 * dot4I8Packed): then the kernel producing x can quantize it into int8Scratch itself and pass it as `xq`.
 */
export function matmulReadsInt8(gpu: Gpu, w: GpuWeight, M: number, force?: MatmulPath): boolean {
  return readsInt8(gpu, w, matmulPath(gpu, M, w, force));
}

// q8_0 on int8 x where decode's GEMV config says so, on both decode paths (batched rows are quantized as one
// vector: the same rounding whatever the batch, since quantization is per 32-block within a row).
function readsInt8(gpu: Gpu, w: GpuWeight, path: MatmulPath): boolean {
  return w.type === 'q8_0' && (path === 'gemv' || path === 'gemv-batch') && Boolean(gemvDecodeConfig(gpu, 'q8_0').xq);
}

/**
 * Encodes y[M, N] = x[M, K] * w^T. `x` holds [M, w.cols] f32, `y` gets [M, w.rows].
 * `force` picks a path ('tiled' always means shaders/llm/matmul.wgsl: batched decode relies on it; 'gemm'
 * the memoized GEMM choice, or the default 128x128 config when that choice is the tiled kernel);
 * default: gemv for M = 1, matmulChoice() for M > 1 on GPUs, the row kernel on CPU adapters.
 */
export function matmul(gpu: Gpu, x: GPUBuffer, w: GpuWeight, y: GPUBuffer, M: number,
  force?: MatmulPath, xq?: GPUBuffer): void {
  const N = w.rows;
  const K = w.cols;
  const constants = { WTYPE: WTYPE[w.type] };
  // CPU-backed adapters (SwiftShader in the browser, lavapipe) get the barrier-free kernel: see
  // shaders/llm/matvec_rows.wgsl for why barriers are so costly there.
  // Decode on GPUs uses the bandwidth-tuned GEMV of src/kernels/gemv.ts (several rows per workgroup,
  // 16-byte loads: 72-88% of HBM bandwidth on an H200 for f32/f16, bench/results/gpu-kernels-gemv-*.md;
  // q8_0 in the same kernel since its own one-row-per-workgroup matvec was retired).
  const path = matmulPath(gpu, M, w, force);
  // x as the kernel reads it: int8 (already quantized by its producer into int8Scratch, see matmulReadsInt8, else
  // quantized here) or f32.
  const int8x = readsInt8(gpu, w, path);
  const xIn = () => (int8x ? xq ?? int8Input(gpu, x, M * K) : x);
  if (path === 'gemm') {
    const c = matmulChoice(gpu, M, N, K, w.type);
    runPrefill(gpu, x, w, y, M, 'reg' in c ? c : { reg: MATMUL_GEMM_CONFIGS[0] });
    return;
  }
  if (path === 'gemv') {
    if (M !== 1) throw new Error(`gemv path needs M = 1 (got M=${M})`);
    gemv(gpu, w.buf, xIn(), N, K, w.type, { out: y, config: gemvDecodeConfig(gpu, w.type), scaleOff: w.scaleOff });
    return;
  }
  if (path === 'gemv-batch') {
    // Batched decode (src/model/llama.ts decodeBatch): weights read once per 8 rows, every weight type.
    // The caller checks gemvBatchUsable().
    gemvBatch(gpu, w.buf, xIn(), y, M, N, K, w.type, { scaleOff: w.scaleOff, xq: int8x });
    return;
  }
  if (path === 'rows') {
    gpu.run({ code: matvecRowsWgsl, file: 'shaders/llm/matvec_rows.wgsl', constants }, params(N, K, w.scaleOff, M),
      [x, w.buf, y], grid(Math.ceil((M * N) / 64)));
    return;
  }
  gpu.run({ code: matmulWgsl, file: 'shaders/llm/matmul.wgsl', constants }, params(M, N, K, w.scaleOff),
    [x, w.buf, y], [Math.ceil(N / 64), Math.ceil(M / 64)]); // 'tiled'
}
