// The benchmark page: plots the committed results in bench/results/*.json (bundled by Vite's
// import.meta.glob, so the page needs no server route): matmul TFLOPS per kernel variant, GEMV
// bandwidth, LLM tokens/s by tensor-parallel size, and DistriFusion PSNR vs the single device.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Title, Tooltip, type ChartConfiguration } from 'chart.js';
import { el } from './ui';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, LineController, LineElement, PointElement, Legend, Title, Tooltip);

type Json = Record<string, unknown>;
const files = import.meta.glob('../bench/results/*.json', { eager: true, import: 'default' }) as Record<string, Json>;
const byName = Object.entries(files).map(([path, doc]) => ({ name: path.split('/').pop()!.replace(/\.json$/, ''), doc }));
const COLOURS = ['#3b82f6', '#ef4444', '#22c55e', '#eab308', '#a855f7', '#14b8a6', '#f97316', '#ec4899', '#64748b', '#0ea5e9'];
const app = document.getElementById('app')!;

function chartSection(title: string, note: string, testId: string, config: ChartConfiguration): void {
  const canvas = el('canvas', { 'data-testid': testId });
  app.append(el('section', {}, el('h2', {}, title), el('p', { class: 'muted' }, note), el('div', { style: 'position:relative;max-width:960px' }, canvas)));
  new Chart(canvas, config);
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
const best = (xs: number[]): number | null => (xs.length ? Math.max(...xs) : null);
const adapterName = (d: Json): string => {
  const m = d.machine as Json | undefined;
  const a = d.adapter as Json | undefined;
  return String(m?.gpu ?? a?.device ?? a?.description ?? a?.vendor ?? '?').split(',')[0];
};

// ---- matmul TFLOPS per variant (gpu-kernels-*.json, gemm rows) ----
{
  const rows = byName.filter((f) => f.name.startsWith('gpu-kernels-')).flatMap((f) => ((f.doc.gemm as Json[] | undefined) ?? []).map((r): Json => ({ ...r, toggles: f.doc.toggles, file: f.name })));
  const sizes = [...new Set(rows.map((r) => `${r.M}×${r.N}×${r.K}`))];
  const variants = [...new Set(rows.map((r) => `${r.kernel} ${r.layout}${r.toggles ? ` (${r.toggles})` : ''}`))];
  chartSection('Matmul (f32 GEMM)', `TFLOPS per kernel variant and size, ${[...new Set(byName.filter((f) => f.name.startsWith('gpu-kernels-')).map((f) => adapterName(f.doc)))].join(', ')} (Node + Dawn).`, 'chart-matmul', {
    type: 'bar',
    data: {
      labels: sizes,
      datasets: variants.map((v, i) => ({
        label: v, backgroundColor: COLOURS[i % COLOURS.length],
        data: sizes.map((s) => best(rows.filter((r) => `${r.M}×${r.N}×${r.K}` === s && `${r.kernel} ${r.layout}${r.toggles ? ` (${r.toggles})` : ''}` === v).map((r) => num(r.tflops)))),
      })),
    },
    options: { scales: { y: { title: { display: true, text: 'TFLOPS' } } } },
  });
}

// ---- GEMV bandwidth (gpu-kernels-*.json, gemv rows) ----
{
  const docs = byName.filter((f) => f.name.startsWith('gpu-kernels-'));
  const rows = docs.flatMap((f) => ((f.doc.gemv as Json[] | undefined) ?? []).map((r): Json => ({ ...r, peak: num(f.doc.peakGBs), stream: num(f.doc.streamGBs) })));
  const seen = new Map<string, Json>(); // the best of repeated runs per (shape, type, config)
  for (const r of rows) {
    const key = `${r.N}×${r.K} ${r.wtype} ${JSON.stringify(r.config)}`;
    if (!seen.has(key) || num(seen.get(key)!.GBs) < num(r.GBs)) seen.set(key, r);
  }
  const list = [...seen.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  const peak = Math.max(...rows.map((r) => num(r.peak)));
  const stream = Math.max(...rows.map((r) => num(r.stream)));
  chartSection('GEMV bandwidth', `Weight bytes read per second by the decode GEMV (GB/s); the device's peak is ${peak.toFixed(0)} GB/s and a plain streaming copy reaches ${stream.toFixed(0)} GB/s.`, 'chart-gemv', {
    type: 'bar',
    data: {
      labels: list.map(([, r]) => {
        const c = r.config as Json;
        return `${r.N}×${r.K} ${r.wtype} (wg ${c.wg}, rows ${c.rows}${c.subgroups ? ', subgroups' : ''})`;
      }),
      datasets: [
        { label: 'GEMV GB/s', backgroundColor: COLOURS[0], data: list.map(([, r]) => num(r.GBs)) },
        { label: 'streaming copy GB/s', type: 'line', borderColor: COLOURS[8], pointRadius: 0, data: list.map(() => stream) } as never,
      ],
    },
    options: { indexAxis: 'x', scales: { y: { title: { display: true, text: 'GB/s' } } } },
  });
}

// ---- LLM tokens/s by tp (multi-gpu-*.json: real TP over WebRTC; llm-gpu: one GPU, no network;
//      llm-headless-chromium: browser tabs on one CPU) ----
{
  interface Series { label: string; prefill: Map<number, number>; decode: Map<number, number> }
  const series: Series[] = [];
  for (const f of byName) {
    const rows = (f.doc.rows as Json[] | undefined) ?? [];
    if (f.name.startsWith('multi-gpu-')) {
      const shape = f.doc.shape as Json;
      const gpus = (f.doc.machine as Json).gpus;
      series.push({ label: `${shape.name} ${shape.weights}, ${gpus}× GPU, WebRTC (${f.name.slice(-10)})`, prefill: new Map(rows.map((r) => [num(r.tp), num(r.prefill_tok_s)])), decode: new Map(rows.map((r) => [num(r.tp), num(r.decode_tok_s)])) });
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
      ? 'Greedy decode after a 128-token prompt (multi-GPU runs: one headless Node peer per GPU, all-reduces over WebRTC data channels on loopback). Log scale.'
      : 'Prompt tokens per second of the prefill forward. Log scale.', `chart-llm-${metric}`, {
      type: 'line',
      data: { labels: tps.map(String), datasets: series.map((s, i) => ({ label: s.label, borderColor: COLOURS[i % COLOURS.length], backgroundColor: COLOURS[i % COLOURS.length], data: tps.map((t) => s[metric].get(t) ?? null), spanGaps: true })) },
      options: { scales: { x: { title: { display: true, text: 'tensor_parallel_size' } }, y: { type: 'logarithmic', title: { display: true, text: 'tokens/s' } } } },
    });
  }
}

// ---- DistriFusion PSNR vs the single-device image ----
{
  const f = byName.find((x) => x.name.startsWith('distrifusion-quality-'));
  const summary = (f?.doc.summary as Json[] | undefined) ?? [];
  const modes = [...new Set(summary.map((r) => String(r.mode)))];
  const ns = [...new Set(summary.map((r) => num(r.n)))].sort((a, b) => a - b);
  chartSection('DistriFusion quality', `Mean PSNR (dB) of the patch-parallel image against the single-device image of the same seed, ${summary[0]?.seeds ?? '?'} seeds (${f?.doc.model ?? ''}).`, 'chart-distrifusion', {
    type: 'bar',
    data: { labels: modes, datasets: ns.map((n, i) => ({ label: `${n} peers`, backgroundColor: COLOURS[i], data: modes.map((m) => num(summary.find((r) => r.mode === m && r.n === n)?.psnrMean)) })) },
    options: { scales: { y: { title: { display: true, text: 'PSNR dB' } } } },
  });
}

app.append(el('section', {}, el('h2', {}, 'Files'), el('ul', {}, ...byName.map((f) => el('li', {}, `${f.name}.json`)))));
