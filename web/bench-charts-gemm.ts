// GEMM sweep charts (bench/gemm-sweep.ts -> bench/results/gemm-sweep-*.json): the best f32 TFLOPS of
// each kernel family (gemm.wgsl, gemm_reg*.wgsl variants) per size, and per Dawn toggle set, against
// the 50 TFLOPS goal of docs/arch-gemm.md (f32 matmul 4096^3 on an H100); the gemm50 runs (every
// config at 4096^3, gemm50-*.json / gemm50b-*.json) and the int8 tensor-core GEMM through
// chromium-experimental-subgroup-matrix (gemm-subgroup-matrix-*.json, TOPS with exact i32 sums). Prefill rows
// (phase 'prefill': Llama projection shapes per weight type) get their own chart.
import { best, chartSection, colour, filesWith, goalLine, newest, num, rowsOf, str, uniq, whereOf, type Json, type ResultFile } from './bench-charts-common';

const GOAL_TFLOPS = 50;
const shapeOf = (r: Json): string => `${str(r.M)}×${str(r.N)}×${str(r.K)} ${str(r.layout, '')}`.trim();
const familyOf = (r: Json): string => str(r.kernel).replace(/\.wgsl$/, '');
/** Rows that ran and passed the f64 check (ok missing in older files counts as passed if it has TFLOPS). */
const passed = (rows: Json[]): Json[] => rows.filter((r) => r.ok !== false && Number.isFinite(num(r.tflops)));
const toggleName = (t: unknown): string => (typeof t === 'string' && t ? t : 'default toggles');

/** Prefill projections: the tiled kernel, the best GEMM config and matmul()'s untuned pick, per weight type and shape. */
function prefillChart(f: ResultFile, rows: Json[], id: string): void {
  const pre = rows.filter((r) => r.phase === 'prefill');
  if (!pre.length) return;
  const caseOf = (r: Json): string => `${str(r.wtype, 'f32')} ${str(r.M)}×${str(r.N)}×${str(r.K)}`;
  const cases = uniq(pre.map(caseOf));
  const series: [string, (r: Json) => boolean][] = [
    ['matmul.wgsl (64x64 tiled)', (r) => r.kernel === 'matmul.wgsl'],
    ['gemm_reg_r16x8, best config', (r) => r.kernel !== 'matmul.wgsl'],
    ["matmul()'s untuned pick", (r) => r.isDefault === true],
  ];
  chartSection(`Prefill projections: tiled kernel vs register-tiled GEMM (${f.name})`,
    `TFLOPS of y = x Wᵀ at Llama 1B / 7B projection shapes, per weight type (f32, f16, q8_0) and M×N×K; ${whereOf(f.doc)}.`,
    `chart-gemm-prefill${id}`, {
      type: 'bar',
      data: {
        labels: cases,
        datasets: series.map(([label, pick], i) => ({ label, backgroundColor: colour(i),
          data: cases.map((c) => best(pre.filter((r) => caseOf(r) === c && pick(r)).map((r) => num(r.tflops)))) })),
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'TFLOPS' } } } },
    });
}

function sweepCharts(f: ResultFile, idx: number): void {
  const all = passed(rowsOf(f.doc));
  const id = idx === 0 ? '' : `-${idx}`;
  prefillChart(f, all, id);
  const rows = all.filter((r) => r.phase !== 'prefill');
  if (!rows.length) return;
  const where = whereOf(f.doc);
  // 1) sizes x kernel family, default toggles only (what the app ships with)
  const plain = rows.filter((r) => !r.toggles);
  const shapes = uniq(plain.map(shapeOf)).sort((a, b) => num(parseInt(a)) - num(parseInt(b)) || a.localeCompare(b));
  const families = uniq(plain.map(familyOf)).sort();
  chartSection(`GEMM sweep: best TFLOPS per kernel family (${f.name})`,
    `Best f32 TFLOPS over all tile configs of each WGSL kernel, default Dawn toggles, timestamp-query median, results checked against f64; ${where}. Goal: ${GOAL_TFLOPS} TFLOPS at 4096³.`,
    `chart-gemm-sweep${id}`, {
      type: 'bar',
      data: {
        labels: shapes,
        datasets: [
          ...families.map((fam, i) => ({ label: fam, backgroundColor: colour(i), data: shapes.map((s) => best(plain.filter((r) => familyOf(r) === fam && shapeOf(r) === s).map((r) => num(r.tflops)))) })),
          goalLine(`goal ${GOAL_TFLOPS} TFLOPS`, GOAL_TFLOPS, shapes.length),
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'TFLOPS' } } } },
    });
  // 2) toggle sets x kernel family, at the shapes where toggles were varied
  const toggledShapes = uniq(rows.filter((r) => r.toggles).map(shapeOf));
  if (!toggledShapes.length) return;
  const tog = rows.filter((r) => toggledShapes.includes(shapeOf(r)));
  const toggles = uniq(tog.map((r) => toggleName(r.toggles))).sort((a, b) => (a === 'default toggles' ? -1 : b === 'default toggles' ? 1 : a.length - b.length || a.localeCompare(b)));
  const series = uniq(tog.map((r) => `${familyOf(r)} ${shapeOf(r)}`)).sort();
  chartSection(`GEMM sweep: Dawn toggles (${f.name})`,
    `Best f32 TFLOPS per Dawn toggle set (robustness off etc. are diagnostics, not shippable in a browser); ${where}. Goal: ${GOAL_TFLOPS} TFLOPS.`,
    `chart-gemm-toggles${id}`, {
      type: 'bar',
      data: {
        labels: toggles.map((t) => t.split(',')), // multi-line tick labels for combined toggle sets
        datasets: [
          ...series.map((s, i) => ({ label: s, backgroundColor: colour(i), data: toggles.map((t) => best(tog.filter((r) => `${familyOf(r)} ${shapeOf(r)}` === s && toggleName(r.toggles) === t).map((r) => num(r.tflops)))) })),
          goalLine(`goal ${GOAL_TFLOPS} TFLOPS`, GOAL_TFLOPS, toggles.length),
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'TFLOPS' } } } },
    });
}

