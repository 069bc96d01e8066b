#!/usr/bin/env bash
# `npm test`: type-check, lint, unit tests (Node, WebGPU through Dawn on lavapipe), then browser
# tests (Playwright + Debian's Chromium inside a private network namespace). Ends with one line
# `N passed, N failed` counting every test that ran.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh || exit 1
[ -d node_modules ] || npm install --no-audit --no-fund
mkdir -p reports; rm -f reports/unit.json reports/e2e.json
fail=0
echo "== tsc --noEmit"; npx tsc --noEmit || fail=1
echo "== eslint"; npx eslint . || fail=1
echo "== unit tests (vitest)"; npx vitest run; unit_rc=$?
echo "== browser tests (playwright)"; bash scripts/netns.sh npx playwright test; e2e_rc=$?
node scripts/count-tests.mjs "$fail" "$unit_rc" "$e2e_rc"
