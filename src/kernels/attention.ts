// Causal GQA attention of T new tokens against the KV cache (keys and values already stored).
import combineWgsl from '../../shaders/llm/attention_combine.wgsl?raw';
import prefillWgsl from '../../shaders/llm/attention_prefill.wgsl?raw';
import rowsWgsl from '../../shaders/llm/attention_rows.wgsl?raw';
import splitGqaTileWgsl from '../../shaders/llm/attention_split_gqa_tile.wgsl?raw';
import splitGqaWarpWgsl from '../../shaders/llm/attention_split_gqa_warp.wgsl?raw';
import splitGqaWgsl from '../../shaders/llm/attention_split_gqa.wgsl?raw';
import splitWgsl from '../../shaders/llm/attention_split.wgsl?raw';
import wgsl from '../../shaders/llm/attention.wgsl?raw';
import type { Gpu } from '../gpu/gpu';
import { grid, params } from './common';

export type AttnImpl = 'rows' | 'shared' | 'split' | 'prefill';

/**
 * Knobs of the split-KV decode kernel (attention_split.wgsl). Mutable so benches can sweep them; the
 * defaults hold for every caller. Changing them between a single and a batched decode of the same
 * sequence would break their bit equality (the chunking must be the same), so only benches touch them.
 */
export const splitTuning = {
  // Workgroups a decode row aims for over all its kv heads: ~4 per SM of an H100 (132 SMs), so a single
  // sequence fills the GPU; smaller GPUs just run them in more waves.
  targetWorkgroups: 512,
  // Fewest keys per chunk: below this a chunk's partial (headDim floats per query head) costs more to
  // write and merge than its share of the K/V reads, and the loop over the chunk is too short to keep
  // loads in flight. It is also the switch-over point: a row of <= minChunk keys is one chunk, finished
  // by the split kernel itself (one dispatch, no partials), like the old kernel.
  minChunk: 32,
  wg: 128, // threads per workgroup
  unroll: 2, // keys per lane group per loop step (their K and V loads are issued together)
  // vec4s of a key row per lane (fewer where the G query heads of a kv head would not fit the registers):
  // 4 gives 8 lanes per key at headDim 128, so a 32-lane subgroup reads 4 keys at once and a dot needs 3
  // shuffles (32 lanes per key made GQA shuffle-bound: G dots x 5 shuffles per key).
  vpl: 4,
  // GQA block kernel (attention_split_gqa.wgsl): keys per block staged in workgroup memory (halved until
  // the K and V rows fit the device's workgroup storage), and query heads per pass.
  gqaBlock: 32,
  gqaHeads: 8,
  // Kernel for GQA (several query heads per kv head): 'warp' (attention_split_gqa_warp.wgsl: each
  // subgroup walks its own steps with its own online softmax, no barrier until the chunk ends; needs one
  // fixed subgroup size, else 'tile' runs), 'tile' (attention_split_gqa_tile.wgsl: one barrier per block
  // of WG / S keys, queries in registers, block max by subgroupMax + atomicMax), 'block'
  // (attention_split_gqa.wgsl) or 'lane' (attention_split.wgsl, as MHA). MHA always takes 'lane'.
  // 'warp' over 'tile' on an H200, one call (bench/results/attention-decode-{warp-regmap,tile-2}-nvidia-h200-*):
  // 7B-GQA 1.59x / 1.61x at 4096 / 16384 keys, 1B-GQA 1.7-1.8x / 1.9x; batched rows 1.9-3x.
  gqaKernel: 'warp' as SplitKernel,
  // Warp kernel (attention_split_gqa_warp.wgsl): totals per lane after its reduce-scatter (E; 1 or 2).
  gqaE: 1,
  gqaWs: 0, // warp kernel: lanes per key row S (0: the rule in warpPlan)
  // Warp kernel: threads per workgroup. 64 (2 subgroups): 7B-GQA at 16384 keys 1.4-1.8x the 128-thread
  // form in two H200 sweeps (attention-decode-gqa-warp{,-wg128}-*), at 4096 0.97-1.35x; 1B-GQA 0.6-1.1x
  // there, though the default table at 64 threads (attention-decode-warp-*) beats both sweeps' best 1B
  // points. Each subgroup walks a longer stretch of the chunk and the chunk's end (the subgroups' merge
  // behind a barrier) is shorter.
  gqaWarpWg: 64,
  // Tile kernel defaults: the best single setting over 7B-GQA (32q/8kv/128) and 1B-GQA (32q/4kv/64) at
  // 4096 and 16384 keys on an H100 (geometric mean; bench/results/attention-decode-gqa-tile-nvidia-h100-
  // 2026-11-28.md): 128 threads, 4 vec4s per lane (capped to 2 for 1B's 8 heads per pass), no prefetch
  // (issuing the next block's loads before the barrier cost registers and lost 0-10%).
  gqaWg: 128, // tile kernel: threads per workgroup (a multiple of headDim / 4)
  gqaVpl: 4, // tile kernel: vec4s of a key row per lane in the score phase (S = headDim / 4 / gqaVpl lanes per key)
  gqaPf: 0, // tile kernel: 1 issues the next block's loads before this block's barrier (PF override)
  // Tile kernel chunking, when set (0: targetWorkgroups / minChunk as every kernel), so GQA can take its
  // own chunk count without moving MHA's.
  gqaTarget: 0,
  gqaMinChunk: 0,
};

