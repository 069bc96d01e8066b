// The tuning cache of a headless Node peer: one JSON file (default ~/.cache/tabmesh/tune.json, or
// $TABMESH_TUNE_CACHE), read at start and rewritten on every new winner (a few times per new model
// shape on a new GPU, so a synchronous write is fine). A missing file is an empty cache; a malformed
// one is reported and replaced, never fatal: tuning only costs time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryTuneCache, type TuneCache } from '../kernels/autotune';

export function defaultTuneCachePath(): string {
  return process.env.TABMESH_TUNE_CACHE || path.join(os.homedir(), '.cache', 'tabmesh', 'tune.json');
}

export function fileTuneCache(file = defaultTuneCachePath(), warn: (m: string) => void = (m) => console.warn(m)): TuneCache {
  let init: Record<string, string> = {};
  try {
    const raw: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') init[k] = v;
    } else warn(`tuning cache ${file}: not a JSON object; starting empty`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`tuning cache ${file}: ${(e as Error).message}; starting empty`);
    init = {};
  }
  return new MemoryTuneCache(init, (_k, _v, mem) => {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(mem.entries(), null, 1));
      fs.renameSync(tmp, file); // atomic: two peers on one host never read a half-written file
    } catch (e) {
      warn(`tuning cache ${file}: not saved (${(e as Error).message})`);
    }
  });
}
