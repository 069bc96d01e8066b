// LLM speed of the WGSL engine on one real GPU (Node + Dawn), for Llama shapes with random f16 (or
// WEIGHTS=q8_0) weights: prefill and decode tokens/s at tp=1, and the per-rank cost of tp=2/4 shards (each rank's
// compute plus its GPU read-back/write-back at the two all-reduce points per layer, network excluded:
// the compute-side ceiling of tensor-parallel scaling). Prints JSON and a markdown table; writes the
// JSON to $OUT when set. SHAPE=1B|7B and TP=n pick one case. Dawn-for-Node has aborted when a process
// allocates a second multi-GB weight set after freeing one, so without both the script runs each (shape, tp)
// case in a child process of its own (itself, with SHAPE and TP set) and gathers their rows.
// Run: node scripts/bundle.mjs bench/llm-gpu.ts .gpu-node/llm.mjs (see README).
// INT8_AB=1 (q8_0, tp=1): decode again with LlamaGpu.int8Producers off / on, alternating 3 times in this process
// (a quantize_q8 dispatch before each projection vs the producers writing int8 x; the same logits bit for bit).
// ATTN_AB=1: decode at a long context (CTX keys, default 4096; the cache rows past the prompt hold zeros, which cost
// the same to read) with the GQA decode-attention kernel 'tile' / 'warp', alternating 3 times in this process.
// PROMPT=n: the prompt length of the timed prefill (default 128).
// PREFILL_AB=1: the prefill again with the tiled prefill-attention kernel and the shared one before it,
// alternating 3 times in this process (prefillTuning.kernel).
// KV_HEADS=n overrides the shape's kv heads (7B with KV_HEADS=8: the Llama-3-8B attention shape, 32q/8kv/128).
import { create, globals } from 'webgpu';
import fs from 'node:fs';
import { Gpu } from '../src/gpu/gpu';
import { prefillTuning, splitTuning } from '../src/kernels/attention';
import { LlamaGpu } from '../src/model/llama';
import { SHAPES, benchWeights, shardOf, withKvHeads } from './random-shard';
import { runSelf } from './run-self';

Object.assign(globalThis, globals);

const gpu = await Gpu.create({ gpu: create([]) as unknown as GPU });
const rows: Record<string, unknown>[] = [];
const only = process.env.SHAPE;
const weights = benchWeights(); // WEIGHTS=f16|q8_0
const children = !(only && process.env.TP); // more than one case: one child process each (see above)
/** Each variant in turn, 3 times over, in this process (clock and heap drift hit every variant alike); each
 *  row `measure` returns is printed and kept. */