export type SplitKernel = 'lane' | 'block' | 'tile' | 'warp';

/** How the split kernel runs for one shape; null where it cannot (no subgroups, headDim % 4, > 256 heads). */
export interface SplitPlan {
  // lane: WG, S, VPL, G, U, SGMIN; block: WG, BK, HD4, G; tile: WG, S, VPL, HD4, G, NV, PF; warp: WG, SG, S, VPL, HD4, G, E, REG
  consts: Record<string, number>;
  kernel: SplitKernel; // lane: attention_split.wgsl, block: attention_split_gqa.wgsl, tile: ..._gqa_tile.wgsl, warp: ..._gqa_warp.wgsl
  hd4: number;
  nKv: number;
  nct: number; // chunks per row (max)
  minChunk: number;
}

export function splitPlan(gpu: Gpu, nHeads: number, headDim: number, kvDim: number, kvRegular = false): SplitPlan | null {
  if (!gpu.report.hasSubgroups) return null;
  if (headDim % 4 || kvDim % headDim || nHeads > 256) return null;
  const hd4 = headDim / 4, nKv = kvDim / headDim;
  // S lanes read one key row; they must sit in one subgroup, so S <= the smallest subgroup size.
  const sgMin = gpu.report.subgroupMinSize ?? 4; // unknown: WebGPU's floor
  const sgMax = gpu.report.subgroupMaxSize ?? 128; // unknown: WebGPU's ceiling
  const { targetWorkgroups, minChunk, wg, unroll } = splitTuning;
  // Query heads per kv head (the most of any kv head for a regular map): all in one pass when their
  // queries and accumulators fit, G*VPL <= 16 vec4s each, so VPL shrinks (S grows) for large groups.
  const group = Math.ceil(nHeads / nKv);
  const vplWant = Math.max(1, Math.min(splitTuning.vpl, Math.floor(16 / group)));
  let S = 1;
  while (S * 2 <= Math.min(Math.ceil(hd4 / vplWant), sgMin, 32)) S *= 2;
  const VPL = Math.ceil(hd4 / S);
  if (VPL > 16) return null;
  const G = Math.max(1, Math.min(group, Math.floor(16 / VPL)));
  const U = Math.max(1, Math.min(unroll, Math.floor(16 / VPL)));
  const nct = Math.max(1, Math.ceil(targetWorkgroups / nKv));
  if (group > 1 && splitTuning.gqaKernel === 'warp') {
    const w = warpPlan(gpu, group, hd4, sgMin, sgMax, kvRegular && nHeads % nKv === 0);
    if (w) return { consts: w, kernel: 'warp', hd4, nKv, nct: Math.max(1, Math.ceil((splitTuning.gqaTarget || targetWorkgroups) / nKv)),
      minChunk: splitTuning.gqaMinChunk || minChunk };
  }
  if (group > 1 && (splitTuning.gqaKernel === 'tile' || splitTuning.gqaKernel === 'warp')) {
    // GQA tile kernel: S lanes per key (power of 2, within the smallest subgroup), VPL vec4s each; G heads
    // per pass with their queries in registers (G * VPL <= 16); phase C has JP = WG / HD4 key lanes, NV
    // keys each per block of BK = WG / S keys. WG must hold whole subgroups (the key slots of phase A count
    // on it). Shapes it cannot take fall through to the block kernel.
    // vec4s per lane no larger than lets all query heads of a pass (up to gqaHeads) fit 16 register vec4s
    // (1B: 8 heads x 2, one pass, rather than 2 passes of 4 heads x 4 that would read the chunk twice).
    const vplT = Math.max(1, Math.min(splitTuning.gqaVpl, hd4, Math.floor(16 / Math.min(group, splitTuning.gqaHeads))));
    let St = 1;
    while (St * 2 <= Math.min(Math.ceil(hd4 / vplT), sgMin, 32)) St *= 2;
    const VPLt = Math.ceil(hd4 / St), WGt = splitTuning.gqaWg;
    const Gt = Math.max(1, Math.min(group, splitTuning.gqaHeads, Math.floor(16 / VPLt)));
    const NV = Math.ceil(WGt / St / (WGt / hd4));
    const bytes = (2 * Gt * (WGt / St) + 3 * Gt + WGt + 262) * 4 + WGt * 16; // ss, bm, redl, heads, red
    if (VPLt <= 16 && WGt % hd4 === 0 && WGt % sgMax === 0 && WGt <= 256 && NV <= 16 &&
      bytes <= gpu.device.limits.maxComputeWorkgroupStorageSize) {
      const nctT = Math.max(1, Math.ceil((splitTuning.gqaTarget || targetWorkgroups) / nKv));
      return { consts: { WG: WGt, S: St, VPL: VPLt, HD4: hd4, G: Gt, NV, PF: splitTuning.gqaPf ? 1 : 0 }, kernel: 'tile', hd4, nKv,
        nct: nctT, minChunk: splitTuning.gqaMinChunk || minChunk };
    }
  }
  if (group > 1 && splitTuning.gqaKernel !== 'lane') {
    // GQA takes the block kernel: the lane-group kernel rescales its softmax after every key and needs
    // shuffles for each of the G dots, a dependent chain per key that left 32q/8kv/128 at 11-23% of an
    // H100's bandwidth (bench/results/attention-decode-gqa-nvidia-h100-2026-11-28.md). MHA (group 1)
    // keeps the lane-group kernel (70-86%). Same chunking (nct, minChunk), so splitChunks() holds for both.
    const Gb = Math.max(1, Math.min(group, splitTuning.gqaHeads));
    const bytes = (bk: number) => (bk * (hd4 + 1) + bk * hd4 + Gb * hd4) * 16 + (Gb * bk + 3 * Gb) * 4 + 1100;
    const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;
    let BK = splitTuning.gqaBlock;
    while (BK > 4 && bytes(BK) > limit) BK /= 2;
    if (bytes(BK) > limit || Gb * hd4 > 8 * wg) return null; // RO = 8 outputs per thread in the shader
    return { consts: { WG: wg, BK, HD4: hd4, G: Gb }, kernel: 'block', hd4, nKv, nct, minChunk };
  }
  // The lane kernel keeps its kvmap scan even for a regular map: deriving the heads (as the warp kernel
  // does) made it 1.3-1.4x slower on an H200 (MHA 39.7 -> 55.2 us at 4096 keys, same session; the
  // compiled code changed, not the work).
  return { consts: { WG: wg, S, VPL, G, U, SGMIN: sgMin }, kernel: 'lane', hd4, nKv, nct, minChunk };
}

