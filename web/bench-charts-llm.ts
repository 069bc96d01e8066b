// LLM engine charts: the decode-loop profile (bench/results/llm-decode-profile-*.json), tabmesh's
// WGSL engine vs onnxruntime-web (ort-webgpu-gpu-*.json) and tabmesh vs wllama (llm-wllama-*.json).
import { chartSection, colour, filesWith, newest, rowsOf, str, uniq, val, whereOf, type Json } from './bench-charts-common';

/** Multi-line tick label: "decode tp-shaped (identity ...)" -> ["decode tp-shaped", "(identity ...)"]. */
const wrap = (s: string): string[] => s.replace(/ \(/, '\n(').split('\n');

/** tok/s per mode, grouped by case, for the newest profile (the fused-kernel run of 2026-11-28 or later). */
export function decodeProfileChart(): void {
  const f = newest('llm-decode-profile-');
  if (!f) return;
  const rows = rowsOf(f.doc);
  const cases = uniq(rows.map((r) => str(r.case)));
  const modes = uniq(rows.map((r) => str(r.mode)));
  const others = filesWith('llm-decode-profile-').filter((x) => x !== f).map((x) => x.name);
  chartSection(`LLM decode loop: tokens/s per mode (${f.name})`,
    `Decode tokens/s of ${str(f.doc.model, 'the model')} ${str(f.doc.weights, '')} weights (prompt ${str(f.doc.prompt)}, ${str(f.doc.steps)} steps) per submit/bind/flush mode, Node + Dawn on ${whereOf(f.doc)}; base = the unoptimised loop, no fixed goal.${others.length ? ` Older: ${others.join(', ')}.` : ''}`,
    'chart-decode-profile', {
      type: 'bar',
      data: {
        labels: cases.map(wrap),
        datasets: modes.map((m, i) => ({ label: m, backgroundColor: colour(i), data: cases.map((c) => val(rows.find((r) => r.case === c && r.mode === m)?.tok_s)) })),
      },
      options: { skipNull: true, scales: { y: { beginAtZero: true, title: { display: true, text: 'tokens/s' } } } },
    });
}

/** Decode and prefill tok/s per engine: WGSL (f32, f16) vs ORT webgpu EP vs ORT wasm, one chart per file. */
export function ortWebgpuCharts(): void {
  filesWith('ort-webgpu-gpu-').reverse().forEach((f, idx) => {
    const rows = rowsOf(f.doc);
    if (!rows.length) return;
    const label = (r: Json): string[] => [str(r.engine), `${str(r.layers)} layers ${str(r.weights, '')}`.trim()];
    const summary = (f.doc.summary ?? {}) as Json;
    const goal = typeof summary.goal_met_1_5x === 'boolean' ? ` Goal: WGSL f32 ≥ 1.5× ORT webgpu (${summary.goal_met_1_5x ? 'met' : 'not met'}: decode ${str(summary.wgsl_f32_over_ort_webgpu_decode)}×, prefill ${str(summary.wgsl_f32_over_ort_webgpu_prefill)}×).` : '';
    chartSection(`LLM engines: WGSL vs onnxruntime-web (${f.name})`,
      `Decode and prefill tokens/s of ${str(f.doc.model, 'the model')} (first ${str(f.doc.layers_compared)} layers unless noted; prefill ${str(f.doc.prefill)} tokens) per engine, Node on ${whereOf(f.doc)}${(f.doc.ort as Json | undefined)?.version ? `, ORT ${str((f.doc.ort as Json).version)}` : ''}. Log scale.${goal}`,
      `chart-ort-webgpu${idx ? `-${idx}` : ''}`, {
        type: 'bar',
        data: {
          labels: rows.map(label),
          datasets: [
            { label: 'decode tok/s', backgroundColor: colour(0), data: rows.map((r) => val(r.decode_tok_s)) },
            { label: 'prefill tok/s', backgroundColor: colour(2), data: rows.map((r) => val(r.prefill_tok_s)) },
          ],
        },
        options: { scales: { y: { type: 'logarithmic', title: { display: true, text: 'tokens/s' } } } },
      });
  });
}

/** tabmesh engines vs wllama (llama.cpp wasm): decode tok/s per model, newest file. */
export function wllamaChart(): void {
  const f = newest('llm-wllama-');
  if (!f) return;
  const rows = rowsOf(f.doc);
  const models = uniq(rows.map((r) => str(r.model)));
  const seriesOf = (r: Json): string => `${str(r.engine).replace(/ \(llama\.cpp wasm\)$/, '')}${String(r.engine).startsWith('wllama') ? ` ${str(r.tp_or_threads)} thread(s)` : ` tp=${str(r.tp_or_threads)}`}`;
  const series = uniq(rows.map(seriesOf));
  // several rows of one series and model (repeated runs): the best, as the bench's own summary does
  const pick = (m: string, s: string): number | null => {
    const xs = rows.filter((r) => r.model === m && seriesOf(r) === s).map((r) => val(r.decode_tok_s)).filter((x): x is number => x !== null);
    return xs.length ? Math.max(...xs) : null;
  };
  const goal = typeof f.doc.goal_issue6 === 'string' ? ' Goal (issue 6): tabmesh (ort-wasm) tp=1 at or above wllama 1 thread on the same model.' : '';
  chartSection(`tabmesh vs wllama: decode tokens/s (${f.name})`,
    `Decode tokens/s per model, headless Chromium on ${whereOf(f.doc)}; one shared machine, so compare within this run. Log scale.${goal}`,
    'chart-wllama', {
      type: 'bar',
      data: { labels: models, datasets: series.map((s, i) => ({ label: s, backgroundColor: colour(i), data: models.map((m) => pick(m, s)) })) },
      options: { skipNull: true, scales: { y: { type: 'logarithmic', title: { display: true, text: 'decode tokens/s' } } } },
    });
}