/** One pair of charts per gemm-sweep file, newest first (a sweep is a day's tuning state). */
export function gemmSweepCharts(): void {
  filesWith('gemm-sweep-').reverse().forEach((f, i) => sweepCharts(f, i));
}

/** The older gpu-kernels-*.json matmul rows (kernels of 2026-11-27, incl. the baseline matmul.wgsl). */
export function gpuKernelsMatmulChart(): void {
  const docs = filesWith('gpu-kernels-');
  const rows = docs.flatMap((f) => rowsOf(f.doc, 'gemm').map((r): Json => ({ ...r, toggles: f.doc.toggles })));
  if (!rows.length) return;
  const sizes = uniq(rows.map(shapeOf));
  const variantOf = (r: Json): string => `${str(r.kernel)}${r.toggles ? ` (${str(r.toggles)})` : ''}`;
  const variants = uniq(rows.map(variantOf));
  chartSection('Matmul (f32 GEMM), gpu-kernels runs', `TFLOPS per kernel variant and size from bench/gpu-kernels (Node + Dawn), ${uniq(docs.map((f) => whereOf(f.doc))).join('; ')}. Goal: ${GOAL_TFLOPS} TFLOPS at 4096³.`, 'chart-matmul', {
    type: 'bar',
    data: {
      labels: sizes,
      datasets: [
        ...variants.map((v, i) => ({ label: v, backgroundColor: colour(i), data: sizes.map((s) => best(rows.filter((r) => shapeOf(r) === s && variantOf(r) === v).map((r) => num(r.tflops)))) })),
        goalLine(`goal ${GOAL_TFLOPS} TFLOPS`, GOAL_TFLOPS, sizes.length),
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'TFLOPS' } } } },
  });
}

/** gemm50 / gemm50b (issue 7 f32 push at 4096³): TFLOPS of every row (baseline, sweep, repeats), one chart per file. */
export function gemm50Charts(): void {
  const files = [...filesWith('gemm50-'), ...filesWith('gemm50b-')].sort((a, b) => str(b.doc.date, b.name).localeCompare(str(a.doc.date, a.name)));
  files.forEach((f, idx) => {
    const rows = rowsOf(f.doc);
    if (!rows.length) return;
    const goal = Number.isFinite(num(f.doc.goalTflops)) ? num(f.doc.goalTflops) : GOAL_TFLOPS;
    const shape = Array.isArray(f.doc.shape) ? (f.doc.shape as unknown[]).map(String).join('×') : '4096×4096×4096';
    const kernels = uniq(rows.map(familyOf));
    const good = (r: Json): boolean => r.ok !== false && Number.isFinite(num(r.tflops));
    chartSection(`f32 GEMM ${shape}: TFLOPS per config (${f.name})`,
      `f32 TFLOPS of each kernel / tile config at ${shape} (baseline = the best kernel before this run, repeated at the end as the same-run reference), results checked against f64; ${whereOf(f.doc)}. Goal: ${goal} TFLOPS.`,
      `chart-gemm50${idx ? `-${idx}` : ''}`, {
        type: 'bar',
        data: {
          // multi-line tick: phase and layout, then the config label (a failed row says so)
          labels: rows.map((r) => [`${str(r.phase)} ${str(r.layout, '')}`.trim(), `${str(r.label)}${good(r) ? '' : ' (failed)'}`]),
          datasets: [
            ...kernels.map((k, i) => ({ label: k, backgroundColor: colour(i), data: rows.map((r) => (familyOf(r) === k && good(r) ? num(r.tflops) : null)) })),
            goalLine(`goal ${goal} TFLOPS`, goal, rows.length),
          ],
        },
        options: { skipNull: true, scales: { y: { beginAtZero: true, title: { display: true, text: 'TFLOPS (f32)' } } } },
      });
  });
}