/**
 * Constants of the warp kernel (attention_split_gqa_warp.wgsl) for a kv group of `group` query heads, or
 * null where it cannot run: its lane layout needs one fixed subgroup size (NVIDIA 32, lavapipe 8).
 * S lanes per key row (the largest power of 2 <= min(hd4, SG)); G heads per pass, a power of 2 >= the
 * group where the register arrays allow (padded heads cost compute, not reads), else smaller (several
 * passes); E totals per lane, U = S*E / G keys per row and step.
 */
function warpPlan(gpu: Gpu, group: number, hd4: number, sgMin: number, sgMax: number, regular: boolean): Record<string, number> | null {
  if (sgMin !== sgMax) return null;
  const SG = sgMin, WG = Math.max(splitTuning.gqaWarpWg, SG);
  // Lanes per key row: a whole subgroup where a row fills it (7B, headDim 128: 1 vec4 per lane, 4 query
  // vec4s and 4 accumulators in registers), else half a row's vec4s (1B, headDim 64 with 8 heads: 8
  // lanes x 2 vec4s, 4 rows per load). Chosen from H200 sweeps (bench/results/attention-decode-gqa-warp-*):
  // 7B 32 lanes 1.1-1.5x 16 or 8; 1B within a few % of 16 lanes, 1.2-1.6x ahead of it at 4096 in one sweep.
  const want = splitTuning.gqaWs || (hd4 >= SG ? SG : Math.max(1, hd4 / 2));
  let sMax = 1;
  while (sMax * 2 <= Math.min(hd4, SG)) sMax *= 2;
  let G = 1;
  while (G < Math.min(group, splitTuning.gqaHeads)) G *= 2;
  for (; G >= 2; G /= 2) {
    const E = Math.max(1, Math.min(splitTuning.gqaE, G, Math.floor(32 / sMax)));
    // S: the wanted lanes, at least G / E (each lane ends with E of a step's U*G = S*E scores)
    let S = 1;
    while (S * 2 <= Math.min(sMax, want) || S * E < G) S *= 2;
    const VPL = Math.ceil(hd4 / S);
    const U = (S * E) / G;
    const bytes = (WG / SG) * G * (hd4 * 16 + 8);
    if (S <= sMax && S * E <= 32 && U >= 1 && G * VPL <= 16 && U * VPL <= 16 && WG % SG === 0 && WG <= 256 &&
      bytes <= gpu.device.limits.maxComputeWorkgroupStorageSize) return { WG, SG, S, VPL, HD4: hd4, G, E, REG: regular ? 1 : 0 };
  }
  return null;
}

