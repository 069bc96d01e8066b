// GQA decode-attention sweep for bench/attention-decode.ts (MODE=gqa): one run measures
//  - the fixed cost of a call: one and two dependent tiny dispatches in the pass (stream.wgsl on 16 vec4s),
//    and attention() at 32 keys (one chunk: split kernel only) and 64 keys (two chunks: split + combine);
//    from it, the best % of peak any kernel could reach at each case's byte count,
//  - the GQA kernels (block, lane, tile) and the tile kernel's knobs (workgroup size, vec4s per lane,
//    target workgroups, minChunk) at 7B-GQA (32q/8kv/128) and 1B-GQA (32q/4kv/64), contexts 4096 and 16384,
//    every point checked against the CPU reference on sampled heads,
//  - MHA (32/32/128) with the defaults, the no-regression row.
import streamWgsl from '../shaders/gemm/stream.wgsl?raw';
import type { Gpu } from '../src/gpu/gpu';
import { splitChunks, splitPlan, splitTuning, type AttnImpl } from '../src/kernels/attention';
import { params } from '../src/kernels/common';

interface SetupLike { ctx: number; kvDim: number; setBytes: number; shape: { name: string; nHeads: number; hd: number } }
export interface GqaEnv<S extends SetupLike> {
  gpu: Gpu; quick: boolean; kvRegular: boolean; streamGBs: number; peakGBs: number; log: (...a: unknown[]) => void;
  timeCalls: (enqueue: (i: number) => void, targetSec: number, trials?: number) => Promise<number>;
  setup: (name: string, ctx: number) => S; call: (s: S, impl: AttnImpl, i: number) => void; check: (s: S, impl: AttnImpl) => Promise<number>;
}

type Tuning = Partial<typeof splitTuning>;
export interface GqaPoint { shape: string; ctx: number; kvMB: number; tuning: Tuning; kernel: string; consts: Record<string, number>;
  chunks: number; usGpu: number; GBs: number; pctPeak: number; pctStream: number; maxErr: number }

