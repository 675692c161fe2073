#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and nothing installed but Python (and no
# network), install archcalc from a folder of wheels, run a quick calibration on CUDA, profile
# five bundled models at batch 1 and 32, and write a JSON and a markdown summary to OUT_DIR.
#
#   benchmarks/gpu_check.sh OUT_DIR [WHEELS_DIR]        (or ARCHCALC_WHEELS=WHEELS_DIR)
#
# WHEELS_DIR holds every wheel the install needs (pip install --no-index --find-links): archcalc's
# own wheel (or setuptools, to build it from this checkout), onnxruntime-gpu (~256 MB), onnx,
# numpy, pyyaml, networkx, tabulate, protobuf and their dependencies, and optionally the nvidia-*
# CUDA/cuDNN wheels onnxruntime-gpu can load. Make it on a machine with network:
#   pip download -d wheels onnxruntime-gpu onnx numpy pyyaml networkx tabulate setuptools
#   pip wheel --no-deps -w wheels .
#
# Order: the GPU is checked first (nvidia-smi, then a CUDA device it lists), and nothing is
# installed on a machine without one. Exit codes: 0 done; 2 usage (no OUT_DIR, no wheels folder,
# no Python); 3 no NVIDIA GPU here (refused, with the reason); 4 the install failed; 5 the check
# itself failed or ran past its time. When the CUDA execution provider cannot run (libraries
# missing), it says so plainly and still checks what it can: datasheet estimates, and torch's CUDA
# timing of the same networks when torch with CUDA is importable (labelled torch).
# Finishes in under 8 minutes: the measuring part has a 6-minute limit.
set -u

say() { printf 'gpu_check: %s\n' "$*" >&2; }

OUT_DIR="${1:-}"
WHEELS="${2:-${ARCHCALC_WHEELS:-}}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
LIMIT_S="${GPU_CHECK_LIMIT_S:-360}"

if [ -z "$OUT_DIR" ]; then
    say "usage: benchmarks/gpu_check.sh OUT_DIR [WHEELS_DIR]  (or ARCHCALC_WHEELS=WHEELS_DIR)"
    exit 2
fi

# 1. a GPU, before anything else
if ! command -v nvidia-smi >/dev/null 2>&1; then
    say "refusing: no NVIDIA GPU here (nvidia-smi is not installed: no NVIDIA driver); nothing was installed"
    exit 3
fi
if ! GPUS="$(nvidia-smi -L 2>&1)" || ! printf '%s\n' "$GPUS" | grep -q '^GPU [0-9]'; then
    say "refusing: no NVIDIA GPU here (nvidia-smi lists no CUDA device: $(printf '%s' "$GPUS" | head -n 1)); nothing was installed"
    exit 3
fi
say "GPU: $(printf '%s\n' "$GPUS" | head -n 1)"

# 2. what the install needs
PYTHON="$(command -v python3 || command -v python || true)"
if [ -z "$PYTHON" ]; then
    say "no python3 on PATH"
    exit 2
fi
if [ -z "$WHEELS" ] || [ ! -d "$WHEELS" ]; then
    say "no wheels folder: give it as the second argument or ARCHCALC_WHEELS (this machine has no network; see the top of $0)"
    exit 2
fi
if ! ls "$WHEELS"/onnxruntime_gpu-*.whl >/dev/null 2>&1; then
    say "warning: no onnxruntime_gpu wheel in $WHEELS: the CUDA provider will be missing"
fi
mkdir -p "$OUT_DIR" || { say "cannot create $OUT_DIR"; exit 2; }
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

# 3. install into a fresh virtual environment, from the wheels folder only
VENV="$OUT_DIR/venv"
say "installing archcalc into $VENV from $WHEELS (no network)"
started=$(date +%s)
"$PYTHON" -m venv "$VENV" || { say "cannot make a virtual environment in $VENV"; exit 4; }
PIP=("$VENV/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS")
if ls "$WHEELS"/archcalc-*.whl >/dev/null 2>&1; then
    TARGET=(archcalc)
else
    TARGET=("$REPO")
fi
if ! "${PIP[@]}" "${TARGET[@]}" >"$OUT_DIR/install.log" 2>&1; then
    say "the install failed (see $OUT_DIR/install.log): $(tail -n 1 "$OUT_DIR/install.log")"
    exit 4
fi
# the CUDA and cuDNN libraries as wheels, when the folder has them (else the system's are used)
"${PIP[@]}" "onnxruntime-gpu[cuda,cudnn]" >>"$OUT_DIR/install.log" 2>&1 || true
"${PIP[@]}" torch >>"$OUT_DIR/install.log" 2>&1 || true
say "installed in $(( $(date +%s) - started )) s"

# 4. measure, with a hard limit
cd "$OUT_DIR" || exit 2
timeout --kill-after=10 "$LIMIT_S" "$VENV/bin/python" "$HERE/gpu_check.py" "$OUT_DIR"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    say "the check ran past its ${LIMIT_S} s limit; what it finished is in $OUT_DIR"
    exit 5
fi
[ "$rc" -eq 0 ] || { say "the check failed (exit $rc)"; exit 5; }
say "done in $(( $(date +%s) - started )) s: $OUT_DIR/gpu_check.json and $OUT_DIR/gpu_check.md"
