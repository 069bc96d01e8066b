// Single-head spatial self-attention with materialised scores: attention.ts's kernel 'gemm'. For the
// widened U-Net's huge head dimension (c = 640 / 1280) fused flash attention is register-starved
// (attention_flash.wgsl: 2.7 TFLOPS at c 640, 4096 x 4096 on an H200) while a tiled GEMM runs at
// 20-48 TFLOPS there; the scores are only lq x lk floats, so per chunk of queries:
//   (1) S[i, j] = scale * sum_c q[c, i] k[c, j]      attention_gemm.wgsl  (M = queries, N = lk, K = c)
//   (2) P = softmax over j of S, in place            attention_softmax.wgsl (one workgroup per row)
//   (3) o[ch, i] = sum_j v[ch, j] P[i, j]            attention_gemm.wgsl  (M = c, N = queries, K = lk)
//   (4) when (3) is split over K: sum the partials   attention_splitk.wgsl
// Queries are chunked so one score buffer (all its split-K partials) stays <= 64 MiB and inside the
// device's binding limit. Split-K (workgroup z) restores parallelism where the output grid is small:
// (3) is c x queries (640 x 4096 = 160 tiles of 128 x 128; a DistriFusion patch of 1024 queries: 40).
import gemmCode from '../../../shaders/diffusion/attention_gemm.wgsl?raw';
import softmaxCode from '../../../shaders/diffusion/attention_softmax.wgsl?raw';
import splitkCode from '../../../shaders/diffusion/attention_splitk.wgsl?raw';
import type { Gpu, Kernel } from '../../gpu/gpu';
import { foldGroups, MAX_WORKGROUPS_PER_DIM } from './add';
import type { AttentionShape } from './attention';

const GEMM_FILE = 'shaders/diffusion/attention_gemm.wgsl';
const SOFTMAX: Kernel = { code: softmaxCode, file: 'shaders/diffusion/attention_softmax.wgsl' };
const SPLITK: Kernel = { code: splitkCode, file: 'shaders/diffusion/attention_splitk.wgsl' };

/** attention_gemm.wgsl's tile: threads (wgX along N, wgY along M), outputs per thread, K step, stages, warp tiling. */
export interface AttnGemmTile {
  wgX: number;
  wgY: number;
  tm: number; // rows of C per thread, multiple of 4
  tn: number; // columns of C per thread, multiple of 4
  bk: number; // multiple of 8
  stages: 1 | 2;
  warpX: number; // threads along N in a 32-wide subgroup; 0 = row-major threads
}

/**
 * 128 x 128 outputs per workgroup of 128 threads (16 x 8 each), 9 KiB of workgroup memory: the loop
 * form of gemm_reg.wgsl's best config (44.4 TFLOPS NN, 43.1 NT at 4096^3 on an H100; its s2 / g>0 /
 * bigger variants were no faster there), and it fits the 16 KiB every adapter grants.
 */
export const ATTN_GEMM_TILE: AttnGemmTile = { wgX: 16, wgY: 8, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 4 };

/** Default cap on one score buffer: half the 128 MiB maxStorageBufferBindingSize browsers grant by default. */
export const ATTN_GEMM_MAX_SCORE_BYTES = 64 * 2 ** 20;
/** A GEMM with fewer workgroups than this is split over K (~4 per SM of a 132-SM GPU; a guess to time). */
export const ATTN_GEMM_TARGET_GROUPS = 512;
/** Fewest k per split: below this the per-tile prologue and the partial traffic outweigh the parallelism. */
export const ATTN_GEMM_MIN_SPLIT_K = 256;

export interface AttentionGemmOptions {
  tile?: AttnGemmTile;
  maxScoreBytes?: number; // cap on one score buffer (default ATTN_GEMM_MAX_SCORE_BYTES, and the device limits)
  splitsQK?: number; // force the scores GEMM's split-K count (default: planned)
  splitsPV?: number; // force the output GEMM's split-K count (default: planned)
  targetGroups?: number; // default ATTN_GEMM_TARGET_GROUPS
}

/** The device limits the plan respects (Gpu.report.limits has them). */
export interface AttnGemmLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
}

