// Decode-attention kernel charts (bench/attention-decode.ts, MODE=gqa: bench/attention-decode-gqa.ts ->
// bench/results/attention-decode-*.json): % of the HBM peak one decode-attention call reaches per case
// (model shape x context length), for every kernel generation, against the 70% goal. The files come in
// two formats: `rows` (old shared-memory kernel vs the split-KV kernel of that day: the first split,
// the GQA lane kernel, the GQA block kernel) and `gqa` (the tile sweep: best config per case, the
// block / lane kernels measured in the same run, and the fixed cost per call that caps small cases).
import { adapterName, chartSection, colour, filesWith, goalLine, num, rowsOf, str, uniq, val, type Json, type ResultFile } from './bench-charts-common';

const GOAL_PCT = 70; // docs/arch-gemm.md: bandwidth-bound kernels at >= 70% of the 3.35 TB/s peak
const SHAPE_ORDER = ['7B-gqa', '7B-mha', '1B'];

interface Series { label: string; pct: Map<string, number>; hidden?: boolean }

const caseKey = (shape: unknown, ctx: unknown): string => `${str(shape)}@${str(ctx)}`;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

/** What distinguishes a file from its siblings: "gqa-tile" of attention-decode-gqa-tile-nvidia-h100-<date>. */
function tagOf(f: ResultFile): string {
  const t = f.name.replace(/-?\d{4}-\d{2}-\d{2}$/, '').replace(/^attention-decode-?/, '').replace(/(^|-)(nvidia|amd|intel|apple|lavapipe|swiftshader)[-\w]*$/, '');
  return t || 'original';
}

/** The split kernel a row ran, from its shader constants: E = warp, BK = block, NV = tile, SGMIN = lane, else the first split kernel. */
function kernelOf(consts: unknown): string {
  const c = obj(consts);
  if ('E' in c) return 'warp';
  if ('NV' in c) return 'tile';
  if ('BK' in c) return 'block';
  if ('SGMIN' in c) return 'lane';
  return 'split';
}

/** `rows` format: the old kernel (once, from the first such file) and this file's split-KV kernel(s). */
function rowsSeries(f: ResultFile, out: Series[], withOld: boolean): void {
  const rows = rowsOf(f.doc).filter((r) => Number.isFinite(num(r.pctPeak)));
  if (withOld) {
    const old = rows.filter((r) => r.impl === 'shared');
    if (old.length) out.push({ label: `old kernel (one workgroup per head, ${tagOf(f)})`, pct: new Map(old.map((r) => [caseKey(r.shape, r.ctx), num(r.pctPeak)])) });
  }
  const split = rows.filter((r) => r.impl === 'split');
  if (!split.length) return;
  const kernels = uniq(split.map((r) => kernelOf(r.consts)));
  const name = kernels.length === 1 && kernels[0] === 'split' ? 'first split-KV' : `${kernels.join(' + ')} split-KV`;
  out.push({ label: `${name} (${tagOf(f)})`, pct: new Map(split.map((r) => [caseKey(r.shape, r.ctx), num(r.pctPeak)])) });
}

/** Fixed-cost ceiling of the tile sweep: bytes / (F + bytes / stream) / peak, F = the 64-key call (as the bench's table). */
function ceilingOf(doc: Json, kvMB: number): number | null {
  const F = num(obj(obj(doc.gqa).floor)['7B-gqa@64Us']);
  const stream = num(doc.streamGBs);
  const peak = num(doc.peakGBs);
  if (!(F > 0 && stream > 0 && peak > 0 && kvMB > 0)) return null;
  const bytes = kvMB * 2 ** 20;
  return (100 * bytes / ((F * 1e-6 + bytes / (stream * 1e9)) * 1e9)) / peak;
}

/** `gqa` format: best of the sweep per case, block / lane of the same run (hidden at first), and the ceiling. */
function gqaSeries(f: ResultFile, out: Series[], ceilings: Map<string, number>): void {
  const g = obj(f.doc.gqa);
  const tag = tagOf(f);
  const best = Object.values(obj(g.best)).map(obj).filter((b) => Number.isFinite(num(b.pctPeak)));
  if (best.length) {
    const won = uniq(best.map((b) => str(b.kernel)).filter((k) => k)).join(' / ') || 'tile';
    out.push({ label: `best of the ${tag} sweep (${won})`, pct: new Map(best.map((b) => [caseKey(b.shape, b.ctx), num(b.pctPeak)])) });
    for (const b of best) {
      const c = ceilingOf(f.doc, num(b.kvMB));
      if (c !== null) ceilings.set(caseKey(b.shape, b.ctx), c);
    }
  }
  const points = rowsOf(g, 'points');
  // the bench's own "block %" / "lane %" columns: the point whose knobs asked for that kernel
  for (const k of ['block', 'lane']) {
    const mine = points.filter((p) => p.kernel === k && obj(p.tuning).gqaKernel === k && Number.isFinite(num(p.pctPeak)));
    const extra = k === 'lane' ? rowsOf(g, 'mha').filter((p) => Number.isFinite(num(p.pctPeak))) : []; // MHA at defaults runs lane
    if (mine.length || extra.length) out.push({ label: `${k}, same run (${tag})`, hidden: true, pct: new Map([...mine, ...extra].map((p) => [caseKey(p.shape, p.ctx), num(p.pctPeak)])) });
  }
}

