"""Settings of the one training loop (:func:`hacd_graph.training.fit`).

Every stage (teacher, distillation, fine-tuning) trains through the same loop; they differ
only by the :class:`~hacd_graph.training.stage.Stage` they pass in and by these settings,
which come from the Hydra ``trainer`` group (``configs/trainer/*.yaml``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def config_from_mapping(cls: type[T], values: Mapping[str, Any] | None, where: str) -> T:
    """Build the dataclass ``cls`` from a mapping, rejecting unknown keys by name.

    Args:
        cls: a dataclass type (a ``*Config``).
        values: the settings (a dict or an OmegaConf ``DictConfig``); ``None`` gives defaults.
        where: where the settings came from, for the error message (e.g. ``"trainer"``).

    Returns:
        An instance of ``cls``.

    Raises:
        ValueError: a key that ``cls`` does not define.
    """
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {unknown} in config group '{where}'; "
            f"{cls.__name__} knows {sorted(known)}"
        )
    return cls(**values)


@dataclass
class TrainerConfig:
    """How the loop trains: budget, optimiser, schedule, logging and checkpoints.

    Args:
        max_steps: optimiser steps to train (the budget); a resumed run stops at the same step.
        batch_size: clips per rank and micro-step (DeepSpeed's
            ``train_micro_batch_size_per_gpu``).
        grad_accum_steps: micro-steps per optimiser step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        betas: AdamW betas.
        warmup_steps: linear warm-up steps before cosine decay to ``min_lr_ratio * lr``.
        min_lr_ratio: final learning rate as a fraction of ``lr``.
        grad_clip: clip the gradient norm to this (0 disables).
        log_every: steps between log lines (progress bar, CSV, TensorBoard).
        eval_every: steps between evaluations (0: only at the end).
        ckpt_every: steps between checkpoints (0: only at the end).
        keep_last: checkpoints kept on disk (older ones are deleted).
        resume: continue from the latest checkpoint in the stage folder when there is one.
        seed: the run's seed (set once, before the model is built).
        tensorboard: also write TensorBoard event files (needs the ``tensorboard`` package).
        progress: show a tqdm progress bar on rank 0.
    """

    max_steps: int = 200
    batch_size: int = 16
    grad_accum_steps: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 10
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    log_every: int = 10
    eval_every: int = 0
    ckpt_every: int = 50
    keep_last: int = 2
    resume: bool = True
    seed: int = 0
    tensorboard: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        if self.max_steps < 1:
            raise ValueError(f"trainer.max_steps must be >= 1, got {self.max_steps}")
        if self.batch_size < 1 or self.grad_accum_steps < 1:
            raise ValueError("trainer.batch_size and trainer.grad_accum_steps must be >= 1")
        if self.keep_last < 1:
            raise ValueError(f"trainer.keep_last must be >= 1, got {self.keep_last}")
