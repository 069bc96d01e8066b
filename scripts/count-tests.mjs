// Prints the closing `N passed, N failed` line from the JSON reports of vitest and Playwright, and
// exits non-zero when anything failed (including tsc/eslint, counted as one failed check each run).
import fs from 'node:fs';
const [staticFail, unitRc, e2eRc] = process.argv.slice(2).map(Number);
let passed = 0;
let failed = 0;
const read = (f) => { try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch { return null; } };
const unit = read('reports/unit.json');
if (unit) { passed += unit.numPassedTests; failed += unit.numFailedTests; } else if (unitRc) failed += 1;
const e2e = read('reports/e2e.json');
if (e2e) {
  const s = e2e.stats ?? {};
  passed += (s.expected ?? 0) + (s.flaky ?? 0);
  failed += (s.unexpected ?? 0);
} else if (e2eRc) failed += 1;
if (staticFail) failed += 1;
if ((unitRc || e2eRc) && failed === 0) failed = 1; // a runner that crashed without a report still fails
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