/** int8 GEMM on the tensor cores (chromium-experimental-subgroup-matrix): TOPS per check / timing row, newest file. */
export function gemmSubgroupMatrixChart(): void {
  const f = newest('gemm-subgroup-matrix-');
  if (!f) return;
  const rows = rowsOf(f.doc).filter((r) => Number.isFinite(num(r.tops)));
  if (!rows.length) return;
  const exact = (r: Json): boolean => r.ok === true;
  // the f32 reference: the best checked row of the gemm50 runs (same 4096³ shape class, same machine kind)
  const f32Best = best([...filesWith('gemm50-'), ...filesWith('gemm50b-')].flatMap((x) => rowsOf(x.doc)).filter((r) => r.ok !== false).map((r) => num(r.tflops))) ?? NaN;
  chartSection(`int8 GEMM via subgroup matrix: TOPS (${f.name})`,
    `int8 inputs with exact i32 sums (TOPS, not the f32 GEMM's TFLOPS) through chromium-experimental-subgroup-matrix, checked exactly against the CPU; ${whereOf(f.doc)}; no fixed goal${Number.isFinite(f32Best) ? `, the best f32 GEMM (${f32Best.toFixed(1)} TFLOPS) dashed for scale` : ''}.`,
    'chart-gemm-subgroup-matrix', {
      type: 'bar',
      data: {
        // the kernel (direct or a tiled config; older files have one kernel and no field) names the bar first
        labels: rows.map((r) => [...(r.kernel ? [str(r.kernel)] : []), `${str(r.phase)} ${str(r.M)}×${str(r.N)}×${str(r.K)}`, `load unit ${str(r.unit)}`]),
        datasets: [
          { label: 'exact (max abs err 0)', backgroundColor: colour(2), data: rows.map((r) => (exact(r) ? num(r.tops) : null)) },
          { label: 'wrong result', backgroundColor: colour(1), data: rows.map((r) => (exact(r) ? null : num(r.tops))) },
          ...(Number.isFinite(f32Best) ? [goalLine(`best f32 GEMM (gemm50 runs), TFLOPS`, f32Best, rows.length)] : []),
        ],
      },
      options: { skipNull: true, scales: { y: { beginAtZero: true, title: { display: true, text: 'TOPS (int8) / TFLOPS (f32 line)' } } } },
    });
}

/** Our 4096^3 f32 GEMM beside the vendor's (cuBLAS through torch.matmul, TF32 off: gemm-cublas-*.json) and the
 *  FP32 peak at the SM clock nvidia-smi saw during it (gemm-clock-*.json), per GPU and date. */
export function gemmVendorChart(): void {
  const clocks = filesWith('gemm-clock-');
  if (!clocks.length) return;
  const cublas = filesWith('gemm-cublas-');
  const labels = clocks.map((f) => [str(f.doc.gpu, f.name), str(f.doc.date, '').slice(0, 10)]);
  const vendor = (f: ResultFile): number | null => {
    const c = cublas.find((x) => str(x.doc.gpu) === str(f.doc.gpu) && str(x.doc.date).slice(0, 10) === str(f.doc.date).slice(0, 10));
    const row = c ? rowsOf(c.doc).find((r) => num(r.n) === 4096) : undefined;
    return row ? num(row.tflops) : null;
  };
  chartSection('f32 GEMM 4096³: WGSL vs cuBLAS vs the peak at the measured clock',
    `Our gemm_reg_r16x8 (bench/gemm-clock.ts, timestamp queries, nvidia-smi sampling the SM clock) beside torch.matmul = cuBLAS with TF32 off (bench/cublas-sgemm.py) on the same GPU the same day, and the FP32 peak at the clock measured under load. Goal: ${GOAL_TFLOPS} TFLOPS.`,
    'chart-gemm-vendor', {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'WGSL (Dawn)', backgroundColor: colour(0), data: clocks.map((f) => num(f.doc.tflops)) },
          { label: 'cuBLAS (torch.matmul, TF32 off)', backgroundColor: colour(1), data: clocks.map(vendor) },
          { label: 'FP32 peak at the measured SM clock', backgroundColor: colour(7), data: clocks.map((f) => (f.doc.peak_tflops_at_load_clock == null ? null : num(f.doc.peak_tflops_at_load_clock))) },
          goalLine(`goal ${GOAL_TFLOPS} TFLOPS`, GOAL_TFLOPS, clocks.length),
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'TFLOPS' } } } },
    });
}