/** WebGPU's default limits: what a browser grants without asking. */
export const WEBGPU_DEFAULT_LIMITS: AttnGemmLimits = {
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxBufferSize: 256 * 2 ** 20,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
};

export interface AttentionGemmPlan {
  tile: AttnGemmTile;
  bm: number; // rows of C per workgroup
  bn: number; // columns of C per workgroup
  chunk: number; // queries per chunk (the last may be shorter)
  chunks: number;
  ldS: number; // floats per score row: lk rounded up to 4 (keeps P rows 16-byte aligned)
  splitsQK: number; // scores GEMM split-K (partials summed by the softmax)
  kPerQK: number;
  splitsPV: number; // output GEMM split-K (partials summed by attention_splitk.wgsl when > 1)
  kPerPV: number;
  ldP: number; // floats per partial output row: chunk rounded up to 4
  scoreBytes: number; // the score buffer: splitsQK x chunk x ldS floats
  partialBytes: number; // the output partials: splitsPV x c x ldP floats (0 when splitsPV = 1)
  dispatches: number; // per call: 3 per chunk, +1 per chunk with splitsPV > 1
  flops: number; // 4 c lq lk: the two GEMMs (the softmax's ~5 lq lk is left out, as in the other kernels' TFLOPS)
  dramBytes: number; // global traffic if each GEMM operand is read once (L2 reuse) and the softmax reads S twice
}

/** Why `t` cannot run in attention_gemm.wgsl (or on a device with `limits`), or null. */
export function attnGemmTileError(t: AttnGemmTile, limits: AttnGemmLimits = WEBGPU_DEFAULT_LIMITS): string | null {
  const nt = t.wgX * t.wgY, bm = t.wgY * t.tm, bn = t.wgX * t.tn;
  if (![4, 8, 12, 16].includes(t.tm) || ![4, 8, 12, 16].includes(t.tn) || t.tm * t.tn > 128) return 'tm, tn in {4, 8, 12, 16}, tm * tn <= 128';
  if (t.bk <= 0 || t.bk % 8 !== 0) return 'bk must be a positive multiple of 8';
  if (t.stages !== 1 && t.stages !== 2) return 'stages must be 1 or 2';
  const aq = (bm * t.bk) / 4, bq = (bn * t.bk) / 4;
  if (aq % nt !== 0 || bq % nt !== 0 || aq / nt > 8 || bq / nt > 8) return '1..8 quads per thread per operand';
  if (t.warpX > 0 && (nt % 32 !== 0 || 32 % t.warpX !== 0 || t.wgX % t.warpX !== 0 || t.wgY % (32 / t.warpX) !== 0)) {
    return 'warp tiling needs threads % 32 == 0, wgX % warpX == 0, wgY % (32 / warpX) == 0';
  }
  if (nt > limits.maxComputeInvocationsPerWorkgroup) return 'too many threads for this device';
  if (t.stages * (t.bk / 8) * (bm / 4 + bn / 4) * 9 * 16 > limits.maxComputeWorkgroupStorageSize) return 'too much workgroup memory for this device';
  return null;
}

const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/** Split-K of a GEMM with a `tiles`-workgroup grid over K: [splits, k per split (a multiple of bk)]. */
function splitK(tiles: number, K: number, bk: number, target: number, forced?: number): [number, number] {
  let s = forced ?? (tiles >= target ? 1 : Math.min(Math.ceil(target / tiles), Math.floor(K / ATTN_GEMM_MIN_SPLIT_K)));
  s = Math.max(1, Math.min(s, Math.ceil(K / bk), MAX_WORKGROUPS_PER_DIM));
  const kPer = Math.ceil(Math.ceil(K / s) / bk) * bk;
  return [Math.ceil(K / kPer), kPer]; // every split non-empty
}

/** At most `n` queries per chunk, rounded down to whole tiles (else to 4) so chunk offsets stay 16-byte aligned. */
function chunkRows(n: number, lq: number, bm: number): number {
  if (n >= lq) return lq;
  if (n >= bm) return Math.floor(n / bm) * bm;
  return n >= 4 ? Math.floor(n / 4) * 4 : Math.max(1, n);
}

