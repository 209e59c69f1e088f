"""The pipeline behind ``train.py``: the stages that exist, in order, in one run directory.

Run directory (DESIGN.md "Run directory")::

    <run.dir>/config.yaml        the composed config, resolved
    <run.dir>/ach.json           the hierarchy
    <run.dir>/data/train, eval   synthetic clips (unless data.root names existing folders)
    <run.dir>/teacher/           model.pt, metrics.json, metrics.csv, ckpt/, teacher.json,
                                 concept_embeddings.pt

Every stage is resumable: rerunning the same command after a kill skips finished work
(written atomically) and resumes training from the latest checkpoint.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hacd_graph.ach import ConceptHierarchy, build_ach
from hacd_graph.atomic_io import write_text_atomic
from hacd_graph.gnn import GNNConfig
from hacd_graph.teacher import TeacherConfig
from hacd_graph.teacher.stage import TeacherStage
from hacd_graph.training import (
    DistributedContext,
    TrainerConfig,
    TrainResult,
    config_from_mapping,
    fit,
)

STAGES = ("ach", "data", "teacher")


@dataclasses.dataclass
class DataConfig:
    """Where the clips come from (the Hydra ``data`` group).

    Args:
        root: a folder holding ``train/`` and ``eval/`` manifests to use as they are;
            ``None`` generates synthetic clips into ``<run>/data``.
        train_clips, eval_clips: clips to generate per split.
        train_seed, eval_seed: generator seeds (different seeds: a held-out split).
        duration_s: clip length in seconds.
        synth_workers: processes generating clips.
        features: ``"cached"`` or ``"on_the_fly"`` log-mel features for training.
        num_workers: DataLoader workers for ``on_the_fly``.
    """

    root: str | None = None
    train_clips: int = 600
    eval_clips: int = 200
    train_seed: int = 1
    eval_seed: int = 2
    duration_s: float = 2.0
    synth_workers: int = 2
    features: str = "cached"
    num_workers: int = 0


def _container(cfg: DictConfig, key: str) -> dict[str, Any]:
    return OmegaConf.to_container(cfg[key], resolve=True) if key in cfg else {}  # type: ignore[return-value]


def stage_ach(cfg: DictConfig, run_dir: Path, ctx: DistributedContext) -> ConceptHierarchy:
    """Build the hierarchy from the ``ach`` group and save ``ach.json`` (rank 0)."""
    spec = _container(cfg, "ach")
    sources = spec.pop("sources", ["core"])
    ontology = spec.pop("audioset_ontology", None)
    ach = build_ach(tuple(sources), audioset_ontology=ontology,
                    **{k: v for k, v in spec.items() if v is not None})
    if ctx.is_main:
        ach.save(run_dir / "ach.json")
    return ach


def stage_data(cfg: DataConfig, run_dir: Path, ctx: DistributedContext) -> tuple[Path, Path]:
    """The train and eval folders: ``data.root``'s, or synthetic ones made by rank 0."""
    if cfg.root is not None:
        root = Path(cfg.root)
        return root / "train", root / "eval"
    from hacd_graph.data.export import write_synthetic
    from hacd_graph.data.synth.scene import SceneConfig

    root = run_dir / "data"
    if ctx.is_main:
        scene = SceneConfig(duration_s=cfg.duration_s)
        for split, n, seed in (("train", cfg.train_clips, cfg.train_seed),
                               ("eval", cfg.eval_clips, cfg.eval_seed)):
            write_synthetic(root / split, n, seed=seed, config=scene,
                            workers=cfg.synth_workers, progress=True)
    ctx.barrier()
    return root / "train", root / "eval"


def stage_teacher(cfg: DictConfig, ach: ConceptHierarchy, data: DataConfig,
                  folders: tuple[Path, Path], run_dir: Path, ctx: DistributedContext,
                  use_deepspeed: bool) -> TrainResult:
    """Train the teacher through the one training loop into ``<run>/teacher``."""
    trainer = config_from_mapping(TrainerConfig, _container(cfg, "trainer"), "trainer")
    teacher = config_from_mapping(TeacherConfig, _container(cfg, "teacher"), "teacher")
    gnn = config_from_mapping(GNNConfig, _container(cfg, "gnn"), "gnn")

    def make() -> TeacherStage:
        return TeacherStage(ach, teacher, gnn, folders[0], folders[1], trainer.batch_size,
                            seed=trainer.seed, features=data.features,
                            num_workers=data.num_workers, show_progress=ctx.is_main)

    # rank 0 fills the feature caches first; the others then read them
    stage = make() if ctx.is_main else None
    ctx.barrier()
    stage = stage or make()
    ds = _container(cfg, "deepspeed") if use_deepspeed else None
    return fit(stage, trainer, run_dir / "teacher", ctx, deepspeed=ds)


def run_pipeline(cfg: DictConfig, ctx: DistributedContext, use_deepspeed: bool
                 ) -> dict[str, Any]:
    """Run the configured stages (``run.stages``, a prefix-closed subset of ach, data,
    teacher) into ``run.dir``.

    Args:
        cfg: the composed config.
        ctx: this process's rank, world size and device.
        use_deepspeed: train with the DeepSpeed engine (``deepspeed`` group) rather than
            plain PyTorch (``train.py`` decides: launched by a launcher and enabled).

    Returns:
        ``{"run_dir": Path, "teacher": TrainResult | None, "seconds": {stage: s}}``.
    """
    run_dir = Path(cfg.run.dir)
    stages = list(cfg.run.stages)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"run.stages: unknown stage(s) {unknown}; this build has {STAGES}")
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    ctx.barrier()
    seconds: dict[str, float] = {}
    out: dict[str, Any] = {"run_dir": run_dir, "teacher": None, "seconds": seconds}

    t = time.perf_counter()
    ach = stage_ach(cfg, run_dir, ctx)
    seconds["ach"] = time.perf_counter() - t
    if "data" not in stages:
        return out
    data = config_from_mapping(DataConfig, _container(cfg, "data"), "data")
    t = time.perf_counter()
    folders = stage_data(data, run_dir, ctx)
    seconds["data"] = time.perf_counter() - t
    if "teacher" not in stages:
        return out
    t = time.perf_counter()
    out["teacher"] = stage_teacher(cfg, ach, data, folders, run_dir, ctx, use_deepspeed)
    seconds["teacher"] = time.perf_counter() - t
    return out
