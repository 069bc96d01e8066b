// The benchmark page (web/bench.html): every chart of the committed bench/results/*.json renders
// (canvas present with a non-zero drawn size), with no page error, console error or chart alert.
// The expected charts come from the result files on disk, so a new result family without a chart,
// or a chart that throws on a file, fails here.
import { expect, test } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';

const results = path.resolve(process.cwd(), 'bench/results');
const names = fs.readdirSync(results).filter((n) => n.endsWith('.json'));
const count = (prefix: string): number => names.filter((n) => n.startsWith(prefix)).length;
const read = (n: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(results, n), 'utf8')) as Record<string, unknown>;
const rowsIn = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as Record<string, unknown>[]) : []);
/** multi-gpu files with a decode split per all-reduce point at tp>1 (one chart each). */
const pointFiles = names.filter((n) => n.startsWith('multi-gpu-') && rowsIn(read(n).rows).some((r) => Number(r.tp) > 1 &&
  rowsIn((r.points as { decode?: unknown } | null | undefined)?.decode).some((p) => Number(p.points_per_step) > 0))).length;

test('bench page draws every chart without errors', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  // a failed load logs a console error without the URL: record the URL, and let the browser's own
  // favicon probe (the page declares no icon) pass
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`); });
  await page.goto('/bench.html');
  await expect(page.locator('h2', { hasText: 'Files' })).toBeVisible();

  // chart ids the page must show for the files committed now (one per family, more per file where the page does so)
  const expected: string[] = ['chart-gemv', 'chart-llm-decode', 'chart-llm-prefill'];
  if (count('gemm-sweep-')) expected.push('chart-gemm-sweep');
  const gemm50 = names.filter((n) => (n.startsWith('gemm50-') || n.startsWith('gemm50b-')) && rowsIn(read(n).rows).length).length;
  for (let i = 0; i < gemm50; i++) expected.push(i === 0 ? 'chart-gemm50' : `chart-gemm50-${i}`);
  if (names.some((n) => n.startsWith('gemm-subgroup-matrix-') && rowsIn(read(n).rows).some((r) => typeof r.tops === 'number'))) expected.push('chart-gemm-subgroup-matrix');
  if (count('attention-decode-')) expected.push('chart-attention-decode');
  if (count('gemm-clock-')) expected.push('chart-gemm-vendor');
  if (count('tune-load-')) expected.push('chart-tune-load');
  if (names.some((n) => n.startsWith('multi-gpu-') && rowsIn((read(n).data_parallel as { rows?: unknown } | null)?.rows).length)) expected.push('chart-data-parallel');
  for (let i = 0; i < pointFiles; i++) expected.push(i === 0 ? 'chart-tp-points' : `chart-tp-points-${i}`);
  if (names.some((n) => n.startsWith('gpu-kernels-') && rowsIn(read(n).gemm).length)) expected.push('chart-matmul');
  // the mode chart needs a profile comparing modes (a per-kernel run may have one mode only)
  if (names.some((n) => n.startsWith('llm-decode-profile-') && new Set(rowsIn(read(n).rows).map((r) => r.mode)).size > 1)) expected.push('chart-decode-profile');
  const kernelProfiles = names.filter((n) => n.startsWith('llm-decode-profile-') && rowsIn((read(n).kernels as { rows?: unknown } | undefined)?.rows).length).length;
  for (let i = 0; i < kernelProfiles; i++) expected.push(`chart-decode-kernels-${i}`);
  if (count('ort-webgpu-gpu-')) expected.push('chart-ort-webgpu');
  if (count('llm-wllama-')) expected.push('chart-wllama');
  const quality = count('distrifusion-quality-');
  for (let i = 0; i < quality; i++) expected.push(i === 0 ? 'chart-distrifusion' : `chart-distrifusion-${i}`);
  if (count('unet-kernels-')) expected.push('chart-unet-forward', 'chart-unet-ops');
  if (count('unet-forward-profile-')) expected.push('chart-unet-forward-profile');
  if (count('distrifusion-kernels-')) expected.push('chart-distrifusion-kernels-ms', 'chart-distrifusion-kernels-dispatches');
  if (count('llm-gpu-attn-ab-')) expected.push('chart-llm-long-context-decode');
  if (count('llm-gpu-prompt-len-')) expected.push('chart-llm-prefill-prompt-len');
  for (const id of expected) {
    const canvas = page.getByTestId(id);
    await expect(canvas, id).toHaveCount(1);
    const box = await canvas.boundingBox();
    expect(box?.width ?? 0, `${id} width`).toBeGreaterThan(50);
    expect(box?.height ?? 0, `${id} height`).toBeGreaterThan(50);
  }
  if (count('distrifusion-speed-')) expect(await page.locator('canvas[data-testid^="chart-distrifusion-speed-"]').count()).toBeGreaterThan(0);
  if (names.some((n) => n.startsWith('gemm-sweep-') && rowsIn(read(n).rows).some((r) => r.phase === 'prefill'))) {
    expect(await page.locator('canvas[data-testid^="chart-gemm-prefill"]').count()).toBeGreaterThan(0);
  }

  // every canvas on the page (incl. the per-file ones not listed above) has a drawn size and a test id
  const canvases = await page.locator('canvas').evaluateAll((cs) => cs.map((c) => ({ id: c.getAttribute('data-testid'), w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height })));
  expect(canvases.length).toBeGreaterThanOrEqual(expected.length);
  for (const c of canvases) {
    expect(c.id, 'canvas without data-testid').toBeTruthy();
    expect(c.w * c.h, `${c.id} drawn size`).toBeGreaterThan(0);
  }
  // chart sections carry a title and a one-line note
  expect(await page.locator('section:has(canvas) h2').count()).toBe(canvases.length);
  expect(await page.locator('section:has(canvas) p.muted').count()).toBe(canvases.length);
  await expect(page.getByTestId('bench-chart-error')).toHaveCount(0);
  expect(errors).toEqual([]);
});
