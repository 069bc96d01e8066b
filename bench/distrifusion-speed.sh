#!/usr/bin/env bash
# DistriFusion speed bench (bench/distrifusion-speed.ts), like bench/multi-gpu.sh:
#   bash bench/distrifusion-speed.sh build   (here) bundles the driver + peer into .gpu-node/distrifusion-speed.mjs
#       (node-datachannel's JS + native addon are put into .gpu-node/node_modules by `bash bench/multi-gpu.sh build`).
#   bash bench/distrifusion-speed.sh run     (on the GPU machine, as root) unpacks Node and runs it; results to $OUT.
#       PX, NS, MODES, STEPS, WARMUP, WIDTH, SEED, COMMBENCH pass through (see bench/distrifusion-speed.ts).
#   bash bench/distrifusion-speed.sh local   (here) builds and runs it with 2 lavapipe peers at toy sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-local}"

build() {
  [ -d .gpu-node/node_modules/webgpu ] || { echo "run ../shared/gpu/prepare.sh first (fills .gpu-node/ and .gl/)"; exit 1; }
  [ -d .gpu-node/node_modules/node-datachannel ] || bash bench/multi-gpu.sh build
  node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/distrifusion-speed.ts', '.gpu-node/distrifusion-speed.mjs', { external: ['node-datachannel', 'node-datachannel/*', 'bufferutil', 'utf-8-validate'], cjsRequire: true, minify: true, gpuWorker: true }))"
  ls -la .gpu-node/distrifusion-speed.mjs
}

case "$mode" in
  build) build ;;
  run)
    source scripts/gpu-prologue.sh
    export BENCH_OUT="${OUT:-$PWD/bench/out}"
    cd .gpu-node && exec /tmp/node distrifusion-speed.mjs ;;
  local)
    build
    # From bench/out so that webgpu and node-datachannel resolve to the repo's node_modules.
    mkdir -p bench/out && cp .gpu-node/distrifusion-speed.mjs .gpu-node/gpu-worker.mjs bench/out/
    PX="${PX:-32,64}" NS="${NS:-1,2}" WIDTH="${WIDTH:-0.1}" STEPS="${STEPS:-3}" WARMUP="${WARMUP:-1}" \
      BENCH_OUT="${BENCH_OUT:-$PWD/bench/out}" exec node bench/out/distrifusion-speed.mjs ;;
  *) echo "usage: bash bench/distrifusion-speed.sh build|run|local"; exit 2 ;;
esac