/** Prefill kernel choice, a knob for side-by-side benches (bench/llm-gpu.ts PREFILL_AB): 'tiled'
 *  (attention_prefill.wgsl where prefillPlan allows) or 'shared' (attention.wgsl, the kernel before it). */
export const prefillTuning = { kernel: 'tiled' as 'tiled' | 'shared' };

/**
 * Constants of the prefill kernel (attention_prefill.wgsl) at this head size, or null where it cannot run
 * (no subgroups, headDim % 4, a head wider than 8 vec4s x the smallest subgroup). 128 threads: TPQ threads
 * per query (each 8 vec4s of it, fewer for small heads), BQ = 128 / TPQ queries per tile; BK key rows per
 * block, halved until K and V blocks fit the device's workgroup storage.
 */
export function prefillPlan(gpu: Gpu, headDim: number): Record<string, number> | null {
  if (!gpu.report.hasSubgroups || headDim % 4) return null;
  const hd4 = headDim / 4;
  const sgMin = gpu.report.subgroupMinSize ?? 4;
  const DPT4 = Math.min(8, hd4);
  let TPQ = 1;
  while (TPQ * DPT4 < hd4) TPQ *= 2;
  if (TPQ > sgMin) return null;
  const limit = gpu.device.limits.maxComputeWorkgroupStorageSize;
  let BK = 32;
  while (BK > 4 && 2 * BK * hd4 * 16 > limit) BK /= 2;
  if (2 * BK * hd4 * 16 > limit) return null;
  return { HD4: hd4, DPT4, TPQ, BQ: 128 / TPQ, BK };
}

/** Chunks of a row with nKeys keys (the same formula as chunkLen() in the shaders). */
export function splitChunks(plan: SplitPlan, nKeys: number): number {
  const cl = Math.max(plan.minChunk, Math.ceil(nKeys / plan.nct));
  return Math.ceil(nKeys / cl);
}

/** Vec4s of a head per combine workgroup: at most 8, one per subgroup of its 256 threads where the subgroup
 * size is 32 (each subgroup's lanes share the chunks, a few loads each in flight). */
function combineVec4s(hd4: number): number {
  let cvb = hd4;
  while (cvb > 8 && cvb % 2 === 0) cvb /= 2;
  return cvb;
}

/**
 * Whether split-KV decode can also write its output in q8 form (the combine kernel's main_q8): where a
 * combine workgroup covers exactly one 32-value block, i.e. headDim % 32 == 0.
 */
export function splitWritesInt8(headDim: number): boolean {
  return headDim % 4 === 0 && combineVec4s(headDim / 4) === 8;
}

/**
 * Split-KV decode of B rows (shared by attention() and attentionBatch()). rows: u32 [B, 2] (base, pos)
 * when given, else B = 1 at `pos` from cache row 0 (+ layerOff floats). out [B, nHeads*headDim].
 * outq (splitWritesInt8(headDim) only): also out quantized as quantize_q8 would, u32 [n/4 + n/32] for
 * n = B*nHeads*headDim; the combine dispatch then runs even for single-chunk rows, in place of a quantize_q8.
 */