/** Chunking, split-K and costs of one attentionGemm() call (pure: benches and tests read it). */
export function planAttentionGemm(s: AttentionShape, limits: AttnGemmLimits = WEBGPU_DEFAULT_LIMITS, opts: AttentionGemmOptions = {}): AttentionGemmPlan {
  const { c, lq, lk } = s;
  if (c < 1 || lq < 1 || lk < 1) throw new Error(`attention gemm: empty shape c ${c} lq ${lq} lk ${lk}`);
  const tile = opts.tile ?? ATTN_GEMM_TILE;
  const err = attnGemmTileError(tile, limits);
  if (err) throw new Error(`attention gemm tile ${JSON.stringify(tile)}: ${err}`);
  const bm = tile.wgY * tile.tm, bn = tile.wgX * tile.tn;
  const target = opts.targetGroups ?? ATTN_GEMM_TARGET_GROUPS;
  // Pooled buffers round up by <= 25% (Gpu.alloc's buckets) and are bound whole: keep the bucket inside the limit.
  const budget = Math.min(opts.maxScoreBytes ?? ATTN_GEMM_MAX_SCORE_BYTES, 0.8 * Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize));
  const ldS = ceil4(lk);
  const rowBytes = 4 * ldS;
  if (rowBytes > budget) throw new Error(`attention gemm: one score row (${lk} keys) exceeds ${budget} bytes`);
  if (Math.ceil(lk / bn) > MAX_WORKGROUPS_PER_DIM) throw new Error(`attention gemm: lk ${lk} needs more than ${MAX_WORKGROUPS_PER_DIM} tiles`);
  let chunk = chunkRows(Math.floor(budget / rowBytes), lq, bm);
  const [splitsQK, kPerQK] = splitK(Math.ceil(chunk / bm) * Math.ceil(lk / bn), c, tile.bk, target, opts.splitsQK);
  chunk = chunkRows(Math.floor(budget / (splitsQK * rowBytes)), chunk, bm); // partials share the budget
  let [splitsPV, kPerPV] = splitK(Math.ceil(c / bm) * Math.ceil(chunk / bn), lk, tile.bk, target, opts.splitsPV);
  const ldP = ceil4(chunk);
  while (splitsPV > 1 && splitsPV * c * ldP * 4 > budget) [splitsPV, kPerPV] = splitK(1, lk, tile.bk, target, splitsPV - 1);
  const chunks = Math.ceil(lq / chunk);
  const S = lq * lk; // score elements over all chunks
  return {
    tile, bm, bn, chunk, chunks, ldS, splitsQK, kPerQK, splitsPV, kPerPV, ldP,
    scoreBytes: splitsQK * chunk * ldS * 4,
    partialBytes: splitsPV > 1 ? splitsPV * c * ldP * 4 : 0,
    dispatches: chunks * (splitsPV > 1 ? 4 : 3),
    flops: 4 * c * lq * lk,
    dramBytes: 4 * (
      c * lq + c * lk + splitsQK * S + // (1): q, k, S partials written
      splitsQK * S * 2 + S + // (2): partials read twice, P written
      c * lk + S + (splitsPV > 1 ? 2 * splitsPV * c * lq : 0) + c * lq // (3, 4): v, P, partials, o
    ),
  };
}

/** One strided GEMM dispatch of attention_gemm.wgsl; see its header for the operand layouts. */
interface GemmCall {
  M: number; N: number; K: number; kPer: number; splits: number;
  a: GPUBuffer; aBase: number; lda: number; aKM: boolean;
  b: GPUBuffer; bBase: number; ldb: number; bKM: boolean;
  c: GPUBuffer; cBase: number; ldc: number; cSplit: number; alpha: number;
}

