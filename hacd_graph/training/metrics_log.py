"""Where the loop's numbers go: ``metrics.csv`` (every log step), TensorBoard, ``metrics.json``.

``metrics.csv`` is in long form, one row per value: ``step,split,name,value`` with
``split`` in ``train`` / ``eval``. On resume, rows after the resumed step (written by the
killed run after its last checkpoint) are dropped so every step appears once.

``metrics.json`` (schema ``hacd_graph.stage_metrics/v1``), written atomically by rank 0 at
the end of a stage (and after each evaluation, with ``status: "running"``)::

    {
      "schema": "hacd_graph.stage_metrics/v1",
      "stage": "teacher",              # the stage folder's name
      "status": "complete",            # or "running"
      "step": 200,                     # optimiser steps done
      "max_steps": 200,
      "epoch": 3,                      # passes over the training data begun
      "engine": "deepspeed",           # or "torch"
      "zero_stage": 2,                 # 0 for the torch engine
      "world_size": 2,
      "fingerprint": "3f2a...",        # fit(..., fingerprint=): the settings digest, or null
      "resumed_from": 100,             # step of the checkpoint resumed from, or null
      "train": {"loss": 0.12,          # mean over the last log window
                "lr": 1e-4,            # first group's; "lr/<group>" per named group
                "examples": 6400,      # examples seen by all ranks (this process's run)
                "examples_per_s": 51.2,
                "wall_s": 125.0, ...}, # plus the stage's own logged terms
      "eval": {"mAP_macro": 0.61, ...},   # the stage's final evaluate(), flat names
      "eval_history": [{"step": 100, "mAP_macro": 0.4, ...}, ...],
      "checkpoint": "ckpt/step-0000200",  # relative to the stage folder
      "weights": "model.pt"               # consolidated weights, relative, or null
    }
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

SCHEMA = "hacd_graph.stage_metrics/v1"


class MetricsLogger:
    """Appends scalars to ``metrics.csv`` (and TensorBoard); a no-op off rank 0.

    Args:
        stage_dir: the stage folder.
        enabled: whether this process writes (rank 0).
        resume_step: drop rows after this step from an existing CSV (``None``: start afresh).
        tensorboard: also write TensorBoard events to ``stage_dir/tb``.
    """

    def __init__(self, stage_dir: Path, enabled: bool, resume_step: int | None = None,
                 tensorboard: bool = False):
        self.enabled = enabled
        self.path = Path(stage_dir) / "metrics.csv"
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows: list[list[str]] = []
        if resume_step is not None and self.path.exists():
            with self.path.open() as f:
                rows = [r for r in list(csv.reader(f))[1:] if int(r[0]) <= resume_step]
        with self.path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "split", "name", "value"])
            w.writerows(rows)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:  # the package is optional
                raise ImportError(
                    "trainer.tensorboard=true needs the 'tensorboard' package; "
                    "install it or set trainer.tensorboard=false (metrics.csv is always written)"
                ) from err
            self._tb = SummaryWriter(str(Path(stage_dir) / "tb"))

    def log(self, step: int, split: str, values: Mapping[str, float]) -> None:
        """Record ``values`` at ``step`` under ``split`` (``train`` or ``eval``)."""
        if not self.enabled or not values:
            return
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for name, value in values.items():
                w.writerow([step, split, name, f"{float(value):.6g}"])
        if self._tb is not None:
            for name, value in values.items():
                self._tb.add_scalar(f"{split}/{name}", float(value), step)
            self._tb.flush()

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self._tb is not None:
            self._tb.close()


def read_series(csv_path: str | Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Every series in a ``metrics.csv``: ``(split, name) -> [(step, value), ...]`` by step."""
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    with Path(csv_path).open() as f:
        for row in csv.DictReader(f):
            series.setdefault((row["split"], row["name"]), []).append(
                (int(row["step"]), float(row["value"])))
    return {k: sorted(v) for k, v in series.items()}


def plot_curves(csv_path: Path, png_path: Path) -> Path | None:
    """Plot ``metrics.csv`` (train loss; eval mAP and hF1 when logged) to a PNG.

    Returns:
        ``png_path``, or ``None`` when the CSV holds no training loss yet.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_series(csv_path)
    if ("train", "loss") not in series:
        return None
    evals = [k for k in (("eval", "mAP_macro"), ("eval", "hF1"), ("eval", "mse"))
             if k in series]
    fig, axes = plt.subplots(1, 2 if evals else 1, figsize=(10 if evals else 5, 3.5),
                             squeeze=False)
    steps, values = zip(*series[("train", "loss")], strict=True)
    axes[0, 0].plot(steps, values)
    axes[0, 0].set(xlabel="step", ylabel="train loss", title="training loss")
    for key in evals:
        steps, values = zip(*series[key], strict=True)
        axes[0, 1].plot(steps, values, marker="o", label=key[1])
    if evals:
        axes[0, 1].set(xlabel="step", title="held-out evaluation")
        axes[0, 1].legend()
    fig.tight_layout()
    png_path = Path(png_path)
    tmp = png_path.with_name(f".{png_path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png_path)
    return png_path
