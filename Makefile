# Two entry points, each doing its own set-up (idempotent, quick when already done).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint

setup:
	bash scripts/setup_venv.sh

run: setup
	bash scripts/run_default.sh

test: setup
	$(PY) -m pytest -m "not slow and not gpu" -q

lint: setup
	$(VENV)/bin/ruff check hacd_graph tests benchmarks train.py
