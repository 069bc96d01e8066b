// The benchmark page: plots the committed results in bench/results/*.json (see bench-charts-common.ts
// for how they are bundled). Sections, top to bottom: GEMM sweep and matmul TFLOPS, the gemm50 runs,
// the int8 subgroup-matrix GEMM, GEMV bandwidth, decode attention (% of peak), load-time tuning, LLM tokens/s by
// tensor-parallel size, time per all-reduce point at tp>1 decode, the decode-loop profile, WGSL vs
// onnxruntime-web, tabmesh vs wllama, DistriFusion step time, U-Net kernels, the U-Net step profile (host encode vs GPU, a peer's GPU work by N) and DistriFusion quality. Each chart group is guarded: a malformed
// or older-format file shows an alert instead of stopping the page.
import { distrifusionQualityCharts, distrifusionSpeedCharts, unetKernelsCharts, unetStepProfileCharts } from './bench-charts-distrifusion';
import { gemm50Charts, gemmSubgroupMatrixChart, gemmSweepCharts, gemmVendorChart, gpuKernelsMatmulChart } from './bench-charts-gemm';
import { attentionDecodeChart, tuneLoadChart } from './bench-charts-kernels';
import { dataParallelChart, decodeKernelsCharts, decodeProfileChart, longContextCharts, multiGpuLabel, ortWebgpuCharts, tpPointsCharts, wllamaChart } from './bench-charts-llm';
import { adapterName, byName, chartSection, COLOURS, guarded, num, rowsOf, str, whereOf } from './bench-charts-common';
import { el } from './ui';

guarded('GEMM sweep', gemmSweepCharts);
guarded('gpu-kernels matmul', gpuKernelsMatmulChart);
guarded('gemm50', gemm50Charts);
guarded('int8 subgroup-matrix GEMM', gemmSubgroupMatrixChart);
guarded('GEMM vs cuBLAS', gemmVendorChart);

// ---- GEMV bandwidth (gpu-kernels-*.json gemv rows; gemv-cublas-*.json: cuBLAS on the same kind of GPU) ----
guarded('GEMV bandwidth', () => {
  const gpuOf = (peak: number): string => (peak === 4800 ? 'H200' : peak === 3350 ? 'H100' : `${peak} GB/s`);
  const ours = new Map<string, number>(); // "GPU N×K type" -> best % of that GPU's peak over configs and runs
  // The config decode runs (rows' `others` named "decode: ...", since 2026-11-29; q8_0 there is on int8 x).
  const decode = new Map<string, number>();
  const docs = byName.filter((f) => f.name.startsWith('gpu-kernels-') && rowsOf(f.doc, 'gemv').length);
  for (const f of docs) {
    for (const r of rowsOf(f.doc, 'gemv')) {
      const pct = Number.isFinite(num(r.pctPeak)) ? num(r.pctPeak) : (100 * num(r.GBs)) / num(f.doc.peakGBs);
      const key = `${gpuOf(num(f.doc.peakGBs))} ${str(r.N)}×${str(r.K)} ${str(r.wtype)}`;
      if (Number.isFinite(pct)) ours.set(key, Math.max(pct, ours.get(key) ?? 0));
      const others = Array.isArray(r.others) ? (r.others as Record<string, unknown>[]) : [];
      const dec = others.find((o) => str(o.name).startsWith('decode:'));
      if (dec && Number.isFinite(num(dec.pctPeak))) decode.set(key, Math.max(num(dec.pctPeak), decode.get(key) ?? 0));
    }
  }
  if (!ours.size) return;
  const vendor = new Map<string, number>();
  for (const f of byName.filter((x) => x.name.startsWith('gemv-cublas-'))) {
    for (const r of rowsOf(f.doc)) vendor.set(`${gpuOf(num(f.doc.peak_GBs))} ${str(r.N)}×${str(r.K)} ${str(r.wtype)}`, num(r.pct_peak));
  }
  const keys = [...ours.keys()].sort();
  chartSection('GEMV bandwidth', `Weight bytes read per second by the decode GEMV as % of the GPU's HBM peak (H100 3350, H200 4800 GB/s), the best tuned config and run per case and the config decode runs (q8_0 on int8 activations), Node + Dawn on ${[...new Set(docs.map((f) => whereOf(f.doc)))].join('; ')}; cuBLAS (torch.mv, bench/cublas-gemv.py) where measured on the same kind of GPU. Goal: 70% of peak.`, 'chart-gemv', {
    type: 'bar',
    data: {
      labels: keys,
      datasets: [
        { label: 'WGSL GEMV (tuned, f32 x)', backgroundColor: COLOURS[0], data: keys.map((k) => ours.get(k) ?? null) },
        { label: "WGSL decode's config (q8_0: int8 x)", backgroundColor: COLOURS[2], data: keys.map((k) => decode.get(k) ?? null) },
        { label: 'cuBLAS (torch.mv)', backgroundColor: COLOURS[1], data: keys.map((k) => vendor.get(k) ?? null) },
        { label: 'goal 70% of peak', type: 'line', borderColor: COLOURS[8], borderDash: [6, 4], pointRadius: 0, data: keys.map(() => 70) } as never,
      ],
    },
    options: { skipNull: true, scales: { y: { beginAtZero: true, title: { display: true, text: '% of HBM peak' } } } },
  });
});

