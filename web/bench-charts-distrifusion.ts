// DistriFusion charts: step time per sync mode (bench/results/distrifusion-speed-*.json, the newest file with
// a single-device row)
// and image quality against the single device (distrifusion-quality-*.json, one chart per file).
import { chartSection, colour, dateOf, filesWith, newest, num, rowsOf, str, uniq, val, whereOf, type Json, type ResultFile } from './bench-charts-common';

// n=1 rows are the single device; no_sync at n>1 skips every exchange, i.e. the ideal split.
const MODE_ORDER = ['single', 'full_sync', 'sync_gn', 'corrected_async_gn', 'stale_gn', 'no_sync'];
// An async mode run with a non-default wire format (comm_dtype, e.g. i8) is its own bar beside the f16 one.
const modeOf = (r: Json): string => {
  if (num(r.n) === 1) return 'single';
  const wire = typeof r.comm_dtype === 'string' && r.comm_dtype !== 'f16' && r.mode !== 'full_sync' && r.mode !== 'ideal_async' && r.mode !== 'no_sync';
  return wire ? `${str(r.mode)} (${str(r.comm_dtype)} wire)` : str(r.mode);
};
const modeLabel = (m: string): string => (m === 'no_sync' ? 'no_sync (ideal)' : m);
const modeRank = (m: string): number => {
  const base = m.split(' (')[0];
  return MODE_ORDER.includes(base) ? MODE_ORDER.indexOf(base) + (base === m ? 0 : 0.5) : MODE_ORDER.length;
};

/** Per image size: step ms per mode and N, stacked compute + comm wait (the slowest peer's). */
export function distrifusionSpeedCharts(): void {
  // The newest run that has its single-device baseline (a transport A/B run may time only N > 1 cases).
  const byDate = filesWith('distrifusion-speed-').sort((a, b) => dateOf(a).localeCompare(dateOf(b)) || a.name.localeCompare(b.name));
  const f = byDate.filter((x) => rowsOf(x.doc).some((r) => num(r.n) === 1)).pop() ?? newest('distrifusion-speed-');
  if (!f) return;
  const rows = rowsOf(f.doc);
  const others = filesWith('distrifusion-speed-').filter((x) => x !== f).map((x) => x.name);
  for (const px of uniq(rows.map((r) => num(r.px))).sort((a, b) => a - b)) {
    const mine = rows.filter((r) => num(r.px) === px);
    const ns = uniq(mine.map((r) => num(r.n))).sort((a, b) => a - b);
    const modes = uniq(mine.map(modeOf)).sort((a, b) => modeRank(a) - modeRank(b));
    const at = (n: number, m: string): Json | undefined => mine.find((r) => num(r.n) === n && modeOf(r) === m);
    // older files may lack the split: then the whole step_ms is drawn as one segment
    const hasSplit = mine.some((r) => typeof r.compute_ms === 'number');
    const datasets = modes.flatMap((m, i) => hasSplit
      ? [
          { label: `${modeLabel(m)}: compute`, stack: m, backgroundColor: colour(i), data: ns.map((n) => val(at(n, m)?.compute_ms)) },
          { label: `${modeLabel(m)}: comm wait`, stack: m, backgroundColor: `${colour(i)}66`, borderColor: colour(i), borderWidth: 1, data: ns.map((n) => val(at(n, m)?.comm_wait_ms)) },
        ]
      : [{ label: modeLabel(m), stack: m, backgroundColor: colour(i), data: ns.map((n) => val(at(n, m)?.step_ms)) }]);
    const bytes = mine.map((r) => num(r.bytes_per_step_per_peer)).filter((b) => b > 0);
    chartSection(`DistriFusion step time: ${str(mine[0]?.model, `${px}px`)} (${f.name})`,
      `Median ms per denoising step (${str(f.doc.sampler, 'sampler')}, ${str(f.doc.steps)} steps, warmup ${str(f.doc.warmup)}) of the slowest peer, compute + waiting on the exchange, over ${str(f.doc.transport, 'the transport').split(' (')[0]}; ${whereOf(f.doc)}${bytes.length ? `; up to ${(Math.max(...bytes) / 1e6).toFixed(1)} MB/step/peer` : ''}. Goal: patch-parallel steps near no_sync (the ideal).${others.length ? ` Older: ${others.join(', ')}.` : ''}`,
      `chart-distrifusion-speed-${px}`, {
        type: 'bar',
        data: { labels: ns.map((n) => (n === 1 ? '1 device' : `${n} peers`)), datasets },
        options: { skipNull: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'ms per step' } } } },
      });
  }
}