function runGemm(gpu: Gpu, t: AttnGemmTile, g: GemmCall): void {
  const bm = t.wgY * t.tm, bn = t.wgX * t.tn;
  const aVec = g.aBase % 4 === 0 && g.lda % 4 === 0;
  const bVec = g.bBase % 4 === 0 && g.ldb % 4 === 0;
  const cVec = g.cBase % 4 === 0 && g.ldc % 4 === 0 && g.cSplit % 4 === 0;
  const fast = aVec && bVec && cVec && g.M % bm === 0 && g.N % bn === 0 && g.K % t.bk === 0 && g.kPer % t.bk === 0;
  const kernel: Kernel = {
    code: gemmCode,
    file: GEMM_FILE,
    constants: {
      WG_X: t.wgX, WG_Y: t.wgY, TM: t.tm, TN: t.tn, BK: t.bk, STAGES: t.stages, WARP_X: t.warpX,
      A_KM: g.aKM ? 1 : 0, B_KM: g.bKM ? 1 : 0, A_VEC: aVec ? 1 : 0, B_VEC: bVec ? 1 : 0, C_VEC: cVec ? 1 : 0, CHECK: fast ? 0 : 1,
    },
  };
  const params = new ArrayBuffer(48);
  const dv = new DataView(params);
  [g.M, g.N, g.K, g.kPer, g.aBase, g.lda, g.bBase, g.ldb, g.cBase, g.ldc, g.cSplit].forEach((v, i) => dv.setUint32(4 * i, v, true));
  dv.setFloat32(44, g.alpha, true);
  gpu.run(kernel, new Uint8Array(params), [g.a, g.b, g.c], [Math.ceil(g.N / bn), Math.ceil(g.M / bm), g.splits]);
}

/**
 * Encode the attention with materialised scores; returns a pooled buffer [c, lq] the caller frees.
 * qBuf may equal kvBuf. Same contract and math as attention.ts's attention() (kernel 'gemm' calls this).
 */
export function attentionGemm(gpu: Gpu, qBuf: GPUBuffer, kvBuf: GPUBuffer, s: AttentionShape, opts: AttentionGemmOptions = {}): GPUBuffer {
  const plan = planAttentionGemm(s, gpu.report.limits, opts);
  const { c, lq, lk } = s;
  const { tile, chunk, ldS, ldP, splitsQK, splitsPV } = plan;
  const out = gpu.alloc(c * lq * 4, 'attention.out'); // [c, lq]
  const scores = gpu.alloc(plan.scoreBytes, 'attention.scores'); // [splitsQK, chunk, ldS]
  const parts = splitsPV > 1 ? gpu.alloc(plan.partialBytes, 'attention.partials') : null; // [splitsPV, c, ldP]
  const scale = 1 / Math.sqrt(c);
  for (let q0 = 0; q0 < lq; q0 += chunk) {
    const n = Math.min(chunk, lq - q0); // queries in this chunk
    runGemm(gpu, tile, { // S [n, lk] (per split) = scale * q[:, q0..]^T k
      M: n, N: lk, K: c, kPer: plan.kPerQK, splits: splitsQK,
      a: qBuf, aBase: s.qBase + q0, lda: lq, aKM: true,
      b: kvBuf, bBase: s.kBase, ldb: lk, bKM: true,
      c: scores, cBase: 0, ldc: ldS, cSplit: chunk * ldS, alpha: scale,
    });
    const [sx, sy] = foldGroups(n);
    gpu.run(SOFTMAX, new Uint32Array([n, lk, ldS, splitsQK, chunk * ldS, sx]), [scores], [sx, sy]); // P [n, lk] in split 0
    runGemm(gpu, tile, { // o[:, q0..q0+n] [c, n] = v P^T (or its split partials [splitsPV, c, ldP])
      M: c, N: n, K: lk, kPer: plan.kPerPV, splits: splitsPV,
      a: kvBuf, aBase: s.vBase, lda: lk, aKM: false,
      b: scores, bBase: 0, ldb: ldS, bKM: false,
      ...(parts ? { c: parts, cBase: 0, ldc: ldP, cSplit: c * ldP } : { c: out, cBase: q0, ldc: lq, cSplit: 0 }),
      alpha: 1,
    });
    if (parts) {
      const [x, y] = foldGroups(Math.ceil((c * n) / 256));
      gpu.run(SPLITK, new Uint32Array([c, n, ldP, splitsPV, c * ldP, q0, lq, x]), [parts, out], [x, y]);
    }
  }
  gpu.free(scores); // reuse later in the same encoder is safe: commands run in encoding order
  if (parts) gpu.free(parts);
  return out;
}
