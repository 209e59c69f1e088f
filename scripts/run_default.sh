#!/usr/bin/env bash
# The main job on the embedded default. Until the training pipeline lands it builds,
# validates and renders the core Audio Concept Hierarchy into outputs/ach/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT_DIR:-outputs/ach}
mkdir -p "$OUT"
.venv/bin/hacd-graph ach stats
.venv/bin/hacd-graph ach build --out "$OUT/ach.json"
.venv/bin/hacd-graph ach render --out "$OUT/ach.png" --html "$OUT/ach.html"
echo "wrote $OUT/ach.json, $OUT/ach.png and $OUT/ach.html"