export async function gqaSweep<S extends SetupLike>(env: GqaEnv<S>): Promise<{ json: unknown; md: string[] }> {
  const { gpu, quick, log } = env;
  const defaults = { ...splitTuning };
  const f = (x: number, d = 1) => x.toFixed(d);

  // ---- fixed cost of one call
  const a = gpu.alloc(256, 'floorA'), b = gpu.alloc(256, 'floorB'); // [16 vec4] each
  const tiny = (src: GPUBuffer, dst: GPUBuffer) => gpu.run({ code: streamWgsl, file: 'shaders/gemm/stream.wgsl', constants: { WG: 256 } },
    params(16, { f: 1.5 }, 0, 0), [src, dst], [1, 1]);
  const floor: Record<string, number> = {};
  floor.oneDispatchUs = 1e6 * await env.timeCalls(() => tiny(a, b), 0.01);
  floor.twoDispatchUs = 1e6 * await env.timeCalls(() => { tiny(a, b); tiny(b, a); }, 0.01);
  for (const kernel of ['tile', 'warp'] as const) {
    Object.assign(splitTuning, defaults, { gqaKernel: kernel });
    for (const name of ['7B-gqa', '1B']) {
      for (const ctx of [32, 64]) {
        const s = env.setup(name, ctx);
        floor[`${name}@${ctx}Us${kernel === 'tile' ? '' : '.' + kernel}`] = 1e6 * await env.timeCalls((i) => env.call(s, 'split', i), 0.01);
      }
    }
  }
  Object.assign(splitTuning, defaults);
  log('floor', JSON.stringify(floor));
  const F = floor['7B-gqa@64Us']; // split + combine with almost no work

  // ---- sweep
  const cases: [string, number][] = quick ? [['7B-gqa', 300], ['1B', 300]] : [['7B-gqa', 4096], ['7B-gqa', 16384], ['1B', 4096], ['1B', 16384]];
  // GQA_SHORT=1: a quick pass (the tile and warp defaults, warp at 128 threads). Else block and lane; the
  // tile kernel's knob grid (GQA_TILE_GRID=1; its H100/H200 sweeps are in bench/results) or its defaults
  // and 1B's best point; the warp kernel's grid.
  const variants: Tuning[] = [];
  if (process.env.GQA_SHORT === '1') {
    variants.push({ gqaKernel: 'tile' }, { gqaKernel: 'warp' }, { gqaKernel: 'warp', gqaWarpWg: 128 });
  } else {
    variants.push({ gqaKernel: 'block' }, { gqaKernel: 'lane' });
    if (process.env.GQA_TILE_GRID === '1') {
      for (const gqaWg of quick ? [128] : [128, 256]) for (const gqaVpl of quick ? [2, 4] : [1, 2, 4])
        for (const gqaTarget of quick ? [64] : [512, 1024, 2048]) for (const gqaMinChunk of quick ? [16] : [32, 128])
          for (const gqaPf of quick ? [1] : [0, 1]) variants.push({ gqaKernel: 'tile', gqaWg, gqaVpl, gqaTarget, gqaMinChunk, gqaPf });
    } else {
      variants.push({ gqaKernel: 'tile' }, { gqaKernel: 'tile', gqaWg: 256, gqaVpl: 2, gqaTarget: 2048, gqaMinChunk: 128, gqaPf: 1 });
    }
    for (const gqaWarpWg of quick ? [64] : [64, 128]) for (const gqaE of [1, 2]) for (const gqaWs of [32, 16, 8])
      for (const gqaTarget of quick ? [64] : (process.env.GQA_TARGETS ?? '256,512,1024').split(',').map(Number))
        for (const gqaMinChunk of quick ? [16] : [32]) variants.push({ gqaKernel: 'warp', gqaWarpWg, gqaE, gqaWs, gqaTarget, gqaMinChunk });
  }
  const points: GqaPoint[] = [];
  const measure = async (s: S, t: Tuning): Promise<GqaPoint | null> => {
    Object.assign(splitTuning, defaults, t);
    const plan = splitPlan(gpu, s.shape.nHeads, s.shape.hd, s.kvDim, env.kvRegular);
    if (!plan) return null;
    const sec = await env.timeCalls((i) => env.call(s, 'split', i), quick ? 0.005 : 0.02);
    const GBs = s.setBytes / sec / 1e9;
    const p: GqaPoint = { shape: s.shape.name, ctx: s.ctx, kvMB: s.setBytes / 2 ** 20, tuning: t, kernel: plan.kernel, consts: plan.consts,
      chunks: splitChunks(plan, s.ctx), usGpu: sec * 1e6, GBs, pctPeak: (100 * GBs) / env.peakGBs, pctStream: (100 * GBs) / env.streamGBs,
      maxErr: await env.check(s, 'split') };
    log(`${p.shape} ${p.ctx} ${JSON.stringify(t)} -> ${p.kernel} ${JSON.stringify(p.consts)} chunks ${p.chunks}: ${f(p.usGpu)} us, ` +
      `${f(GBs, 0)} GB/s (${f(p.pctPeak)}%), err ${p.maxErr.toExponential(1)}`);
    return p;
  };
  for (const [name, ctx] of cases) {
    const s = env.setup(name, ctx);
    const seen = new Set<string>();
    for (const t of variants) {
      Object.assign(splitTuning, defaults, t);
      const plan = splitPlan(gpu, s.shape.nHeads, s.shape.hd, s.kvDim, env.kvRegular);
      const key = plan ? `${plan.kernel} ${JSON.stringify(plan.consts)} ${splitChunks(plan, ctx)} ${plan.nct}` : 'none';
      if (seen.has(key)) continue; // another knob setting that gives the same kernel, constants and chunking
      seen.add(key);
      const p = await measure(s, t);
      if (p) points.push(p);
    }
  }
  const mha: GqaPoint[] = [];
  for (const ctx of quick ? [300] : [4096, 16384]) {
    const p = await measure(env.setup('7B-mha', ctx), {});
    if (p) mha.push(p);
  }
  Object.assign(splitTuning, defaults);

  // ---- report
  const md: string[] = ['## GQA kernel sweep (MODE=gqa)', '',
    `Fixed cost per call in one pass: one tiny dispatch ${f(floor.oneDispatchUs, 2)} us, two dependent ${f(floor.twoDispatchUs, 2)} us; ` +
    `attention() 7B-gqa at 32 keys (split only) ${f(floor['7B-gqa@32Us'], 2)} us, 64 keys (split + combine) ${f(F, 2)} us; ` +
    `1B at 32 / 64 keys ${f(floor['1B@32Us'], 2)} / ${f(floor['1B@64Us'], 2)} us (tile kernel); the warp kernel 7B-gqa ` +
    `${f(floor['7B-gqa@32Us.warp'], 2)} / ${f(floor['7B-gqa@64Us.warp'], 2)} us, 1B ${f(floor['1B@32Us.warp'], 2)} / ${f(floor['1B@64Us.warp'], 2)} us. ` +
    `Best possible % of peak with that 64-key cost and stream-copy bandwidth: bytes / (F + bytes / stream) / peak.`, '',
    '| case | K+V MB | ceiling % of peak | best % of peak | best us | best kernel | knobs | consts | chunks | block % | lane % | tile % (best) | warp % (best) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  const best: Record<string, GqaPoint> = {};
  for (const [name, ctx] of cases) {
    const ps = points.filter((p) => p.shape === name && p.ctx === ctx && p.maxErr < 1e-3);
    if (!ps.length) continue;
    const bst = ps.reduce((x, y) => (y.GBs > x.GBs ? y : x));
    best[`${name}@${ctx}`] = bst;
    const bytes = ps[0].kvMB * 2 ** 20;
    const ceil = (100 * bytes / ((F * 1e-6 + bytes / (env.streamGBs * 1e9)) * 1e9)) / env.peakGBs;
    // the best point of one kernel in this case, as a table cell
    const cell = (kind: string): string => {
      const p = ps.filter((q) => q.kernel === kind && q.tuning.gqaKernel === kind).reduce<GqaPoint | undefined>((x, y) => (!x || y.GBs > x.GBs ? y : x), undefined);
      return p ? f(p.pctPeak) : '-';
    };
    md.push(`| ${name} ${ctx} | ${f(ps[0].kvMB, 1)} | ${f(ceil)} | ${f(bst.pctPeak)} | ${f(bst.usGpu)} | ${bst.kernel} | ${JSON.stringify(bst.tuning)} | ` +
      `${JSON.stringify(bst.consts)} | ${bst.chunks} | ${cell('block')} | ${cell('lane')} | ${cell('tile')} | ${cell('warp')} |`);
  }
  for (const p of mha) md.push(`| 7B-mha ${p.ctx} (defaults) | ${f(p.kvMB, 1)} | - | ${f(p.pctPeak)} | ${f(p.usGpu)} | ${p.kernel} | - | ${JSON.stringify(p.consts)} | ${p.chunks} | - | - | - | - |`);
  md.push('', '| shape | ctx | kernel | gqaWg (tile) / gqaWarpWg (warp) | gqaVpl | gqaPf | gqaE | gqaWs | targetWorkgroups | minChunk | consts | chunks | us | GB/s | % of peak | % of stream | err |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const p of points) {
    const t = { ...defaults, ...p.tuning };
    md.push(`| ${p.shape} | ${p.ctx} | ${p.kernel} | ${p.kernel === 'warp' ? t.gqaWarpWg : t.gqaWg} | ${t.gqaVpl} | ${t.gqaPf} | ${t.gqaE} | ${t.gqaWs} | ${t.gqaTarget || t.targetWorkgroups} | ${t.gqaMinChunk || t.minChunk} | ${JSON.stringify(p.consts)} | ` +
      `${p.chunks} | ${f(p.usGpu)} | ${f(p.GBs, 0)} | ${f(p.pctPeak)} | ${f(p.pctStream)} | ${p.maxErr.toExponential(1)} |`);
  }
  a.destroy();
  b.destroy();
  return { json: { floor, defaults, points, mha, best }, md };
}
