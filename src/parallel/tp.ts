// Tensor-parallel plan for Llama (the gpt-fast tp.py scheme, Megatron-style):
//   column-parallel (output rows sliced): wq, wk, wv, w_gate, w_up  -> no communication
//   row-parallel    (input cols sliced):  wo, w_down                -> partial sums, all-reduced
//   output head vocab-parallel (rows sliced) -> logits all-gathered; embeddings and norms replicated.
// Attention heads are split by query head; a rank holds the kv heads its query heads use (split when
// tp <= nKvHeads, replicated when tp > nKvHeads, and the shared kv head duplicated when a GQA group
// straddles two ranks). The MLP hidden dim may split unevenly (172/3 -> 58,57,57).
// Byte ranges: row slices are one contiguous range each. Column slices of row-parallel matrices are
// one small range per row, which HTTP cannot fetch efficiently (one request per row, and multi-range
// requests are not supported by common CDNs), so a rank fetches wo / w_down whole and slices locally.

import type { GgufIndex, GgufTensorEntry } from '../model/gguf';
import type { GgmlType, LayerShard, LlamaConfig, ModelShard, WeightTensor } from '../model/types';
import { blockElems, dequantizeInto, dequantizeVector, rowBytes } from '../model/quant';
import { planHetero } from './hetero';
import { TpConfigError, type TpPlan } from './tp-types';

export { TpConfigError, type TpPlan } from './tp-types';


export interface ByteRange {
  start: number;
  end: number; // exclusive
}


/** Throws TpConfigError unless `tp` ranks can split this model. */
export function validateTp(config: LlamaConfig, tp: number): void {
  if (!Number.isInteger(tp) || tp < 1) throw new TpConfigError(`tp must be a positive integer, got ${tp}`);
  if (config.nHeads % config.nKvHeads !== 0)
    throw new TpConfigError(`nHeads ${config.nHeads} is not a multiple of nKvHeads ${config.nKvHeads}`);
  if (config.nHeads % tp !== 0)
    throw new TpConfigError(`tp=${tp} must divide the number of attention heads (${config.nHeads}); try one of ${divisors(config.nHeads).join(', ')}`);
  if (tp > config.hiddenDim) throw new TpConfigError(`tp=${tp} exceeds the MLP hidden size ${config.hiddenDim}`);
  if (tp > config.vocabSize) throw new TpConfigError(`tp=${tp} exceeds the vocabulary size ${config.vocabSize}`);
}

function divisors(n: number): number[] {
  const d: number[] = [];
  for (let i = 1; i <= n; i++) if (n % i === 0) d.push(i);
  return d;
}

/** Balanced split of n items in units of `unit` (n % unit == 0): the first (n/unit) % tp ranks get one more unit. */
export function splitRange(n: number, tp: number, rank: number, unit = 1): [number, number] {
  const units = n / unit;
  const base = Math.floor(units / tp);
  const extra = units % tp;
  const start = rank * base + Math.min(rank, extra);
  return [start * unit, (start + base + (rank < extra ? 1 : 0)) * unit];
}

function isBlockType(t: GgmlType): boolean {
  return blockElems(t) > 1;
}

/**
 * The slices rank `rank` of `tp` holds: equal shares, or shares proportional to `weights` (one per
 * rank, e.g. measured speeds; see ./hetero.ts) so a slow peer does not set a fast one's pace.
 */
export function planTp(index: GgufIndex, rank: number, tp: number, weights?: number[]): TpPlan {
  const c = index.config;
  if (!weights) validateTp(c, tp); // uneven plans check heads per kv group in validateHetero instead
  if (!Number.isInteger(rank) || rank < 0 || rank >= tp) throw new TpConfigError(`rank ${rank} not in [0, ${tp})`);
  const hpr = c.nHeads / tp;
  const heads: [number, number] = [rank * hpr, (rank + 1) * hpr];
  const group = c.nHeads / c.nKvHeads; // query heads per kv head
  const kvHeads: [number, number] = [Math.floor(heads[0] / group), Math.floor((heads[1] - 1) / group) + 1];
  const kvHeadOfLocalHead: number[] = [];
  for (let h = heads[0]; h < heads[1]; h++) kvHeadOfLocalHead.push(Math.floor(h / group) - kvHeads[0]);
  // A block-quantized w_down must be cut at 32-element block boundaries (ggml guarantees hiddenDim % 32
  // == 0 then); otherwise split element-wise.
  const blockDown = Array.from({ length: c.nLayers }, (_, l) => entry(index, `blk.${l}.ffn_down.weight`)).some((e) =>
    isBlockType(e.type),
  );
  const unit = blockDown ? 32 : 1;
  if (c.hiddenDim / unit < tp)
    throw new TpConfigError(`tp=${tp} exceeds the ${c.hiddenDim / unit} quantization blocks of the MLP hidden size ${c.hiddenDim}`);
  if (weights) {
    if (weights.length !== tp) throw new TpConfigError(`${weights.length} rank weights given for tp=${tp}`);
    return planHetero(c, rank, weights, unit);
  }
  return {
    rank,
    tp,
    heads,
    kvHeads,
    kvHeadOfLocalHead,
    hidden: splitRange(c.hiddenDim, tp, rank, unit),
    vocab: splitRange(c.vocabSize, tp, rank),
  };
}

