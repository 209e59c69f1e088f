#!/usr/bin/env bash
# Creates (or refreshes) the project-local virtual environment .venv.
# Idempotent: a stamp keyed by this script and pyproject.toml makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.hacd_setup_stamp"
KEY=$(cat scripts/setup_venv.sh pyproject.toml | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ] && [ -x "$VENV/bin/hacd-graph" ]; then
  exit 0
fi

echo "[setup] creating $VENV with $($PY --version)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip setuptools wheel
# torch from the machine's local wheel store (a CUDA build that also runs on CPU).
$PIP install "torch==2.14.1"
# torchaudio on PyPI pins an older torch; its transforms work on this torch without its deps.
$PIP install --no-deps "torchaudio==2.11.0"
# DeepSpeed is a source package whose build imports torch.
$PIP install ninja packaging psutil py-cpuinfo pydantic hjson msgpack einops
$PIP install --no-build-isolation "deepspeed>=0.16"
$PIP install -e ".[dev]"
echo "$KEY" > "$STAMP"
echo "[setup] done" >&2
