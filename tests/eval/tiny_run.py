"""A whole tiny pipeline run (ach -> ... -> finetune -> eval) for the eval and describe tests."""

from __future__ import annotations

from pathlib import Path

from hacd_graph.pipeline import compose_config, run_pipeline
from hacd_graph.training import DistributedContext

TINY = ["experiment=tiny"]


def run_tiny(run_dir: Path, *overrides: str) -> dict:
    """Run the default pipeline at ``experiment=tiny`` into ``run_dir``."""
    cfg = compose_config("distill_gnn", [*TINY, f"run.dir={run_dir}", *overrides])
    return run_pipeline(cfg, DistributedContext(), use_deepspeed=False)