export function runSplit(gpu: Gpu, plan: SplitPlan, q: GPUBuffer, kc: GPUBuffer, vc: GPUBuffer, kvmap: GPUBuffer,
  rows: GPUBuffer | null, out: GPUBuffer, B: number, nHeads: number, headDim: number, layerOff: number, pos: number,
  outq?: GPUBuffer): void {
  if (layerOff % 4) throw new Error(`attention split: layerOff ${layerOff} not a multiple of 4`);
  if (outq && !splitWritesInt8(headDim)) throw new Error(`attention split: no int8 output at headDim ${headDim} (needs a multiple of 32)`);
  // One row of known length dispatches only its chunks; a batch (lengths on the GPU) dispatches nct per row.
  const nch = rows ? plan.nct : splitChunks(plan, pos + 1);
  const cvb = combineVec4s(plan.hd4);
  const u = params(B, nHeads, plan.hd4, plan.nKv * plan.hd4, plan.nKv, plan.nct, plan.minChunk, layerOff / 4, pos,
    rows ? 1 : 0, { f: 1 / Math.sqrt(headDim) }, nch, cvb);
  const parts = rows || nch > 1;
  const pacc = gpu.alloc(parts ? B * nHeads * plan.nct * headDim * 4 : 16, 'attn_pacc'); // [B, nHeads, nct, headDim]
  const pml = gpu.alloc(parts ? B * nHeads * plan.nct * 8 : 16, 'attn_pml'); // [B, nHeads, nct, 2]
  const rowBuf = rows ?? kvmap; // unread when useRows = 0, but the binding must hold a buffer
  const kernel = plan.kernel === 'warp' ? { code: splitGqaWarpWgsl, file: 'shaders/llm/attention_split_gqa_warp.wgsl' }
    : plan.kernel === 'tile' ? { code: splitGqaTileWgsl, file: 'shaders/llm/attention_split_gqa_tile.wgsl' }
    : plan.kernel === 'block' ? { code: splitGqaWgsl, file: 'shaders/llm/attention_split_gqa.wgsl' }
      : { code: splitWgsl, file: 'shaders/llm/attention_split.wgsl' };
  gpu.run({ ...kernel, constants: plan.consts }, u,
    [q, kc, vc, kvmap, rowBuf, out, pacc, pml], grid(B * plan.nKv * nch));
  if (outq) {
    gpu.run({ code: combineWgsl, file: 'shaders/llm/attention_combine.wgsl', entryPoint: 'main_q8' }, u,
      [rowBuf, pacc, pml, out, outq], grid(B * nHeads * (plan.hd4 / cvb)));
  } else if (parts) {
    gpu.run({ code: combineWgsl, file: 'shaders/llm/attention_combine.wgsl' }, u, [rowBuf, pacc, pml, out],
      grid(B * nHeads * (plan.hd4 / cvb)));
  }
  gpu.free(pacc); // reuse by a later dispatch of the same encoder is safe: commands run in order
  gpu.free(pml);
}

export interface AttnShape {
  T: number; // new tokens
  pos: number; // position of the first new token
  nHeads: number; // local query heads
  headDim: number;
  kvDim: number; // nKvHeadsLocal * headDim: row length of the cache
  // The kvmap buffer holds the regular map, head h -> kv head floor(h / (nHeads / nKvHeads)) (see
  // regularKvMap): the warp kernel then derives the heads of a kv head instead of scanning the buffer.
  kvRegular?: boolean;
}

/** Whether `map` (local query head -> local kv head) is head h -> floor(h / (heads / nKv)). */
export function regularKvMap(map: ArrayLike<number>, nKv: number): boolean {
  const n = map.length;
  if (nKv < 1 || n % nKv) return false;
  for (let h = 0; h < n; h++) if (map[h] !== Math.floor(h / (n / nKv))) return false;
  return true;
}

/**
 * CPU reference. q [T, nHeads*headDim]; kc, vc [>= pos+T, kvDim] (one layer); kvmap [nHeads].
 * Returns [T, nHeads*headDim]: softmax(q.k / sqrt(headDim)) over positions 0..pos+t, times v.
 */
