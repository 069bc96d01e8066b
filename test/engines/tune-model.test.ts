// Load-time kernel tuning and its persistent stores: tuneModel() times every projection shape once per
// prompt class, a second "load" with a fresh store over the same file finds every entry cached (no
// timing), and matmulChoice() then runs the stored winner. Software adapters are skipped unless forced
// (lavapipe is one: tests force it, with small candidates lavapipe compiles quickly).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryTuneCache, defaultTuneCache, installTuneCache, tuneKey } from '../../src/kernels/autotune';
import type { GemmRegConfig } from '../../src/kernels/gemm-reg';
import { matmulChoice, matmulShapeKey, type MatmulChoice } from '../../src/kernels/matmul';
import { tuneModel } from '../../src/engines/tune-model';
import { fileTuneCache } from '../../src/engines/tune-store.node';
import { openIdbTuneCache } from '../../src/engines/tune-store';
import { testGpu } from '../helpers/gpu';

const SMALL: GemmRegConfig = { wgX: 8, wgY: 4, tm: 16, tn: 8, bk: 8, stages: 1, warpX: 8, groupM: 0, regs: true };
const CANDIDATES: MatmulChoice[] = [{ tiled: true }, { reg: SMALL }];
const SHAPES = [{ N: 64, K: 32, type: 'f32' as const }, { N: 128, K: 64, type: 'f16' as const }, { N: 64, K: 64, type: 'q8_0' as const }];
const tmp = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tabmesh-tune-')), 'tune.json');

describe('tuneModel + persistent tuning stores', () => {
  it('skips software adapters unless forced', async () => {
    const gpu = await testGpu();
    const s = await tuneModel(gpu, SHAPES, { cache: new MemoryTuneCache() });
    expect(s.tuned + s.cached).toBe(0);
    expect(s.skipped).toMatch(/software adapter/);
  });

  it('tunes each shape (f32, f16, q8_0) per prompt class once; a reload over the same file finds them all', async () => {
    const gpu = await testGpu();
    const file = tmp();
    const first = await tuneModel(gpu, SHAPES, { cache: fileTuneCache(file), force: true, promptClasses: [64], candidates: CANDIDATES });
    expect(first).toMatchObject({ shapes: 3, tuned: 3, cached: 0 }); // q8_0 chooses too (the GEMM reads it)
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
    const key = tuneKey(gpu.report, matmulShapeKey(64, 128, 64, 'f16'));
    expect(Object.keys(saved)).toContain(key);
    expect(Object.keys(saved)).toContain(tuneKey(gpu.report, matmulShapeKey(64, 64, 64, 'q8_0')));
    const winner = JSON.parse(saved[key]) as MatmulChoice;
    expect(CANDIDATES).toContainEqual(winner);

    const reload = fileTuneCache(file); // a new process reading the file
    const second = await tuneModel(gpu, SHAPES, { cache: reload, force: true, promptClasses: [64], candidates: CANDIDATES });
    expect(second).toMatchObject({ shapes: 3, tuned: 0, cached: 3 });
    expect(matmulChoice(gpu, 40, 128, 64, 'f16', reload)).toEqual(winner); // M 40 is in the 64 class
  }, 600_000);

  it('the budget caps tuning: the rest keep the untuned rule', async () => {
    const gpu = await testGpu();
    const s = await tuneModel(gpu, SHAPES, { cache: new MemoryTuneCache(), force: true, budgetMs: 0, promptClasses: [64], candidates: CANDIDATES });
    expect(s.tuned + s.cached).toBe(0);
    expect(s.skipped).toMatch(/budget/);
  });

  it('a malformed cache file is reported and replaced, never fatal', () => {
    const file = tmp();
    fs.writeFileSync(file, '{"half": ');
    const warnings: string[] = [];
    const c = fileTuneCache(file, (m) => warnings.push(m));
    expect(warnings.join()).toMatch(/tune\.json.*starting empty/);
    expect(c.get('x')).toBeUndefined();
    c.set('k', '{"tiled":true}');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ k: '{"tiled":true}' });
  });

  it('without IndexedDB (Node) the worker store is memory-only; an installed cache becomes the default', async () => {
    const { cache, persistent } = await openIdbTuneCache(undefined);
    expect(persistent).toBe(false);
    cache.set('a', 'b');
    installTuneCache(cache);
    try {
      expect(defaultTuneCache().get('a')).toBe('b');
    } finally {
      installTuneCache(null);
    }
    expect(defaultTuneCache().get('a')).toBeUndefined();
  });
});
