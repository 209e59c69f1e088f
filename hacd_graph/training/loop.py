"""The project's one training loop: :func:`fit` trains any :class:`Stage`.

It runs the same way in one plain process (``python train.py``) and on every rank under
the DeepSpeed launcher (``deepspeed [--num_gpus 2] train.py``), with ZeRO when the config's
``deepspeed.enabled`` is true. It owns everything stages should not repeat: the optimiser
and schedule, accumulation, clipping, device placement, the progress bar, logging,
evaluation cadence, atomic checkpoints, resuming after a kill, and the final consolidated
weights. Stages inject only their model, data, loss, evaluation and export (and, optionally,
named parameter groups with their own learning rates: ``Stage.optimizer_groups``).

A stage folder records what wrote it: each checkpoint's ``meta.json`` and client state and
the final ``metrics.json`` hold the engine, ZeRO stage, world size and the caller's settings
``fingerprint``. :func:`fit` resumes (or returns a finished result) only when they match the
current run, and raises :class:`~hacd_graph.training.checkpoint.CheckpointMismatch`
otherwise; the caller decides whether to start afresh.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from hacd_graph.atomic_io import save_torch_atomic, write_json_atomic
from hacd_graph.training.checkpoint import CheckpointManager, CheckpointMismatch, compare_records
from hacd_graph.training.config import TrainerConfig
from hacd_graph.training.distributed import (
    DistributedContext,
    move_to_device,
    rng_state,
    seed_everything,
    set_rng_state,
)
from hacd_graph.training.engine import DeepSpeedEngine, Engine, TorchEngine, deepspeed_config
from hacd_graph.training.metrics_log import SCHEMA, MetricsLogger, plot_curves
from hacd_graph.training.stage import Stage

WEIGHTS_FILE = "model.pt"


@dataclass
class TrainResult:
    """What :func:`fit` leaves behind.

    Args:
        stage_dir: the stage folder.
        metrics: the content of ``stage_dir/metrics.json`` (schema in ``metrics_log``).
        weights: the consolidated weights file (``stage_dir/model.pt``).
    """

    stage_dir: Path
    metrics: dict[str, Any]
    weights: Path


def _finished(stage_dir: Path, max_steps: int) -> TrainResult | None:
    """The result of a stage that already finished ``max_steps`` steps (any fingerprint)."""
    path = Path(stage_dir) / "metrics.json"
    if not path.exists():
        return None
    metrics = json.loads(path.read_text())
    weights = Path(stage_dir) / WEIGHTS_FILE
    finished = metrics.get("status") == "complete" and metrics.get("step") == max_steps
    if finished and weights.exists():
        return TrainResult(Path(stage_dir), metrics, weights)
    return None


def completed_result(stage_dir: Path, max_steps: int,
                     fingerprint: str | None = None) -> TrainResult | None:
    """The result of a stage that already finished ``max_steps`` steps under ``fingerprint``
    (the one ``metrics.json`` records; ``None`` matches a result recorded without one), else
    ``None``."""
    done = _finished(stage_dir, max_steps)
    if done is not None and done.metrics.get("fingerprint") == fingerprint:
        return done
    return None


def build_stage_model(stage: Stage, cfg: TrainerConfig,
                      deepspeed: Mapping[str, Any] | None) -> torch.nn.Module:
    """``stage.build_model()``; under ZeRO-3 with transformers' DeepSpeed hook alive, so a
    Hugging Face model inside is partitioned as it is created and loaded (``zero.Init``)
    instead of being built whole on every rank first."""
    ds = deepspeed.get("config", {}) if deepspeed and deepspeed.get("enabled", False) else {}
    if int((ds.get("zero_optimization") or {}).get("stage", 0)) != 3:
        return stage.build_model()
    from transformers.integrations import HfDeepSpeedConfig
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    hook = HfDeepSpeedConfig(deepspeed_config(cfg, ds))  # read through a weak reference
    try:
        return stage.build_model()
    finally:
        unset_hf_deepspeed_config()
        del hook


def _make_engine(stage: Stage, cfg: TrainerConfig, ctx: DistributedContext,
                 deepspeed: Mapping[str, Any] | None) -> Engine:
    model = build_stage_model(stage, cfg, deepspeed)
    groups = getattr(stage, "optimizer_groups", None)
    if deepspeed and deepspeed.get("enabled", False):
        return DeepSpeedEngine(model, cfg, ctx, deepspeed.get("config", {}), groups)
    return TorchEngine(model, cfg, ctx, groups,
                       find_unused_parameters=getattr(stage, "find_unused_parameters", True))


def _planned_record(ctx: DistributedContext, deepspeed: Mapping[str, Any] | None,
                    fingerprint: str | None) -> dict[str, Any]:
    """What the engine about to be built will record (known before building the model)."""
    if deepspeed and deepspeed.get("enabled", False):
        zero = (deepspeed.get("config") or {}).get("zero_optimization") or {}
        kind, zero_stage = "deepspeed", int(zero.get("stage", 0))
    else:
        kind, zero_stage = "torch", 0
    return {"fingerprint": fingerprint, "engine": kind, "zero_stage": zero_stage,
            "world_size": ctx.world_size}


def _evaluate(stage: Stage, engine: Engine) -> dict[str, float]:
    module = engine.eval_module()
    module.eval()
    with torch.no_grad():
        metrics = stage.evaluate(module)
    module.train()
    return {k: float(v) for k, v in metrics.items()}


def fit(stage: Stage, cfg: TrainerConfig, stage_dir: Path | str, ctx: DistributedContext,
        deepspeed: Mapping[str, Any] | None = None,
        fingerprint: str | None = None) -> TrainResult:
    """Train ``stage`` for ``cfg.max_steps`` optimiser steps into ``stage_dir``.

    When ``cfg.resume`` is set: returns at once when the stage already completed the same
    budget under the same ``fingerprint`` (as ``metrics.json`` records it), and resumes from
    ``stage_dir/ckpt/latest`` when that checkpoint was written under the same fingerprint,
    engine, ZeRO stage and world size. Anything else recorded there raises
    :class:`CheckpointMismatch` (nothing is deleted or overwritten).

    Args:
        stage: the injected model, data, loss, evaluation and export (see ``Stage``).
        cfg: the loop's settings.
        stage_dir: the stage's folder in the run directory (created).
        ctx: this process's rank, world size and device (``init_distributed``).
        deepspeed: the ``deepspeed`` config group: ``{"enabled": bool, "config": {...}}``;
            ``None`` or ``enabled: false`` trains with plain PyTorch (DDP across ranks).
        fingerprint: the caller's digest of the stage's settings and inputs, recorded in
            every checkpoint and in ``metrics.json``; ``None`` records none.

    Returns:
        The stage folder, its final metrics and the consolidated weights path.

    Raises:
        CheckpointMismatch: the finished result or the latest checkpoint in ``stage_dir``
            was written under another fingerprint (or, for a checkpoint, another engine,
            ZeRO stage or world size); the error names what differs.
        FloatingPointError: the loss became NaN or infinite.
        ValueError: the stage yielded no training batches, or its ``optimizer_groups`` are
            inconsistent.
    """
    stage_dir = Path(stage_dir)
    if cfg.resume and (done := _finished(stage_dir, cfg.max_steps)) is not None:
        differences = compare_records(done.metrics, {"fingerprint": fingerprint},
                                      keys=("fingerprint",))
        if differences:
            raise CheckpointMismatch(stage_dir / "metrics.json", differences, stage_dir,
                                     stage.name)
        return done
    if ctx.is_main:
        stage_dir.mkdir(parents=True, exist_ok=True)
    ctx.barrier()
    ckpts = CheckpointManager(stage_dir, ctx, keep_last=cfg.keep_last)
    latest = ckpts.latest() if cfg.resume else None
    recorded = (ckpts.read_meta(latest) or {}) if latest is not None else None

    def refuse_mismatch(current: Mapping[str, Any]) -> None:
        if recorded is not None and (differences := compare_records(recorded, current)):
            raise CheckpointMismatch(latest, differences, stage_dir, stage.name)

    refuse_mismatch(_planned_record(ctx, deepspeed, fingerprint))  # before building a model
    seed_everything(cfg.seed)
    engine = _make_engine(stage, cfg, ctx, deepspeed)
    record = {"fingerprint": fingerprint, "engine": engine.kind,
              "zero_stage": engine.zero_stage, "world_size": ctx.world_size}
    refuse_mismatch(record)

    loop: dict[str, Any] = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "eval_history": []}
    resumed_from = None
    if latest is not None:
        client = engine.load(latest)
        loop.update(client["loop"])
        resumed_from = loop["step"]
        if ctx.world_size == 1:
            set_rng_state(client["rng"])
        else:  # only rank 0's generators are saved: give each rank its own stream again
            seed_everything(cfg.seed + 7919 * loop["step"] + ctx.rank)

    def save_checkpoint() -> Path:
        client = {"loop": loop, "rng": rng_state(), **record}
        return ckpts.save(loop["step"], lambda folder: engine.save(folder, client),
                          meta=record)

    logger = MetricsLogger(stage_dir, ctx.is_main, resume_step=resumed_from,
                           tensorboard=cfg.tensorboard)
    bar = tqdm(total=cfg.max_steps, initial=loop["step"], desc=stage.name, dynamic_ncols=True,
               disable=not (ctx.is_main and cfg.progress))
    module = engine.forward_module()
    module.train()
    named_groups = hasattr(stage, "optimizer_groups")
    window: dict[str, float] = {}
    window_n = 0
    examples = 0
    last_train: dict[str, float] = {}
    t_start = t_window = time.perf_counter()
    window_examples = 0

    while loop["step"] < cfg.max_steps:
        skip, yielded = loop["batch_in_epoch"], 0
        for i, batch in enumerate(stage.train_batches(loop["epoch"], ctx.rank, ctx.world_size)):
            yielded += 1
            if i < skip:  # resumed mid-epoch: these batches were trained on before the kill
                continue
            with engine.micro_context():  # DDP: no gradient sync before the boundary
                out = stage.training_step(module, move_to_device(batch, ctx.device))
                if not torch.isfinite(out.loss.detach()):
                    raise FloatingPointError(
                        f"stage '{stage.name}': loss is {out.loss.item()} at step "
                        f"{loop['step']}"
                    )
                stepped, grad_norm = engine.micro_step(out.loss)
            loop["batch_in_epoch"] = i + 1
            n = out.num_examples * ctx.world_size
            examples += n
            window_examples += n
            window["loss"] = window.get("loss", 0.0) + float(out.loss.detach())
            for k, v in out.logs.items():
                window[k] = window.get(k, 0.0) + float(v)
            window_n += 1
            if not stepped:
                continue
            loop["step"] += 1
            step = loop["step"]
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                elapsed = time.perf_counter() - t_window
                last_train = {k: v / window_n for k, v in window.items()}
                last_train["lr"] = engine.lr()
                if named_groups:
                    last_train.update({f"lr/{k}": v for k, v in engine.lrs().items()})
                if grad_norm is not None and math.isfinite(grad_norm):
                    last_train["grad_norm"] = grad_norm
                last_train["examples_per_s"] = window_examples / max(elapsed, 1e-9)
                logger.log(step, "train", last_train)
                bar.set_postfix(loss=f"{last_train['loss']:.4f}", lr=f"{last_train['lr']:.2e}")
                window, window_n, window_examples = {}, 0, 0
                t_window = time.perf_counter()
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.max_steps:
                metrics = _evaluate(stage, engine)
                loop["eval_history"].append({"step": step, **metrics})
                logger.log(step, "eval", metrics)
            if cfg.ckpt_every and step % cfg.ckpt_every == 0 and step < cfg.max_steps:
                save_checkpoint()
            if step >= cfg.max_steps:
                break
        else:
            if yielded == 0:
                raise ValueError(
                    f"stage '{stage.name}' yielded no training batches for epoch "
                    f"{loop['epoch']} on rank {ctx.rank} of {ctx.world_size}"
                )
            loop["epoch"] += 1
            loop["batch_in_epoch"] = 0
    bar.close()
    wall = time.perf_counter() - t_start

    final_eval = _evaluate(stage, engine)
    loop["eval_history"].append({"step": loop["step"], **final_eval})
    logger.log(loop["step"], "eval", final_eval)
    folder = save_checkpoint()
    state_dict = engine.full_state_dict()  # collective under ZeRO-3
    weights = stage_dir / WEIGHTS_FILE
    metrics = {
        "schema": SCHEMA, "stage": stage.name, "status": "complete",
        "step": loop["step"], "max_steps": cfg.max_steps, "epoch": loop["epoch"],
        "engine": engine.kind, "zero_stage": engine.zero_stage, "world_size": ctx.world_size,
        "fingerprint": fingerprint, "resumed_from": resumed_from,
        "train": {**last_train, "examples": examples,
                  "examples_per_s": examples / max(wall, 1e-9), "wall_s": wall},
        "eval": final_eval, "eval_history": loop["eval_history"],
        "checkpoint": str(folder.relative_to(stage_dir)), "weights": WEIGHTS_FILE,
    }
    if ctx.is_main:
        save_torch_atomic(state_dict, weights)
        stage.export(engine.module, state_dict, stage_dir)
        write_json_atomic(stage_dir / "metrics.json", metrics)
        plot_curves(stage_dir / "metrics.csv", stage_dir / "curves.png")
    logger.close()
    ctx.barrier()
    return TrainResult(stage_dir, metrics, weights)
