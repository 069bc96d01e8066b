// A small autotuner for kernel override constants. Every candidate is timed on the user's own adapter
// and the winner is cached under the adapter's identity (vendor | architecture | description) plus an
// op/shape key, so a device pays for tuning once: the host installs a persistent store (IndexedDB in the
// GPU worker, a JSON file for the headless peer; installTuneCache), else localStorage in a page, else a
// plain object the caller may persist (bench/gpu-kernels.ts writes it next to its results).
import type { AdapterReport, Gpu } from '../gpu/gpu';

export interface TuneCache {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

/** In-memory cache, optionally seeded (e.g. from a JSON file); entries() exposes it for saving, and
 *  `onSet` (a persistent store's write-through) runs after every set. */
export class MemoryTuneCache implements TuneCache {
  private map: Map<string, string>;
  constructor(init: Record<string, string> = {}, private readonly onSet?: (key: string, value: string, cache: MemoryTuneCache) => void) {
    this.map = new Map(Object.entries(init));
  }
  get(key: string): string | undefined {
    return this.map.get(key);
  }
  set(key: string, value: string): void {
    this.map.set(key, value);
    this.onSet?.(key, value, this);
  }
  entries(): Record<string, string> {
    return Object.fromEntries(this.map);
  }
}

let installed: TuneCache | null = null;

/**
 * Makes `cache` the default for this realm (null: back to the built-in choice). The host installs its
 * persistent store once at start: the GPU worker an IndexedDB one (workers have no localStorage), the
 * headless Node peer a JSON file (src/engines/tune-store*.ts).
 */
export function installTuneCache(cache: TuneCache | null): void {
  installed = cache;
}

/** The installed cache, else localStorage where it exists (a page), else a process-wide memory cache. */
export function defaultTuneCache(): TuneCache {
  if (installed) return installed;
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (!ls) return processCache;
  return {
    get: (k) => ls.getItem(k) ?? undefined,
    set: (k, v) => {
      try {
        ls.setItem(k, v);
      } catch {
        // quota or privacy mode: tuning simply repeats next session
      }
    },
  };
}
const processCache = new MemoryTuneCache();

/** The adapter's identity for cache keys: the same GPU model and driver family share a tuning. */
export function adapterKey(report: Pick<AdapterReport, 'vendor' | 'architecture' | 'description'>): string {
  return [report.vendor, report.architecture, report.description].map((s) => s || '?').join('|');
}

export function tuneKey(report: Pick<AdapterReport, 'vendor' | 'architecture' | 'description'>, op: string): string {
  return `tabmesh.tune.v1|${adapterKey(report)}|${op}`;
}

export interface TuneTrial<C> {
  config: C;
  seconds: number; // time of one dispatch; Infinity if the candidate failed
  error?: string;
}

export interface TuneResult<C> {
  best: C;
  cached: boolean;
  trials: TuneTrial<C>[]; // empty when cached
}

/** The cached winner for `key` if it is still among `candidates` (lets a caller skip building test data). */
export function cachedWinner<C>(cache: TuneCache, key: string, candidates: C[]): C | undefined {
  const hit = cache.get(key);
  return hit ? candidates.find((c) => JSON.stringify(c) === hit) : undefined;
}

/**
 * Returns the cached winner for `key`, or times every candidate with `measure` (seconds per dispatch;
 * may throw, e.g. a config over the adapter's limits) and caches the fastest. The cached value is the
 * config's JSON; a cached config that is not among the candidates any more is ignored.
 */
export async function autotune<C>(opts: {
  key: string;
  candidates: C[];
  measure: (config: C) => Promise<number>;
  cache?: TuneCache;
}): Promise<TuneResult<C>> {
  const cache = opts.cache ?? defaultTuneCache();
  const found = cachedWinner(cache, opts.key, opts.candidates);
  if (found) return { best: found, cached: true, trials: [] };
  const trials: TuneTrial<C>[] = [];
  for (const config of opts.candidates) {
    try {
      trials.push({ config, seconds: await opts.measure(config) });
    } catch (e) {
      trials.push({ config, seconds: Infinity, error: String(e) });
    }
  }
  const ok = trials.filter((t) => Number.isFinite(t.seconds));
  if (ok.length === 0) throw new Error(`autotune(${opts.key}): every candidate failed: ${trials[0]?.error}`);
  const best = ok.reduce((x, y) => (y.seconds < x.seconds ? y : x)).config;
  cache.set(opts.key, JSON.stringify(best));
  return { best, cached: false, trials };
}

/**
 * Wall-clock seconds per dispatch through a Gpu: one warm-up (compiles), then batches of `dispatch()`
 * calls grown until a batch takes >= minSeconds; the best of `rounds` batches is returned.
 * Used where timestamp queries are unavailable (the Gpu class does not request them).
 */
export async function wallClock(gpu: Gpu, dispatch: () => void, minSeconds = 0.02, rounds = 3): Promise<number> {
  dispatch();
  await gpu.checkCompiles();
  await gpu.sync();
  let reps = 1;
  let best = Infinity;
  for (let round = 0; round < rounds; ) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) dispatch();
    await gpu.sync();
    const secs = (performance.now() - t0) / 1000;
    if (secs < minSeconds && reps < 1024) {
      reps *= 2;
      continue;
    }
    best = Math.min(best, secs / reps);
    round++;
  }
  return best;
}
