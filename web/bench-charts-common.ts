// Shared pieces of the benchmark page (web/bench.ts and web/bench-charts-*.ts): the committed
// result files (bundled by Vite's import.meta.glob, so the page needs no server route), chart.js
// registration, one chart section (title, one-line note, canvas with a data-testid) and helpers
// that read fields defensively: files from older runs lack fields newer runs write.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Title, Tooltip, type ChartConfiguration, type ChartType } from 'chart.js';
import { el, showAlert } from './ui';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, LineController, LineElement, PointElement, Legend, Title, Tooltip);

export type Json = Record<string, unknown>;
export interface ResultFile { name: string; doc: Json }

const files = import.meta.glob('../bench/results/*.json', { eager: true, import: 'default' }) as Record<string, Json>;
export const byName: ResultFile[] = Object.entries(files)
  .map(([path, doc]) => ({ name: path.split('/').pop()!.replace(/\.json$/, ''), doc }))
  .sort((a, b) => a.name.localeCompare(b.name));
export const COLOURS = ['#3b82f6', '#ef4444', '#22c55e', '#eab308', '#a855f7', '#14b8a6', '#f97316', '#ec4899', '#64748b', '#0ea5e9', '#84cc16', '#6366f1'];
export const colour = (i: number): string => COLOURS[i % COLOURS.length];

const app = (): HTMLElement => document.getElementById('app')!;

/** One chart: a section with its title, a one-line note (what, where, goal) and the canvas. */
export function chartSection<T extends ChartType>(title: string, note: string, testId: string, config: ChartConfiguration<T>): void {
  const canvas = el('canvas', { 'data-testid': testId });
  app().append(el('section', { 'data-testid': `section-${testId}` }, el('h2', {}, title), el('p', { class: 'muted' }, note), el('div', { style: 'position:relative;max-width:960px' }, canvas)));
  new Chart(canvas, config);
}

/** Runs one chart group; a malformed file shows an alert instead of blanking the rest of the page. */
export function guarded(what: string, build: () => void): void {
  try {
    build();
  } catch (e) {
    showAlert(`bench page: could not chart ${what}: ${e instanceof Error ? e.message : String(e)}`, 'error', 'bench-chart-error');
  }
}

export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
/** A number for chart.js, or null (a gap) when the field is missing. */
export const val = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const best = (xs: number[]): number | null => {
  const ok = xs.filter((x) => Number.isFinite(x));
  return ok.length ? Math.max(...ok) : null;
};
export const rowsOf = (doc: Json, key = 'rows'): Json[] => (Array.isArray(doc[key]) ? (doc[key] as unknown[]).filter((r): r is Json => typeof r === 'object' && r !== null) : []);
export const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
export const str = (v: unknown, fallback = '?'): string => (v === undefined || v === null || v === '' ? fallback : String(v));

/** The files whose name starts with `prefix`. */
export const filesWith = (prefix: string): ResultFile[] => byName.filter((f) => f.name.startsWith(prefix));

/** When a file was measured: its `date` field (ISO or YYYY-MM-DD), else the date in its name. */
export function dateOf(f: ResultFile): string {
  if (typeof f.doc.date === 'string' && f.doc.date) return f.doc.date;
  return /(\d{4}-\d{2}-\d{2})$/.exec(f.name)?.[1] ?? '';
}

/** The newest file with this prefix (by `date`, ties broken by name), or undefined. */
export function newest(prefix: string): ResultFile | undefined {
  return filesWith(prefix).sort((a, b) => dateOf(a).localeCompare(dateOf(b)) || a.name.localeCompare(b.name)).pop();
}

export function adapterName(d: Json): string {
  const m = d.machine as Json | undefined;
  const a = d.adapter as Json | string | undefined;
  if (typeof a === 'string') return a;
  return String(m?.gpu ?? a?.device ?? a?.description ?? a?.vendor ?? d.device ?? '?').split(/[,\n]/)[0];
}

/** "where": the adapter and the machine a file was measured on, as far as the file says. */
export function whereOf(d: Json): string {
  const m = (typeof d.machine === 'object' && d.machine !== null ? d.machine : {}) as Json;
  const parts = [adapterName(d)];
  if (typeof d.machine === 'string') parts.push(d.machine);
  if (typeof m.gpus === 'number') parts.push(`${m.gpus} GPUs`);
  if (typeof m.cpus === 'number') parts.push(`${m.cpus}-core ${str(m.cpu, 'CPU')}`);
  if (typeof d.browser === 'string') parts.push(`Chromium ${d.browser}`);
  return parts.filter((p) => p && p !== '?').join(', ') || 'unknown machine';
}

/** A dashed horizontal goal line across every label, as a line dataset of a bar chart. */
export function goalLine(label: string, value: number, n: number): never {
  return { label, type: 'line', data: Array.from({ length: n }, () => value), borderColor: '#111', borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, fill: false } as never;
}