guarded('decode attention', attentionDecodeChart);
guarded('load-time tuning', tuneLoadChart);

// ---- LLM tokens/s by tp (multi-gpu-*.json: real TP over WebRTC or same-host sockets; llm-gpu: one GPU, no network;
//      llm-headless-chromium: browser tabs on one CPU) ----
guarded('LLM tokens/s by tp', () => {
  interface Series { label: string; prefill: Map<number, number>; decode: Map<number, number> }
  const series: Series[] = [];
  for (const f of byName) {
    const rows = rowsOf(f.doc);
    if (f.name.startsWith('multi-gpu-')) {
      if (!rows.length) continue; // a replicas-only run (REPLICAS, no tp cases): dataParallelChart
      // one series per prefill all-reduce wire (REDUCE_WIRE runs; tp=1 has no all-reduce and belongs to each)
      const wires = [...new Set(rows.map((r) => (r.reduce_wire === 'i8' ? 'i8' : 'f32')))];
      for (const w of wires) {
        const mine = rows.filter((r) => num(r.tp) === 1 || (r.reduce_wire === 'i8' ? 'i8' : 'f32') === w);
        const label = `${multiGpuLabel(f.name, f.doc)}${w === 'i8' ? ', i8 prefill all-reduce' : ''}`;
        series.push({ label, prefill: new Map(mine.map((r) => [num(r.tp), num(r.prefill_tok_s)])), decode: new Map(mine.map((r) => [num(r.tp), num(r.decode_tok_s)])) });
      }
    } else if (f.name.startsWith('llm-gpu-')) {
      // the by-tp rows only: not the kernel A/B rows (`variant`) nor other prompt lengths (longContextCharts)
      const byTp = rows.filter((r) => r.variant === undefined && (r.prompt === undefined || num(r.prompt) === 128));
      for (const model of new Set(byTp.map((r) => String(r.model)))) {
        const mine = byTp.filter((r) => r.model === model);
        series.push({ label: `${model.split(' ')[0]} one GPU, per-rank shard without network (${adapterName(f.doc)})`, prefill: new Map(mine.map((r) => [num(r.tp), num(r.prefill_tok_s)])), decode: new Map(mine.map((r) => [num(r.tp), num(r.decode_tok_s)])) });
      }
    } else if (f.name.startsWith('llm-headless-chromium-')) {
      series.push({ label: `stories260K, headless Chromium tabs (SwiftShader)`, prefill: new Map(rows.map((r) => [num(r.tp), num(r.prefill_tok_s)])), decode: new Map(rows.map((r) => [num(r.tp), num(r.decode_tok_s)])) });
    }
  }
  const tps = [...new Set(series.flatMap((s) => [...s.decode.keys()]))].sort((a, b) => a - b);
  for (const metric of ['decode', 'prefill'] as const) {
    chartSection(`LLM ${metric} tokens/s by tensor-parallel size`, metric === 'decode'
      ? 'Greedy decode after a 128-token prompt (multi-GPU runs: one headless Node peer per GPU, all-reduces over WebRTC data channels on loopback or same-host Unix sockets, as the legend says); the machine of each run is in its legend entry; no fixed goal. Log scale.'
      : 'Prompt tokens per second of the prefill forward; the machine of each run is in its legend entry. Log scale.', `chart-llm-${metric}`, {
      type: 'line',
      data: { labels: tps.map(String), datasets: series.map((s, i) => ({ label: s.label, borderColor: COLOURS[i % COLOURS.length], backgroundColor: COLOURS[i % COLOURS.length], data: tps.map((t) => s[metric].get(t) ?? null), spanGaps: true })) },
      options: { scales: { x: { title: { display: true, text: 'tensor_parallel_size' } }, y: { type: 'logarithmic', title: { display: true, text: 'tokens/s' } } } },
    });
  }
});

guarded('tp all-reduce points', tpPointsCharts);
guarded('data parallelism', dataParallelChart);
guarded('long contexts', longContextCharts);
guarded('decode profile', decodeProfileChart);
guarded('decode kernels', decodeKernelsCharts);
guarded('ORT webgpu comparison', ortWebgpuCharts);
guarded('wllama comparison', wllamaChart);
guarded('DistriFusion speed', distrifusionSpeedCharts);
guarded('U-Net kernels', unetKernelsCharts);
guarded('U-Net step profile', unetStepProfileCharts);
guarded('DistriFusion quality', distrifusionQualityCharts);

document.getElementById('app')!.append(el('section', {}, el('h2', {}, 'Files'), el('ul', {}, ...byName.map((f) => el('li', {}, `${f.name}.json`)))));
