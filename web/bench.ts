// The benchmark page: plots the committed results in bench/results/*.json (see bench-charts-common.ts
// for how they are bundled). Sections, top to bottom: GEMM sweep and matmul TFLOPS, the gemm50 runs,
// the int8 subgroup-matrix GEMM, GEMV bandwidth, decode attention (% of peak), load-time tuning, LLM tokens/s by
// tensor-parallel size, time per all-reduce point at tp>1 decode, the decode-loop profile, WGSL vs
// onnxruntime-web, tabmesh vs wllama, DistriFusion step time, U-Net kernels and DistriFusion quality. Each chart group is guarded: a malformed
// or older-format file shows an alert instead of stopping the page.
import { distrifusionQualityCharts, distrifusionSpeedCharts, unetKernelsCharts } from './bench-charts-distrifusion';
import { gemm50Charts, gemmSubgroupMatrixChart, gemmSweepCharts, gemmVendorChart, gpuKernelsMatmulChart } from './bench-charts-gemm';
import { attentionDecodeChart, tuneLoadChart } from './bench-charts-kernels';
import { dataParallelChart, decodeProfileChart, multiGpuLabel, ortWebgpuCharts, tpPointsCharts, wllamaChart } from './bench-charts-llm';
import { adapterName, byName, chartSection, COLOURS, guarded, num, rowsOf, whereOf, type Json } from './bench-charts-common';
import { el } from './ui';

guarded('GEMM sweep', gemmSweepCharts);
guarded('gpu-kernels matmul', gpuKernelsMatmulChart);
guarded('gemm50', gemm50Charts);
guarded('int8 subgroup-matrix GEMM', gemmSubgroupMatrixChart);
guarded('GEMM vs cuBLAS', gemmVendorChart);

// ---- GEMV bandwidth (gpu-kernels-*.json, gemv rows) ----
guarded('GEMV bandwidth', () => {
  const docs = byName.filter((f) => f.name.startsWith('gpu-kernels-'));
  const rows = docs.flatMap((f) => rowsOf(f.doc, 'gemv').map((r): Json => ({ ...r, peak: num(f.doc.peakGBs), stream: num(f.doc.streamGBs) })));
  const seen = new Map<string, Json>(); // the best of repeated runs per (shape, type, config)
  for (const r of rows) {
    const key = `${r.N}×${r.K} ${r.wtype} ${JSON.stringify(r.config)}`;
    if (!seen.has(key) || num(seen.get(key)!.GBs) < num(r.GBs)) seen.set(key, r);
  }
  const list = [...seen.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  if (!list.length) return;
  const peak = Math.max(...rows.map((r) => num(r.peak)));
  const stream = Math.max(...rows.map((r) => num(r.stream)));
  chartSection('GEMV bandwidth', `Weight bytes read per second by the decode GEMV (GB/s), Node + Dawn on ${[...new Set(docs.filter((f) => rowsOf(f.doc, 'gemv').length).map((f) => whereOf(f.doc)))].join('; ')}; goal: the streaming-copy rate (${stream.toFixed(0)} GB/s; the device's peak is ${peak.toFixed(0)} GB/s).`, 'chart-gemv', {
    type: 'bar',
    data: {
      labels: list.map(([, r]) => {
        const c = (r.config ?? {}) as Json;
        return `${r.N}×${r.K} ${r.wtype} (wg ${c.wg}, rows ${c.rows}${c.subgroups ? ', subgroups' : ''})`;
      }),
      datasets: [
        { label: 'GEMV GB/s', backgroundColor: COLOURS[0], data: list.map(([, r]) => num(r.GBs)) },
        { label: 'streaming copy GB/s', type: 'line', borderColor: COLOURS[8], pointRadius: 0, data: list.map(() => stream) } as never,
      ],
    },
    options: { indexAxis: 'x', scales: { y: { title: { display: true, text: 'GB/s' } } } },
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
      for (const model of new Set(rows.map((r) => String(r.model)))) {
        const mine = rows.filter((r) => r.model === model);
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
guarded('decode profile', decodeProfileChart);
guarded('ORT webgpu comparison', ortWebgpuCharts);
guarded('wllama comparison', wllamaChart);
guarded('DistriFusion speed', distrifusionSpeedCharts);
guarded('U-Net kernels', unetKernelsCharts);
guarded('DistriFusion quality', distrifusionQualityCharts);

document.getElementById('app')!.append(el('section', {}, el('h2', {}, 'Files'), el('ul', {}, ...byName.map((f) => el('li', {}, `${f.name}.json`)))));