async function alternate<V>(variants: readonly V[], measure: (v: V, rep: number) => Promise<Record<string, unknown>>): Promise<void> {
  for (let rep = 0; rep < 3; rep++) {
    for (const v of variants) {
      const r = await measure(v, rep);
      console.log(JSON.stringify(r));
      rows.push(r);
    }
  }
}
/** Runs case (shape, tp) in a child process; its rows, or an error row when it exits without them. */
function child(shape: string, tp: number): Record<string, unknown>[] {
  const r = runSelf<{ rows: Record<string, unknown>[] }>({ SHAPE: shape, TP: String(tp) }, true);
  return r.doc?.rows ?? [{ model: shape, tp, weights, error: `child exited ${r.exit}` }];
}
for (const [name, base] of Object.entries(SHAPES)) {
  if (only && !name.startsWith(only)) continue;
  for (const tp of process.env.TP ? [Number(process.env.TP)] : [1, 2, 4]) {
    if (children) {
      rows.push(...child(name.split(' ')[0], tp));
      continue;
    }
    const { label, shape } = withKvHeads(name, base);
    const shard = shardOf(shape, tp, weights);
    const ctx = Number(process.env.CTX ?? 4096);
    const P = Number(process.env.PROMPT ?? 128); // prompt tokens
    const model = await LlamaGpu.load(gpu, shard, { maxSeqLen: process.env.ATTN_AB === '1' ? ctx : Math.max(1024, P + 8 * 64 + 8) });
    const hook = tp > 1 ? async (p: Float32Array) => p : undefined; // read-back + write-back, no network
    const prompt = new Int32Array(P).map((_, i) => (i * 7919) % base.vocabSize); // [P]
    const steps = 64;
    // The timed sequence: prefill of the prompt, then `steps` decode steps; ms of the prefill and per decode step.
    // ms per token of `steps` decode steps at positions pos0, pos0 + 1, ...
    const timeDecode = async (pos0: number): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await model.forward(new Int32Array([i + 3]), pos0 + i, hook);
      return (performance.now() - t0) / steps;
    };
    const sequence = async () => {
      const t0 = performance.now();
      await model.forward(prompt, 0, hook);
      const prefill = performance.now() - t0;
      gpu.resetStats();
      const decode = await timeDecode(P);
      const st = gpu.resetStats(); // per decode token: what the host encoded and created
      const per = { dispatches: st.dispatches / steps, submits: st.submits / steps, bindGroupsCreated: st.bindGroups / steps, writes: st.writes / steps };
      return { prefill, decode, per };
    };
    // Warm-up (untimed): the whole timed sequence once, so pipelines are compiled and the GPU has left its idle
    // clock (the first 64 decode steps of a process ran at 82.8 tok/s, later ones at 137-143: 7B q8_0, H200).
    // WARMUP=0 times the first pass instead (the numbers committed before 2026-11-29).
    if (process.env.WARMUP !== '0') await sequence();
    else await model.forward(prompt.subarray(0, 8), 0, hook); // compile pipelines
    model.reset();
    const { prefill: prefillMs, decode: decodeMs, per } = await sequence();
    const row = { model: label, tp, weights, weight_GB: model.weightBytes() / 1e9, prompt: P, prefill_tok_s: P / (prefillMs / 1000), decode_ms_per_token: decodeMs, decode_tok_s: 1000 / decodeMs, decode_weight_GBps: model.weightBytes() / 1e9 / (decodeMs / 1000), decode_per_token: per };
    console.log(JSON.stringify(row));
    rows.push(row);
    if (process.env.INT8_AB === '1' && weights === 'q8_0' && tp === 1) {
      let pos = P + steps;
      await alternate([false, true], async (on, rep) => {
        model.int8Producers = on;
        const ms = await timeDecode(pos);
        pos += steps;
        return { model: label, tp, weights, variant: on ? 'int8 from producers' : 'quantize_q8 dispatches', rep, decode_ms_per_token: ms, decode_tok_s: 1000 / ms };
      });
    }
    if (process.env.PREFILL_AB === '1') {
      const kernel0 = prefillTuning.kernel;
      await alternate(['shared', 'tiled'] as const, async (kernel, rep) => {
        prefillTuning.kernel = kernel;
        model.reset();
        await model.forward(prompt.subarray(0, 8), 0, hook); // compiles this kernel's pipelines
        model.reset();
        const t0 = performance.now();
        await model.forward(prompt, 0, hook);
        const ms = performance.now() - t0;
        return { model: label, tp, weights, prompt: P, variant: `prefill attention ${kernel}`, rep, prefill_ms: ms, prefill_tok_s: P / (ms / 1000) };
      });
      prefillTuning.kernel = kernel0;
    }
    if (process.env.ATTN_AB === '1') {
      const kernel0 = splitTuning.gqaKernel;
      await alternate(['tile', 'warp'] as const, async (kernel, rep) => {
        splitTuning.gqaKernel = kernel;
        const pos = ctx - steps;
        model.length = pos - 1; // the cache rows before hold what they hold: the read costs the same
        await model.forward(new Int32Array([3]), pos - 1, hook); // compiles this kernel's pipelines
        const ms = await timeDecode(pos);
        return { model: label, tp, weights, variant: `gqa attention ${kernel} at ${ctx} keys`, rep, decode_ms_per_token: ms, decode_tok_s: 1000 / ms };
      });
      splitTuning.gqaKernel = kernel0;
    }
    model.destroy();
  }
}
const doc = { name: 'llm-gpu', date: new Date().toISOString(), adapter: gpu.report, rows };
if (process.env.OUT) {
  fs.mkdirSync(process.env.OUT, { recursive: true });
  fs.writeFileSync(`${process.env.OUT}/llm-gpu-${(only ?? 'all').split(' ')[0]}-tp${process.env.TP ?? 'all'}${weights === 'f16' ? '' : '-' + weights}.json`, JSON.stringify(doc, null, 2));
}
const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
console.log([`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cols.map((c) => (typeof r[c] === 'number' ? (r[c] as number).toFixed(2) : typeof r[c] === 'object' && r[c] !== null ? JSON.stringify(r[c]) : String(r[c] ?? '-'))).join(' | ')} |`)].join('\n'));
process.exit(0);
