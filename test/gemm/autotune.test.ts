import { describe, expect, it } from 'vitest';
import { MemoryTuneCache, adapterKey, autotune, tuneKey } from '../../src/kernels/autotune';

const report = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' };

describe('autotune', () => {
  it('keys the cache by adapter identity and op', () => {
    expect(adapterKey(report)).toBe('nvidia|hopper|NVIDIA H100');
    expect(adapterKey({ vendor: '', architecture: '', description: 'x' })).toBe('?|?|x');
    expect(tuneKey(report, 'gemm|nn|s12')).toBe('tabmesh.tune.v1|nvidia|hopper|NVIDIA H100|gemm|nn|s12');
  });

  it('picks the fastest working candidate, skips failures, caches by JSON, ignores stale entries', async () => {
    const cache = new MemoryTuneCache({ k: JSON.stringify({ t: 99 }) }); // stale: not a candidate
    const times: Record<number, number> = { 1: 3e-3, 2: 1e-3, 3: 2e-3 };
    const measured: number[] = [];
    const r = await autotune({
      key: 'k',
      cache,
      candidates: [{ t: 1 }, { t: 2 }, { t: 3 }, { t: 4 }],
      measure: async (c) => {
        measured.push(c.t);
        if (c.t === 4) throw new Error('over limits');
        return times[c.t];
      },
    });
    expect(r.best).toEqual({ t: 2 });
    expect(r.cached).toBe(false);
    expect(r.trials.find((t) => t.config.t === 4)?.seconds).toBe(Infinity);
    expect(cache.get('k')).toBe('{"t":2}');
    const again = await autotune({ key: 'k', cache, candidates: [{ t: 1 }, { t: 2 }], measure: async () => 1 });
    expect(again).toEqual({ best: { t: 2 }, cached: true, trials: [] });
    expect(measured).toEqual([1, 2, 3, 4]);
    await expect(autotune({ key: 'z', cache, candidates: [{ t: 1 }], measure: async () => {
      throw new Error('no');
    } })).rejects.toThrow(/every candidate failed/);
  });
});
