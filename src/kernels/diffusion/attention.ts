// Single-head spatial self-attention, queries from one buffer and keys/values from another
// (shaders/diffusion/attention.wgsl), so a patch's queries can attend over a K/V buffer that holds
// fresh local rows and stale remote rows (DistriFusion). Shapes past attention.wgsl's limits (the
// widened U-Net: 640/1280 channels, 4096 keys at a 64x64 latent) go to 'gemm' (below) by default;
// attention_flash.wgsl tiles queries (BQ per workgroup) and streams keys with an online softmax, so K/V are read lq / BQ
// times instead of lq times; attention_online.wgsl (one workgroup per query) stays selectable for A/B.
// 'gemm' (./attention-gemm.ts, the default for big shapes) materialises the scores per query chunk: two tiled GEMMs around a row
// softmax, for the huge head dimension where flash's per-thread accumulators starve it of registers.
import code from '../../../shaders/diffusion/attention.wgsl?raw';
import flashCode from '../../../shaders/diffusion/attention_flash.wgsl?raw';
import onlineCode from '../../../shaders/diffusion/attention_online.wgsl?raw';
import type { Gpu } from '../../gpu/gpu';
import { foldGroups, MAX_WORKGROUPS_PER_DIM } from './add';
import { attentionGemm } from './attention-gemm';

export {
  ATTN_GEMM_TILE, attentionGemm, planAttentionGemm, type AttentionGemmOptions, type AttentionGemmPlan, type AttnGemmTile,
} from './attention-gemm';

export interface AttentionShape {
  c: number; // channels (single head): <= 512 for 'scores', <= 2048 for 'online', any for 'flash' / 'gemm'
  lq: number; // query positions
  lk: number; // key/value positions: <= 1024 for 'scores', any for 'online' / 'flash' / 'gemm'
  qBase: number; // float offset of q[0, 0] in qBuf; q[ch, i] = qBuf[qBase + ch * lq + i]
  kBase: number; // float offset of k[0, 0] in kvBuf; k[ch, j] = kvBuf[kBase + ch * lk + j]
  vBase: number; // float offset of v[0, 0] in kvBuf
}

export const ATTN_MAX_C = 512; // attention.wgsl
export const ATTN_MAX_KEYS = 1024; // attention.wgsl
export const ATTN_ONLINE_MAX_C = 2048; // attention_online.wgsl (any number of keys)
/** attention_flash.wgsl's override constants (BQ a multiple of its 4 queries per thread). */
export const FLASH_TILE = { BQ: 16, BKV: 32, CC: 32, CL: 64 };
const FLASH_CPT = 10; // attention_flash.wgsl's const CPT: output channels per thread
/** Output channels one flash workgroup writes; past this the channels split over z slices (scores recomputed per slice). */
export const FLASH_CO = FLASH_TILE.CL * FLASH_CPT;

export type AttentionKernel = 'auto' | 'scores' | 'online' | 'flash' | 'gemm';
/** What 'auto' may run past attention.wgsl's limits. */
export type AutoBigAttentionKernel = 'online' | 'flash' | 'gemm';
// What 'auto' runs past attention.wgsl's limits: 'gemm', measured on an H200 side by side
// (bench/results/unet-kernels-1024px-attn-gemm-*): c 640 x 4096 keys 1.37 ms vs flash 16.1, online 108;
// c 1280 x 1024 keys 0.25 vs 4.4; a DistriFusion N=4 patch (1024 queries x 4096 keys) 0.36 vs 12.0,
// where flash's 64 query-tile workgroups leave most SMs idle. The widened U-Net forward at 1024 px:
// 46.4 ms with gemm vs 87.6 with flash (conv2d 'gemm' in both).
let autoBig: AutoBigAttentionKernel = 'gemm';

/** Sets what 'auto' runs past attention.wgsl's limits (whole-forward A/B benches only); returns the previous value. */
export function setAutoAttentionKernel(k: AutoBigAttentionKernel): AutoBigAttentionKernel {
  const prev = autoBig;
  autoBig = k;
  return prev;
}

