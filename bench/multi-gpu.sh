#!/usr/bin/env bash
# Multi-GPU tensor-parallel bench (bench/multi-gpu.ts), two halves:
#   bash bench/multi-gpu.sh build   (here, where npm packages are installed) bundles the driver and the
#       peer into .gpu-node/multi-gpu.mjs and copies node-datachannel (JS + its native .node) into
#       .gpu-node/node_modules, next to Dawn's webgpu package that ../shared/gpu/prepare.sh put there.
#   bash bench/multi-gpu.sh run     (on the GPU machine, as root) sets up Vulkan from .gl/, unpacks Node and
#       runs the bench; results go to $OUT (or bench/out). SHAPE, WEIGHTS, N, TPS, PREFILL, DECODE, REPS,
#       ENCODE_AHEAD, LABEL, SAME_HOST (1 default: peers link over Unix sockets; 0: WebRTC)
#       pass through (see bench/multi-gpu.ts).
#   bash bench/multi-gpu.sh local   (here) builds and runs it with N lavapipe peers and the tiny shape.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-local}"

build() {
  [ -d .gpu-node/node_modules/webgpu ] || { echo "run ../shared/gpu/prepare.sh first (fills .gpu-node/ and .gl/)"; exit 1; }
  node -e "import('./scripts/bundle.mjs').then((m) => m.bundle('bench/multi-gpu.ts', '.gpu-node/multi-gpu.mjs', { external: ['node-datachannel', 'node-datachannel/*', 'bufferutil', 'utf-8-validate'], cjsRequire: true, minify: true, gpuWorker: true }))"
  local nd=.gpu-node/node_modules/node-datachannel
  rm -rf "$nd" .gpu-node/node_modules/detect-libc
  mkdir -p "$nd/build/Release"
  cp node_modules/node-datachannel/package.json "$nd/"
  cp -r node_modules/node-datachannel/dist "$nd/"
  rm -rf "$nd/dist/types" "$nd/dist/cjs"
  find "$nd/dist" -name '*.map' -delete
  # loadBinding() tries ../../build/Release/node_datachannel.node (relative to dist/esm/lib) first.
  # Stored xz-compressed (the tree sent to the GPU machine is capped at 64 MiB); scripts/gpu-prologue.sh unpacks it.
  xz -c node_modules/@node-datachannel/linux-x64-gnu/node_datachannel.node > "$nd/build/Release/node_datachannel.node.xz"
  cp -r node_modules/detect-libc .gpu-node/node_modules/
  du -sh .gpu-node .gl | sed 's/^/carried: /'
}

case "$mode" in
  build) build ;;
  run)
    source scripts/gpu-prologue.sh
    export BENCH_OUT="${OUT:-$PWD/bench/out}"
    cd .gpu-node && exec /tmp/node multi-gpu.mjs ;;
  local)
    build
    # Run from bench/out so that webgpu and node-datachannel resolve to the repo's node_modules (the
    # copies in .gpu-node/ are the GPU machine's, stored compressed).
    mkdir -p bench/out && cp .gpu-node/multi-gpu.mjs .gpu-node/gpu-worker.mjs bench/out/
    SHAPE="${SHAPE:-tiny}" N="${N:-2}" BENCH_OUT="${BENCH_OUT:-$PWD/bench/out}" exec node bench/out/multi-gpu.mjs ;;
  *) echo "usage: bash bench/multi-gpu.sh build|run|local"; exit 2 ;;
esac
