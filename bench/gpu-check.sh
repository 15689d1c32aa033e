#!/usr/bin/env bash
# GPU check for a lent machine (linux-x64 with a real GPU, no Node, no network).
# Build the bundle first, here:   node bench/pack-gpu-bundle.mjs      (dist/gpu-bundle/, <= 60 MiB)
# Then on the machine:            bash bench/gpu-check.sh [BUNDLE_TAR]
# It unpacks Node, the CLI and Dawn, installs the Vulkan loader from the bundle when the
# system has none, and runs, each step under its own time limit:
#   lplr info --json                                   -> $OUT/info.json
#   lplr tune (at most 3 minutes, if the verb exists)  -> $OUT/tune.txt
#   lplr bench matmul at N = 4096 and 8192             -> $OUT/matmul.json
#   one epoch of the paper's MLP preset (fig1 --preset paper --epochs 1)  -> $OUT/mlp-epoch.json
#   torch.matmul FP32 with TF32 off, when torch and CUDA exist            -> $OUT/torch.json
# and writes $OUT/summary.json (exit code and seconds per step) and $OUT/log.txt.
# Knobs for a smoke test on a machine without a GPU: LPLR_CHECK_SIZES (default 4096,8192),
# LPLR_CHECK_PRESET (default paper), LPLR_CHECK_TUNE_S (default 180).
set -u -o pipefail

OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUNDLE=${1:-$REPO/dist/gpu-bundle/lplr-gpu-bundle.tar}
SIZES=${LPLR_CHECK_SIZES:-4096,8192}
PRESET=${LPLR_CHECK_PRESET:-paper}
TUNE_S=${LPLR_CHECK_TUNE_S:-180}
LOG="$OUT/log.txt"
: >"$LOG"
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }

if [ ! -f "$BUNDLE" ]; then
  log "no bundle at $BUNDLE: build it with 'node bench/pack-gpu-bundle.mjs' and carry dist/gpu-bundle"
  exit 2
fi
command -v xz >/dev/null || { log "xz is missing on this machine (apt-get install xz-utils)"; exit 2; }

WORK=$(mktemp -d /tmp/lplr-gpu-check.XXXXXX)
log "unpacking $BUNDLE into $WORK"
tar -xf "$BUNDLE" -C "$WORK" || { log "the bundle does not unpack"; exit 2; }
xz -dc "$WORK/node.xz" >"$WORK/node" && chmod +x "$WORK/node"
mkdir -p "$WORK/app"
xz -dc "$WORK/app.tar.xz" | tar -x -C "$WORK/app"
mkdir -p "$WORK/app/node_modules/webgpu/dist/linux-x64"
xz -dc "$WORK/dawn.node.xz" >"$WORK/app/node_modules/webgpu/dist/linux-x64/dawn.node"
DATA_DIR=""
if [ -d "$WORK/mnist" ]; then
  DATA_DIR="$WORK/mnist-data"
  mkdir -p "$DATA_DIR"
  for f in "$WORK"/mnist/*.xz; do xz -dc "$f" >"$DATA_DIR/$(basename "$f" .xz)"; done
fi

# The Vulkan loader: the system's, else the bundle's (or the repo's .gl/) packages.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  for f in "$WORK"/debs/*.deb "$REPO"/.gl/*.deb; do
    [ -f "$f" ] && dpkg -x "$f" / && log "unpacked $(basename "$f")"
  done
  ldconfig 2>/dev/null || true
fi
# Mounted NVIDIA drivers keep their ICD files outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
  [ ! -f /usr/share/vulkan/icd.d/nvidia_icd.json ] && [ ! -f /etc/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export LPLR_CACHE_DIR="$WORK/cache"
LPLR=("$WORK/node" "$WORK/app/bin/lplr.mjs")

STEPS=()
# step NAME SECONDS OUTFILE CMD...: run with a time limit, stdout to OUTFILE, stderr to the log.
step() {
  local name=$1 limit=$2 out=$3
  shift 3
  log "step $name (limit ${limit}s): $*"
  local t0 rc
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$limit" "$@" >"$out" 2>>"$LOG"
  rc=$?
  local secs
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  log "step $name: exit $rc after ${secs}s"
  STEPS+=("{\"step\":\"$name\",\"exit\":$rc,\"seconds\":$secs}")
}

step info 120 "$OUT/info.json" "${LPLR[@]}" info --json

if "${LPLR[@]}" --help 2>/dev/null | grep -Eq '^ +tune( |$)'; then
  TUNE_ARGS=()
  # Let the tuner stop itself inside the step's limit (its budget can overrun a little) when it has the option.
  if "${LPLR[@]}" tune --help 2>/dev/null | grep -q -- '--budget-s'; then TUNE_ARGS=(--budget-s $((TUNE_S * 2 / 3))); fi
  step tune "$TUNE_S" "$OUT/tune.txt" "${LPLR[@]}" tune "${TUNE_ARGS[@]}"
else
  log "step tune: skipped ('lplr tune' does not exist in this build)"
  STEPS+=('{"step":"tune","exit":null,"seconds":0,"skipped":"no tune verb"}')
fi

step matmul 420 "$OUT/matmul.json" "${LPLR[@]}" bench matmul --sizes "$SIZES" --mlp-n 0 --no-peers --json --max-run-s 60

if [ -n "$DATA_DIR" ]; then
  step mlp-epoch 420 "$OUT/mlp-epoch.json" "${LPLR[@]}" run fig1 --preset "$PRESET" --epochs 1 --data-dir "$DATA_DIR" \
    --out "$WORK/run-fig1" --force --quiet --json
else
  log "step mlp-epoch: skipped (the bundle has no MNIST files)"
  STEPS+=('{"step":"mlp-epoch","exit":null,"seconds":0,"skipped":"no MNIST in the bundle"}')
fi

PY=$(command -v python3 || true)
if [ -n "$PY" ] && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  step torch 300 "$OUT/torch.json" "$PY" - "$SIZES" <<'PY'
import json, sys, time, torch
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
out = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0),
       "tf32": torch.backends.cuda.matmul.allow_tf32, "dtype": "float32", "results": []}
for n in [int(s) for s in sys.argv[1].split(",")]:
    a = torch.rand(n, n, device="cuda"); b = torch.rand(n, n, device="cuda")
    for _ in range(3): torch.matmul(a, b)
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True); end = torch.cuda.Event(enable_timing=True)
    trials = []
    for _ in range(7):
        start.record(); torch.matmul(a, b); end.record(); torch.cuda.synchronize()
        trials.append(start.elapsed_time(end))
    trials.sort(); ms = trials[len(trials) // 2]
    out["results"].append({"n": n, "medianMs": ms, "trialsMs": trials, "gflops": 2 * n ** 3 / (ms * 1e6)})
print(json.dumps(out, indent=2))
PY
else
  log "step torch: skipped (no python3 with torch and CUDA)"
  STEPS+=('{"step":"torch","exit":null,"seconds":0,"skipped":"no torch with CUDA"}')
fi

{
  printf '{"bundle":"%s","sizes":"%s","preset":"%s","steps":[' "$(basename "$BUNDLE")" "$SIZES" "$PRESET"
  (IFS=,; printf '%s' "${STEPS[*]}")
  printf ']}\n'
} >"$OUT/summary.json"
log "done: results in $OUT"
rm -rf "$WORK"
