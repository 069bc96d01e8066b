// The folder the benchmarks' server serves as TABMESH_MODELS: bench/out/models/, a mirror of the
// shared models (one symlink per file, so the originals stay read-only and out of the repo) plus the
// random-weight GGUFs the benchmarks generate there. The server lists models on every request, so a
// file generated after it started is served too (the coordinator page reads the list when it opens).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_MODELS_DIR = fileURLToPath(new URL('./out/models', import.meta.url));

/** Creates bench/out/models/ mirroring `source` (default: $TABMESH_MODELS or ../shared/models); idempotent. */
export function prepareModelsDir(source?: string): string {
  const repoRoot = path.resolve(BENCH_MODELS_DIR, '../../..');
  const from = path.resolve(repoRoot, source ?? process.env.TABMESH_MODELS ?? path.join(process.env.TABMESH_SHARED ?? '../shared', 'models'));
  const mirror = (src: string, dst: string, depth: number) => {
    if (depth > 6) return;
    fs.mkdirSync(dst, { recursive: true });
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(src, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const s = path.join(src, e.name), d = path.join(dst, e.name);
      if (e.isDirectory()) mirror(s, d, depth + 1);
      else if (!fs.existsSync(d)) {
        try { fs.symlinkSync(s, d); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
      }
    }
  };
  mirror(from, BENCH_MODELS_DIR, 0);
  return BENCH_MODELS_DIR;
}