/** o [c, lq] = v softmax(q^T k / sqrt(c))^T, with scores and sums in float64. */
export function reference(qBuf: Float32Array, kvBuf: Float32Array, s: AttentionShape): Float32Array {
  const { c, lq, lk } = s;
  const o = new Float32Array(c * lq); // [c, lq]
  const sc = new Float64Array(lk); // [lk]
  const scale = 1 / Math.sqrt(c);
  for (let i = 0; i < lq; i++) {
    let mx = -Infinity;
    for (let j = 0; j < lk; j++) {
      let d = 0;
      for (let ch = 0; ch < c; ch++) d += qBuf[s.qBase + ch * lq + i] * kvBuf[s.kBase + ch * lk + j];
      sc[j] = d * scale;
      if (sc[j] > mx) mx = sc[j];
    }
    let tot = 0;
    for (let j = 0; j < lk; j++) tot += sc[j] = Math.exp(sc[j] - mx);
    for (let ch = 0; ch < c; ch++) {
      let acc = 0;
      for (let j = 0; j < lk; j++) acc += sc[j] * kvBuf[s.vBase + ch * lk + j];
      o[ch * lq + i] = acc / tot;
    }
  }
  return o;
}

/**
 * Encode the attention; returns a pooled buffer [c, lq] the caller frees. qBuf may equal kvBuf.
 * kernel: 'auto' picks attention.wgsl within its limits (fm-unet), else attention_flash.wgsl (or
 * what setAutoAttentionKernel chose: 'online', or 'gemm' = attentionGemm() with its default plan).
 */
export function attention(gpu: Gpu, qBuf: GPUBuffer, kvBuf: GPUBuffer, s: AttentionShape, kernel: AttentionKernel = 'auto'): GPUBuffer {
  const fits = s.c <= ATTN_MAX_C && s.lk <= ATTN_MAX_KEYS && s.lq <= MAX_WORKGROUPS_PER_DIM;
  const k = kernel === 'auto' ? (fits ? 'scores' : autoBig) : kernel;
  if (k === 'scores' && !fits) throw new Error(`attention: c ${s.c} > ${ATTN_MAX_C} or lk ${s.lk} > ${ATTN_MAX_KEYS} or lq ${s.lq} > ${MAX_WORKGROUPS_PER_DIM}`);
  if (k === 'online' && s.c > ATTN_ONLINE_MAX_C) throw new Error(`attention: c ${s.c} > ${ATTN_ONLINE_MAX_C}`);
  if (k === 'gemm') return attentionGemm(gpu, qBuf, kvBuf, s);
  const out = gpu.alloc(s.c * s.lq * 4, 'attention.out'); // [c, lq]
  const params = new ArrayBuffer(32);
  const dv = new DataView(params);
  [s.c, s.lq, s.lk, s.qBase, s.kBase, s.vBase].forEach((v, i) => dv.setUint32(4 * i, v, true));
  dv.setFloat32(24, 1 / Math.sqrt(s.c), true);
  if (k === 'scores') {
    gpu.run({ code, file: 'shaders/diffusion/attention.wgsl' }, new Uint8Array(params), [qBuf, kvBuf, out], [s.lq]);
  } else if (k === 'flash') {
    const [x, y] = foldGroups(Math.ceil(s.lq / FLASH_TILE.BQ)); // query tiles, x per dispatch row
    dv.setUint32(28, x, true);
    const slices = Math.ceil(s.c / FLASH_CO); // output-channel slices (z)
    gpu.run({ code: flashCode, file: 'shaders/diffusion/attention_flash.wgsl', constants: FLASH_TILE }, new Uint8Array(params), [qBuf, kvBuf, out], [x, y, slices]);
  } else {
    const [x, y] = foldGroups(s.lq); // queries, x per dispatch row
    dv.setUint32(28, x, true);
    gpu.run({ code: onlineCode, file: 'shaders/diffusion/attention_online.wgsl' }, new Uint8Array(params), [qBuf, kvBuf, out], [x, y]);
  }
  return out;
}
