// Test fixtures: the shared stories260K file and its golden output (PROVENANCE.md), read from the
// shared/ folder beside the repo (TABMESH_SHARED overrides).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const sharedDir = process.env.TABMESH_SHARED ?? resolve(repoRoot, '../shared');
export const storiesPath = resolve(sharedDir, 'models/stories260K/stories260K.gguf');

/** The whole GGUF as its own ArrayBuffer (not a view into Node's Buffer pool). */
export function storiesBuffer(): ArrayBuffer {
  const b = readFileSync(storiesPath);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Greedy ids from BOS, from PROVENANCE.md ("Verified behaviour"), computed there by an independent numpy forward. */
export const GOLDEN_IDS = [
  403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411,
  322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337, 335,
  312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310,
];

/** What GOLDEN_IDS decode to (PROVENANCE.md), leading space included (no BOS before them). */
export const GOLDEN_TEXT =
  ' Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily';