function entry(index: GgufIndex, name: string): GgufTensorEntry {
  const e = index.tensors.get(name);
  if (!e) throw new TpConfigError(`tensor ${name} missing from the index`);
  return e;
}

function rowsRange(e: GgufTensorEntry, r0: number, r1: number): ByteRange {
  const rb = rowBytes(e.type, e.dims[0]);
  return { start: e.offset + r0 * rb, end: e.offset + r1 * rb };
}

function whole(e: GgufTensorEntry): ByteRange {
  return { start: e.offset, end: e.offset + e.bytes };
}

/** Per-tensor byte ranges this rank needs, unmerged. */
function tensorRanges(index: GgufIndex, plan: TpPlan): ByteRange[] {
  const c = index.config;
  const hd = c.headDim;
  const out: ByteRange[] = [whole(entry(index, 'token_embd.weight')), whole(entry(index, 'output_norm.weight'))];
  if (!c.tiedOutput) out.push(rowsRange(entry(index, 'output.weight'), plan.vocab[0], plan.vocab[1]));
  for (let l = 0; l < c.nLayers; l++) {
    const t = (n: string) => entry(index, `blk.${l}.${n}.weight`);
    out.push(whole(t('attn_norm')), whole(t('ffn_norm')));
    out.push(rowsRange(t('attn_q'), plan.heads[0] * hd, plan.heads[1] * hd));
    out.push(rowsRange(t('attn_k'), plan.kvHeads[0] * hd, plan.kvHeads[1] * hd));
    out.push(rowsRange(t('attn_v'), plan.kvHeads[0] * hd, plan.kvHeads[1] * hd));
    out.push(rowsRange(t('ffn_gate'), plan.hidden[0], plan.hidden[1]));
    out.push(rowsRange(t('ffn_up'), plan.hidden[0], plan.hidden[1]));
    out.push(whole(t('attn_output')), whole(t('ffn_down'))); // row-parallel: fetched whole, see header
  }
  return out;
}

/** Sort and merge ranges that overlap or lie within `gap` bytes (one request beats two nearby ones). */
export function mergeRanges(ranges: ByteRange[], gap = 0): ByteRange[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + gap) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/**
 * Byte ranges of the file rank `rank` of `tp` needs, merged (gap: bytes of waste accepted to save a
 * request; default 64 KiB, about what one round trip costs on a typical link).
 */
export function shardRanges(index: GgufIndex, rank: number, tp: number, gap = 64 * 1024, weights?: number[]): ByteRange[] {
  return mergeRanges(tensorRanges(index, planTp(index, rank, tp, weights)), gap);
}

/** Fetch this rank's ranges (a few in flight at once) and build its ModelShard. */
export async function makeShard(
  index: GgufIndex,
  read: (start: number, end: number) => Promise<Uint8Array>,
  rank: number,
  tp: number,
  opts: { gap?: number; concurrency?: number; weights?: number[] } = {},
): Promise<ModelShard> {
  const plan = planTp(index, rank, tp, opts.weights);
  const ranges = mergeRanges(tensorRanges(index, plan), opts.gap ?? 64 * 1024);
  const chunks: Uint8Array[] = new Array(ranges.length);
  let next = 0;
  const worker = async () => {
    while (next < ranges.length) {
      const i = next++;
      const b = await read(ranges[i].start, ranges[i].end);
      if (b.byteLength !== ranges[i].end - ranges[i].start)
        throw new Error(`read(${ranges[i].start}, ${ranges[i].end}) returned ${b.byteLength} bytes`);
      chunks[i] = b;
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, ranges.length) }, worker));
  const bytes = (start: number, end: number): Uint8Array => {
    const i = ranges.findIndex((r) => r.start <= start && end <= r.end);
    if (i < 0) throw new Error(`bytes [${start}, ${end}) were not fetched`);
    return chunks[i].subarray(start - ranges[i].start, end - ranges[i].start);
  };
  return buildShard(index, plan, bytes);
}