/** The file's setting for its title: model, steps, warmup, guidance. */
function settingOf(f: ResultFile): string {
  const d = f.doc;
  const g = Array.isArray(d.guidance) ? (d.guidance as unknown[]).join('/') : d.guidance;
  return [str(d.model, f.name).replace(/ \(.*\)$/, ''), d.steps !== undefined ? `${str(d.steps)} steps` : str(d.sampler, ''), d.warmupSteps !== undefined ? `warmup ${str(d.warmupSteps)}` : '', g !== undefined ? `guidance ${str(g)}` : ''].filter(Boolean).join(', ');
}

/** Mean PSNR of the patch-parallel image vs the single-device image, one chart per file. */
export function distrifusionQualityCharts(): void {
  filesWith('distrifusion-quality-').forEach((f, idx) => {
    const summary = rowsOf(f.doc, 'summary');
    if (!summary.length) return;
    const modes = uniq(summary.map((r) => str(r.mode))).sort((a, b) => modeRank(a) - modeRank(b));
    const ns = uniq(summary.map((r) => num(r.n))).sort((a, b) => a - b);
    const where = typeof f.doc.device === 'string' ? `${f.doc.device}${f.doc.backend ? `, ${str(f.doc.backend)}` : ''}` : whereOf(f.doc);
    chartSection(`DistriFusion quality: ${settingOf(f)}`,
      `Mean PSNR (dB) of the patch-parallel image against the single-device image of the same seed, ${str(summary[0]?.seeds)} seeds, ${str(f.doc.sampler, '')}; ${where} (${f.name}). Higher is closer; no_sync is the no-exchange floor.`,
      idx === 0 ? 'chart-distrifusion' : `chart-distrifusion-${idx}`, {
        type: 'bar',
        data: { labels: modes, datasets: ns.map((n, i) => ({ label: `${n} peers`, backgroundColor: colour(i), data: modes.map((m) => val(summary.find((r) => r.mode === m && num(r.n) === n)?.psnrMean)) })) },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'PSNR dB' } } } },
      });
  });
}

/**
 * U-Net kernels A/B (bench/unet-kernels.ts -> unet-kernels-*.json, the newest file): the widened
 * U-Net's whole forward per conv x attention kernel pair, and each op's TFLOPS per kernel.
 */
export function unetKernelsCharts(): void {
  const f = newest('unet-kernels-');
  if (!f) return;
  const fwd = rowsOf(f.doc, 'forward');
  const where = `${whereOf(f.doc)}, ${str(f.doc.px)} px, width ${str(f.doc.width)} (${f.name})`;
  if (fwd.length) {
    chartSection('U-Net forward per kernel pair', `Median ms of one widened U-Net forward (the N = 1 DistriFusion step's compute), conv kernel + attention kernel, rounds interleaved in one process; ${where}. Lower is better.`,
      'chart-unet-forward', {
        type: 'bar',
        data: { labels: fwd.map((r) => str(r.variant)), datasets: [{ label: 'ms per forward', backgroundColor: fwd.map((_, i) => colour(i)), data: fwd.map((r) => val(r.ms)) }] },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'ms' } } } },
      });
  }
  const ops = rowsOf(f.doc, 'ops');
  if (!ops.length) return;
  const cases = uniq(ops.map((r) => `${str(r.op)} ${str(r.shape)}`));
  // 'gemm (gemm64)' and 'gemm64' are one kernel: a series per kernel name with the pick's suffix dropped
  const kernels = uniq(ops.map((r) => str(r.kernel).replace(/ \(.*\)$/, '')));
  chartSection('U-Net ops: TFLOPS per kernel', `2 x MACs / time per call of each conv (3x3) and attention shape of the widened U-Net, old kernels (direct, online) against new (implicit GEMM tiles, flash); ${where}.`,
    'chart-unet-ops', {
      type: 'bar',
      data: {
        labels: cases,
        datasets: kernels.map((k, i) => ({
          label: k, backgroundColor: colour(i),
          data: cases.map((c) => val(ops.find((r) => `${str(r.op)} ${str(r.shape)}` === c && str(r.kernel).replace(/ \(.*\)$/, '') === k)?.tflops)),
        })),
      },
      options: { skipNull: true, scales: { y: { beginAtZero: true, title: { display: true, text: 'TFLOPS' } } } },
    });
}

