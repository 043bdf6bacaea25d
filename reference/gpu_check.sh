#!/usr/bin/env bash
# The GPU tier in one command (also `make gpu-check`): grades the reference notebooks' @gpu tests of
# m08, m13 and m14 on CUDA and writes reference/<id>/gpu.json. Exit status 2 without a CUDA GPU.
# Arguments are passed to reference/gpu_check.py (--milestones, --sequential, --out-root).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
if [ ! -x "$PY" ]; then
  echo "gpu_check: $PY not found; run 'make venv' first (or set PYTHON=/path/to/python)" >&2
  exit 2
fi
exec "$PY" reference/gpu_check.py "$@"