/** % of memory-bandwidth peak per case and kernel over every attention-decode file, with the goal and the ceiling. */
export function attentionDecodeChart(): void {
  const files = filesWith('attention-decode-').sort((a, b) => str(a.doc.date, a.name).localeCompare(str(b.doc.date, b.name)));
  const series: Series[] = [];
  const ceilings = new Map<string, number>();
  let oldDone = false;
  for (const f of files) {
    if (rowsOf(f.doc).length) {
      rowsSeries(f, series, !oldDone);
      oldDone ||= rowsOf(f.doc).some((r) => r.impl === 'shared');
    }
    if (typeof f.doc.gqa === 'object' && f.doc.gqa !== null) gqaSeries(f, series, ceilings);
  }
  // the vendor stack on the same GPU for scale (bench/torch-decode-attention.py: PyTorch SDPA, f32 cache)
  for (const t of filesWith('torch-decode-attention-')) {
    const rows = rowsOf(t.doc).filter((r) => Number.isFinite(num(r.pct_peak)));
    if (rows.length) series.push({ label: `PyTorch SDPA f32 (${str(t.doc.gpu)}, ${str(t.doc.date).slice(0, 10)})`, pct: new Map(rows.map((r) => [caseKey(str(r.shape).split(' (')[0], r.ctx), num(r.pct_peak)])) });
  }
  if (!series.length) return;
  const cases = uniq(series.flatMap((s) => [...s.pct.keys()])).sort((a, b) => {
    const [sa, ca] = a.split('@');
    const [sb, cb] = b.split('@');
    const ra = SHAPE_ORDER.indexOf(sa);
    const rb = SHAPE_ORDER.indexOf(sb);
    return (ra < 0 ? 99 : ra) - (rb < 0 ? 99 : rb) || sa.localeCompare(sb) || Number(ca) - Number(cb);
  });
  const where = uniq(files.map((f) => adapterName(f.doc))).join('; ');
  const F = files.map((f) => num(obj(obj(f.doc.gqa).floor)['7B-gqa@64Us'])).find((x) => x > 0);
  chartSection('Decode attention: % of memory-bandwidth peak per case and kernel',
    `One decode-attention call (f32 K+V of the context read once) as % of its GPU's HBM peak (H100 3350, H200 4800 GB/s), Node + Dawn on ${where}; goal: ${GOAL_PCT}% of peak.` +
      `${ceilings.size ? ` Ceiling: the best possible with the measured fixed cost per call (${F?.toFixed(1)} µs) at stream-copy bandwidth.` : ''} Block / lane of the tile run are hidden (click the legend).`,
    'chart-attention-decode', {
      type: 'bar',
      data: {
        labels: cases.map((c) => { const [s, ctx] = c.split('@'); return [s, `ctx ${ctx}`]; }),
        datasets: [
          ...series.map((s, i) => ({ label: s.label, hidden: s.hidden ?? false, backgroundColor: colour(i), data: cases.map((c) => val(s.pct.get(c))) })),
          ...(ceilings.size ? [{ label: 'ceiling (fixed cost per call)', type: 'line', order: -1, showLine: false, pointStyle: 'line', pointRadius: 14, pointHoverRadius: 14, borderWidth: 3, borderColor: '#7c2d12', data: cases.map((c) => ceilings.get(c) ?? null) } as never] : []),
          goalLine(`goal ${GOAL_PCT}% of peak`, GOAL_PCT, cases.length),
        ],
      },
      options: { scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: '% of HBM peak' } } } },
    });
}

/**
 * Load-time kernel tuning (bench/tune-load.ts -> tune-load-*.json): 512-token prefill tokens/s with the
 * untuned rule and with the choices tuneModel() picked on that GPU (same run), per model, and in the note
 * what a first load pays for the tuning and what a later load pays.
 */
export function tuneLoadChart(): void {
  const files = filesWith('tune-load-').filter((f) => Number.isFinite(num(obj(f.doc.prefill_tok_s).untuned)));
  if (!files.length) return;
  const labels = files.map((f) => `${str(f.doc.shape).split(' ')[0]}, ${str(f.doc.prompt_tokens)} tokens`);
  const costs = files.map((f) => `${str(f.doc.shape).split(' ')[0]}: first load ${(num(obj(f.doc.first_load).ms) / 1000).toFixed(1)} s, later ${num(obj(f.doc.later_load).ms).toFixed(1)} ms`);
  chartSection('Load-time kernel tuning: prefill tokens/s, untuned rule vs tuned on this GPU',
    `Prefill with random f16 weights at tp=1, Node + Dawn on ${uniq(files.map((f) => adapterName(f.doc))).join('; ')}; both bars from one run. Tuning cost: ${costs.join('; ')}. Goal: tuned >= untuned, tuned once per GPU.`,
    'chart-tune-load', {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'untuned rule', backgroundColor: colour(8), data: files.map((f) => val(obj(f.doc.prefill_tok_s).untuned)) },
          { label: 'tuned at load', backgroundColor: colour(0), data: files.map((f) => val(obj(f.doc.prefill_tok_s).tuned)) },
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'prefill tokens/s' } } } },
    });
}