/** A results file's label part: 'distrifusion-kernels-ab-new-nvidia-h200-2026-11-29' -> 'ab-new' (the bench's LABEL). */
const labelOf = (f: { name: string }, prefix: string): string => f.name.slice(prefix.length).replace(/-?nvidia.*$|-?\d{4}-\d\d-\d\d.*$/, '') || 'run';

/**
 * Where a U-Net step's time goes (bench/unet-forward-profile.ts, bench/distrifusion-kernels.ts): the single
 * forward's host encode time against its GPU time, and a DistriFusion peer's GPU work and dispatches per step
 * by N, one series per run (the A/B runs' labels say which build).
 */
export function unetStepProfileCharts(): void {
  const fwd = filesWith('unet-forward-profile-');
  const labels: string[] = [];
  const wall: (number | null)[] = [], encode: (number | null)[] = [], busy: (number | null)[] = [];
  for (const f of fwd) {
    const rows = rowsOf(f.doc);
    for (const px of uniq(rows.map((r) => num(r.px)))) {
      const host = rows.find((r) => num(r.px) === px && r.mode === 'host');
      const gpu = rows.find((r) => num(r.px) === px && r.mode === 'gpu');
      if (!host) continue;
      labels.push(`${labelOf(f, 'unet-forward-profile-')} ${px} px`);
      wall.push(val(host.wallMs));
      encode.push(val(host.encodeMs));
      busy.push(val(gpu?.gpuBusyMs));
    }
  }
  if (labels.length) {
    chartSection('U-Net forward: host encode vs GPU', `One widened U-Net forward per run and size: wall ms, the host's encode time (wall minus the read-back wait: JS, Dawn calls and submits) and the GPU's busy time from pass timestamps; ${uniq(fwd.map((f) => whereOf(f.doc))).join('; ')}. When encode nears the GPU time, fewer dispatches pay more than faster kernels.`,
      'chart-unet-forward-profile', {
        type: 'bar',
        data: {
          labels,
          datasets: [
            { label: 'wall ms', backgroundColor: colour(0), data: wall },
            { label: 'host encode ms', backgroundColor: colour(1), data: encode },
            { label: 'GPU busy ms', backgroundColor: colour(2), data: busy },
          ],
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'ms' } } } },
      });
  }
  const dk = filesWith('distrifusion-kernels-');
  const ns = uniq(dk.flatMap((f) => rowsOf(f.doc, 'totals').map((r) => num(r.n)))).sort((a, b) => a - b);
  if (!ns.length) return;
  for (const [key, title, unit] of [['gpuMsPerRankStep', 'GPU ms', 'ms'], ['dispatchesPerRankStep', 'dispatches', 'dispatches']] as const) {
    chartSection(`DistriFusion peer step: ${title} by N`, `Per peer and async step of corrected_async_gn at 1024 px with the exchange off (N = 1: the single device), every peer in one process on one GPU, a timed pass per dispatch (bench/distrifusion-kernels.ts); ${uniq(dk.map((f) => whereOf(f.doc))).join('; ')}. The GPU work should fall as 1/N; what stays is per-peer overhead.`,
      `chart-distrifusion-kernels-${unit}`, {
        type: 'bar',
        data: {
          labels: ns.map((n) => `N = ${n}`),
          datasets: dk.map((f, i) => ({ label: labelOf(f, 'distrifusion-kernels-'), backgroundColor: colour(i), data: ns.map((n) => val(rowsOf(f.doc, 'totals').find((r) => num(r.n) === n)?.[key])) })),
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: unit } } } },
      });
  }
}
