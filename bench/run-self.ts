// Runs the current bench script again in a child process, for cases that must not share a process: Dawn-for-Node
// aborts after a few multi-GB allocation sets in one process (H100 and H200, 2026-11-27..29). The child gets
// `env` on top of this process's and OUT set to a fresh temp folder; its result is the first JSON it writes there.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SelfRun<T> {
  doc: T | null; // the child's JSON, or null when it wrote none or exited non-zero
  exit: string; // its exit status or signal
}

/** One child run of this script (stderr shown; stdout shown when `showStdout`). */
export function runSelf<T>(env: Record<string, string>, showStdout: boolean): SelfRun<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-child-'));
  try {
    const r = spawnSync(process.execPath, [process.argv[1]], {
      stdio: ['ignore', showStdout ? 'inherit' : 'ignore', 'inherit'],
      env: { ...process.env, ...env, OUT: dir },
    });
    const file = fs.readdirSync(dir).find((n) => n.endsWith('.json'));
    const doc = r.status === 0 && file ? (JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as T) : null;
    return { doc, exit: String(r.status ?? r.signal) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