function buildShard(index: GgufIndex, plan: TpPlan, bytes: (s: number, e: number) => Uint8Array): ModelShard {
  const c = index.config;
  const hd = c.headDim;
  const vec = (name: string): Float32Array => {
    const e = entry(index, name);
    return dequantizeVector(e.type, bytes(e.offset, e.offset + e.bytes), e.dims[0]);
  };
  const rows = (name: string, r0: number, r1: number): WeightTensor => {
    const e = entry(index, name);
    const r = rowsRange(e, r0, r1);
    return { type: e.type, rows: r1 - r0, cols: e.dims[0], data: bytes(r.start, r.end) };
  };
  const cols = (name: string, c0: number, c1: number): WeightTensor => {
    const e = entry(index, name);
    return sliceCols({ type: e.type, rows: e.dims[1], cols: e.dims[0], data: bytes(e.offset, e.offset + e.bytes) }, c0, c1);
  };
  const [h0, h1] = plan.heads;
  const [k0, k1] = plan.kvHeads;
  const [a, b] = plan.hidden;
  const layers: LayerShard[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    layers.push({
      attnNorm: vec(`${p}attn_norm.weight`), // [dim]
      wq: rows(`${p}attn_q.weight`, h0 * hd, h1 * hd), // [nHeadsLocal*hd, dim]
      wk: rows(`${p}attn_k.weight`, k0 * hd, k1 * hd), // [nKvHeadsLocal*hd, dim]
      wv: rows(`${p}attn_v.weight`, k0 * hd, k1 * hd), // [nKvHeadsLocal*hd, dim]
      wo: cols(`${p}attn_output.weight`, h0 * hd, h1 * hd), // [dim, nHeadsLocal*hd]
      ffnNorm: vec(`${p}ffn_norm.weight`), // [dim]
      wGate: rows(`${p}ffn_gate.weight`, a, b), // [hiddenLocal, dim]
      wUp: rows(`${p}ffn_up.weight`, a, b), // [hiddenLocal, dim]
      wDown: cols(`${p}ffn_down.weight`, a, b), // [dim, hiddenLocal]
    });
  }
  const embd = entry(index, 'token_embd.weight');
  const tokenEmbd: WeightTensor = {
    type: embd.type,
    rows: c.vocabSize,
    cols: c.dim,
    data: bytes(embd.offset, embd.offset + embd.bytes), // [vocab, dim] replicated
  };
  const outName = c.tiedOutput ? 'token_embd.weight' : 'output.weight';
  return {
    config: c,
    rank: plan.rank,
    tp: plan.tp,
    nHeadsLocal: h1 - h0,
    nKvHeadsLocal: k1 - k0,
    kvHeadOfLocalHead: plan.kvHeadOfLocalHead,
    hiddenLocal: b - a,
    tokenEmbd,
    layers,
    outputNorm: vec('output_norm.weight'), // [dim]
    output: rows(outName, plan.vocab[0], plan.vocab[1]), // [vocabLocal, dim]
    vocabStart: plan.vocab[0],
  };
}

/**
 * Columns [c0, c1) of every row. Block-quantized rows can only be cut at 32-element block boundaries;
 * when the cut falls inside a block (e.g. 8-wide heads at tp=8), this matrix is dequantized to f32 for
 * the shard: exact, at 4 bytes/element for this one matrix.
 */
export function sliceCols(w: WeightTensor, c0: number, c1: number): WeightTensor {
  const n = c1 - c0;
  const be = blockElems(w.type);
  const rb = rowBytes(w.type, w.cols);
  if (c0 % be === 0 && c1 % be === 0) {
    const off = rowBytes(w.type, c0); // byte offset of column c0 within a row
    const nb = rowBytes(w.type, n);
    const data = new Uint8Array(w.rows * nb); // [rows, n] in w.type
    for (let r = 0; r < w.rows; r++) data.set(w.data.subarray(r * rb + off, r * rb + off + nb), r * nb);
    return { type: w.type, rows: w.rows, cols: n, data };
  }
  const out = new Float32Array(w.rows * n); // [rows, n] f32
  const row = new Float32Array(w.cols); // [cols]
  for (let r = 0; r < w.rows; r++) {
    dequantizeInto(w.type, w.data, r * rb, w.cols, row, 0);
    out.set(row.subarray(c0, c1), r * n);
  }
  return { type: 'f32', rows: w.rows, cols: n, data: new Uint8Array(out.buffer) };
}
