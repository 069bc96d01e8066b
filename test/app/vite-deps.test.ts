// Every package the pages and the GPU worker import must be in vite.config.ts's optimizeDeps
// (include, or exclude for packages Vite must leave alone). A package Vite discovers only when a
// page or worker first requests it makes the dev server re-optimize in the middle of a run; with
// HMR off (tests, benches) pages that were loading meanwhile can break (see vite.config.ts).
// Browser-side code is web/, workers/ and src/ minus the Node-only `*.node.ts` files.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import config from '../../vite.config';

const root = path.resolve(__dirname, '../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.ts$/.test(e.name) && !e.name.endsWith('.node.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Bare specifiers of value imports (`import type` is erased, so Vite never requests it). */
function bareImports(src: string): string[] {
  const found: string[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|(?:^|\n)\s*import\s+'([^']+)'/g;
  for (const m of src.matchAll(re)) {
    if (m[2]) continue;
    const spec = m[3] ?? m[4] ?? m[5];
    if (!spec || spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) continue;
    found.push(spec.split('?')[0]);
  }
  return found;
}

describe('vite optimizeDeps', () => {
  it('lists every package the browser-side code imports', () => {
    const deps = config.optimizeDeps ?? {};
    const listed = new Set([...(deps.include ?? []), ...(deps.exclude ?? [])]);
    const files = ['web', 'workers', 'src'].flatMap((d) => sources(path.join(root, d)));
    expect(files.length).toBeGreaterThan(50);
    const missing = new Map<string, string>();
    let seen = 0;
    for (const f of files) {
      for (const spec of bareImports(fs.readFileSync(f, 'utf8'))) {
        seen++;
        if (!listed.has(spec)) missing.set(spec, path.relative(root, f));
      }
    }
    expect(seen).toBeGreaterThan(10); // the scan finds the imports at all
    expect(Object.fromEntries(missing)).toEqual({});
  });

  it('scans the worker entries too (the scan does not follow new Worker(new URL(...)))', () => {
    const entries = [config.optimizeDeps?.entries ?? []].flat();
    expect(entries).toContain('../workers/*.ts');
    expect(fs.existsSync(path.join(root, 'workers/gpu.worker.ts'))).toBe(true);
  });
});