export function reference(q: Float32Array, kc: Float32Array, vc: Float32Array, kvmap: number[], s: AttnShape): Float32Array {
  const { T, pos, nHeads, headDim: hd, kvDim } = s;
  const out = new Float32Array(T * nHeads * hd); // [T, nHeads*hd]
  const scale = 1 / Math.sqrt(hd);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const n = pos + t + 1;
      const sc = new Float64Array(n); // [n]
      const qo = (t * nHeads + h) * hd, ko = kvmap[h] * hd;
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[qo + i] * kc[j * kvDim + ko + i];
        sc[j] = d * scale;
        m = Math.max(m, sc[j]);
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += (sc[j] = Math.exp(sc[j] - m));
      for (let i = 0; i < hd; i++) {
        let a = 0;
        for (let j = 0; j < n; j++) a += sc[j] * vc[j * kvDim + ko + i];
        out[qo + i] = a / sum;
      }
    }
  }
  return out;
}

/**
 * out [T, nHeads*headDim] = attention(q, cache). kc / vc are the whole caches [nLayers, maxSeqLen, kvDim];
 * layerOff is this layer's first float; kvmap a u32 [nHeads] buffer. outq: where the split kernel runs and
 * splitWritesInt8(headDim), out's q8 form is written too (see runSplit); returns whether it was.
 */
export function attention(gpu: Gpu, q: GPUBuffer, kc: GPUBuffer, vc: GPUBuffer, kvmap: GPUBuffer, out: GPUBuffer,
  s: AttnShape, layerOff: number, impl?: AttnImpl, outq?: GPUBuffer): boolean {
  if (s.headDim > 256) throw new Error(`attention: headDim ${s.headDim} > 256`);
  // Decode (T = 1) takes the split kernel wherever it runs: it reads K/V coalesced and spreads a long
  // context over ~targetWorkgroups workgroups, where the old kernel has nHeads workgroups reading
  // strided rows. Short contexts need no separate threshold: a row of <= minChunk keys is one chunk,
  // one dispatch (see splitTuning.minChunk). attention.wgsl remains for prefill without subgroups.
  // Each plan only where it can be taken: decode (every layer of every token) plans no prefill, and back.
  const plan = impl === 'split' || (!impl && s.T === 1) ? splitPlan(gpu, s.nHeads, s.headDim, s.kvDim, s.kvRegular) : null;
  // Prefill (T > 1) takes the tiled kernel: a tile of queries reads each key row once from memory,
  // where the old kernel re-read every row for every query.
  const pre = impl === 'prefill' || (!impl && s.T > 1 && prefillTuning.kernel === 'tiled') ? prefillPlan(gpu, s.headDim) : null;
  impl ??= gpu.report.isFallback ? 'rows' : s.T === 1 && plan && layerOff % 4 === 0 ? 'split'
    : s.T > 1 && pre && layerOff % 4 === 0 ? 'prefill' : 'shared';
  if (impl === 'prefill') {
    if (!pre || layerOff % 4) throw new Error('attention: prefill kernel needs subgroups, headDim % 4 = 0 and layerOff % 4 = 0');
    gpu.run({ code: prefillWgsl, file: 'shaders/llm/attention_prefill.wgsl', constants: pre },
      params(s.T, s.pos, s.nHeads, s.headDim / 4, s.kvDim / 4, layerOff / 4, { f: 1 / Math.sqrt(s.headDim) }),
      [q, kc, vc, kvmap, out], grid(Math.ceil(s.T / pre.BQ) * s.nHeads));
    return false;
  }
  if (impl === 'split') {
    if (!plan || s.T !== 1) throw new Error('attention: split kernel needs T = 1, subgroups and headDim % 4 = 0');
    const q8 = outq && splitWritesInt8(s.headDim) ? outq : undefined;
    runSplit(gpu, plan, q, kc, vc, kvmap, null, out, 1, s.nHeads, s.headDim, layerOff, s.pos, q8);
    return q8 !== undefined;
  }
  if (impl === 'rows') {
    // CPU-backed adapter: thread per (token, head), no barriers (see shaders/llm/matvec_rows.wgsl).
    gpu.run({ code: rowsWgsl, file: 'shaders/llm/attention_rows.wgsl' },
      params(s.T, s.pos, s.nHeads, s.headDim, s.kvDim, layerOff, { f: 1 / Math.sqrt(s.headDim) }),
      [q, kc, vc, kvmap, out], grid(Math.ceil((s.T * s.nHeads) / 64)));
    return false;
  }
  gpu.run({ code: wgsl, file: 'shaders/llm/attention.wgsl' },
    params(s.T, s.pos, s.nHeads, s.headDim, s.kvDim, layerOff, { f: 1 / Math.sqrt(s.headDim) }),
    [q, kc, vc, kvmap, out], grid(s.T * s.nHeads));
  return false;
}
