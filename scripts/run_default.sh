#!/usr/bin/env bash
# The main job on the embedded default: the pipeline (ach -> data -> teacher -> distill ->
# finetune -> eval, then the report) under
# the DeepSpeed launcher, into one run directory (default outputs/distill_gnn; rerunning
# resumes). Extra arguments are Hydra overrides, e.g. `bash scripts/run_default.sh
# trainer.max_steps=50 run.dir=outputs/short`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/deepspeed train.py --config distill_gnn "$@"
