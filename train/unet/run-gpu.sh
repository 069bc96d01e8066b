#!/usr/bin/env bash
# fm-unet: train on the GPU machine, then export ONNX + golden. Run from the repo root:
#   bash train/unet/run-gpu.sh            (needs .data/usr/share/datasets/fashion-mnist/*.gz, carried with the tree)
# Env knobs: MINUTES (default 7), TRAIN_ARGS (extra train.py flags), DATA, UNET_OUT (default train/unet/out), PYTHON (default python3).
# If $OUT is an existing folder (the device machine's return folder), the results are copied there too.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
DATA=${DATA:-.data/usr/share/datasets/fashion-mnist}
DEST=${UNET_OUT:-train/unet/out}
MIN=${MINUTES:-7}
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz; do
  [ -f "$DATA/$f" ] || { echo "missing $DATA/$f (carry .data, see web/public/fm-unet/RECIPE.md)" >&2; exit 2; }
done
mkdir -p "$DEST"
copy_back() {  # runs on every exit, so a failure in export.py still returns the trained weights
  if [ -n "${OUT:-}" ] && [ -d "${OUT}" ] && [ "$(cd "$OUT" && pwd)" != "$(cd "$DEST" && pwd)" ]; then
    cp "$DEST"/* "$OUT"/ 2>/dev/null && echo "copied results to \$OUT=$OUT"
  fi
}
trap copy_back EXIT
"$PY" -c 'import torch, numpy, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "numpy", numpy.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
T0=$(date +%s)
"$PY" train/unet/train.py --data "$DATA" --out "$DEST" --minutes "$MIN" ${TRAIN_ARGS:-} 2>&1 | tee "$DEST/train.log"
T1=$(date +%s)
# export.py is CPU-only: if it fails here (e.g. a torch without the legacy ONNX exporter) rerun it anywhere
# on the returned fm-unet.safetensors: python3 train/unet/export.py --dir <folder>
"$PY" train/unet/export.py --dir "$DEST" > "$DEST/export.log" 2>&1 || echo "export.py FAILED (see export.log)"
grep -v -e TracerWarning -e 'shape inference of prim::Constant' -e '_C._jit_pass' "$DEST/export.log" || true
T2=$(date +%s)
echo "wall: train.py $((T1 - T0)) s, export.py $((T2 - T1)) s"
grep '^RESULT' "$DEST/train.log"
ls -l "$DEST"
