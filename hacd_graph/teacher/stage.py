"""The teacher training stage: what the one training loop needs to train a teacher.

:class:`TeacherStage` provides the model, data, loss, evaluation and export of the
``Stage`` protocol (``hacd_graph.training.stage``) without importing the loop.
:func:`load_teacher` rebuilds a trained teacher from its stage folder (for distillation).

Files written into the stage folder by :meth:`TeacherStage.export` (besides the loop's
``model.pt``, ``metrics.json``, ``metrics.csv`` and ``ckpt/``):

- ``teacher.json``: ``{"teacher": TeacherConfig, "gnn": GNNConfig, "num_concepts": N}``;
- ``concept_embeddings.pt``: the GNN's node embeddings ``[N, Dc]`` (graph head only).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.atomic_io import save_torch_atomic, write_json_atomic
from hacd_graph.eval.metrics import hierarchical_metrics
from hacd_graph.gnn import GNNConfig
from hacd_graph.teacher.data import (
    FEATURE_MODES,
    FeatureStream,
    StreamSource,
    cached_batches,
    cached_features,
    epoch_order,
    open_clips,
    open_stream,
    rank_batch_limit,
    stream_batches,
    waveform_batches,
)
from hacd_graph.teacher.losses import teacher_loss
from hacd_graph.teacher.model import TeacherConfig, TeacherModel


@dataclasses.dataclass
class StepResult:
    """One micro-batch's loss (matches ``hacd_graph.training.StepOutput`` structurally)."""

    loss: torch.Tensor
    num_examples: int
    logs: Mapping[str, float]


class TeacherStage:
    """Train a graph-conditioned (or flat) teacher on a manifest folder.

    Args:
        ach: the hierarchy.
        teacher: the model's settings.
        gnn: the concept encoder's settings.
        train_dir: folder with ``manifest.jsonl`` of the training clips (unused, and may be
            ``None``, when ``source`` is given).
        eval_dir: folder of the held-out clips (evaluated with cached features).
        batch_size: clips per rank and micro-step.
        seed: seed of the epoch orders.
        features: ``"cached"`` or ``"on_the_fly"`` (see ``hacd_graph.teacher.data``); a
            ``source`` always computes features in the DataLoader workers.
        num_workers: DataLoader workers for ``on_the_fly`` and for ``source``.
        eval_batch_size: clips per evaluation forward pass.
        show_progress: tqdm bars while caching features.
        source: stream the training clips from shards or the generator instead of
            ``train_dir`` (clips fitted to the eval clips' length).
    """

    name = "teacher"

    def __init__(self, ach: ConceptHierarchy, teacher: TeacherConfig, gnn: GNNConfig,
                 train_dir: str | Path | None, eval_dir: str | Path, batch_size: int,
                 seed: int = 0, features: str = "cached", num_workers: int = 0,
                 eval_batch_size: int = 64, show_progress: bool = True,
                 source: StreamSource | None = None):
        if features not in FEATURE_MODES:
            raise ValueError(f"data.features must be one of {FEATURE_MODES}, got {features!r}")
        if source is None and train_dir is None:
            raise ValueError("TeacherStage needs a train_dir or a stream source")
        self.ach, self.teacher, self.gnn = ach, teacher, gnn
        self.batch_size, self.seed, self.features_mode = batch_size, seed, features
        self.num_workers, self.eval_batch_size = num_workers, eval_batch_size
        self.source = source
        self._streams: dict[tuple[int, int], torch.utils.data.IterableDataset] = {}
        self.ancestors = ach.ancestor_table()
        logmel = teacher.logmel
        self.eval = open_clips(eval_dir, ach, logmel.sample_rate)
        if source is None:
            assert train_dir is not None
            self.train = open_clips(train_dir, ach, logmel.sample_rate)
            if features == "cached":
                self.train_features = cached_features(self.train, logmel,
                                                      show_progress=show_progress)
        self.eval_features = cached_features(self.eval, logmel, show_progress=show_progress)

    def build_model(self) -> nn.Module:
        return TeacherModel(self.ach, self.teacher, self.gnn)

    def train_batches(self, epoch: int, rank: int, world_size: int) -> Iterator[dict]:
        if self.source is not None:
            return self._stream_batches(epoch, rank, world_size)
        order = epoch_order(len(self.train), self.seed, epoch, rank, world_size,
                            self.batch_size)
        if self.features_mode == "cached":
            return cached_batches(self.train_features, self.train.targets, order)
        return waveform_batches(self.train, order, self.num_workers)

    def _stream_batches(self, epoch: int, rank: int, world_size: int) -> Iterator[dict]:
        """This rank's batches of the streamed epoch (every rank takes as many)."""
        assert self.source is not None
        clips = self._streams.get((rank, world_size))
        if clips is None:
            clips = open_stream(self.source, self.ach, self.teacher.logmel.sample_rate,
                                self.eval.num_samples, rank, world_size)
            self._streams[(rank, world_size)] = clips
        limit = rank_batch_limit(clips, epoch, world_size, self.num_workers, self.batch_size)
        if limit == 0:
            raise ValueError(f"data.source={self.source.kind}: a rank of {world_size} gets no "
                             f"clips with {max(self.num_workers, 1)} workers each (more, "
                             "smaller shards: --shard-size)")
        return stream_batches(FeatureStream(clips, self.teacher.logmel), epoch,
                              self.batch_size, self.num_workers, limit)

    def training_step(self, model: nn.Module, batch: dict) -> StepResult:
        dtype = next(model.parameters()).dtype  # bf16/fp16 under DeepSpeed: batches follow
        if "features" in batch:
            out = model(features=batch["features"].to(dtype))
        else:
            out = model(waveform=batch["audio"].to(dtype))
        targets = batch["target"]
        loss = teacher_loss(self.teacher.loss, out.logits.float(), targets,
                            self.ancestors.to(targets.device))
        return StepResult(loss, len(targets), {})

    def predict(self, model: nn.Module, features: torch.Tensor) -> torch.Tensor:
        """Marginal concept probabilities ``[C, N]`` of cached ``features`` ``[C, T, M]``."""
        return predict_probs(model, features, self.eval_batch_size)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        probs = self.predict(model, self.eval_features)
        y = self.eval.targets
        log_p = probs.clamp(1e-7, 1 - 1e-7)
        bce = -(y * log_p.log() + (1 - y) * (1 - log_p).log()).mean()
        return {"bce": float(bce), **hierarchical_metrics(probs, y, self.ach)}

    def export(self, model: nn.Module, state_dict: Mapping[str, torch.Tensor],
               out_dir: Path) -> None:
        write_json_atomic(out_dir / "teacher.json", {
            "teacher": dataclasses.asdict(self.teacher), "gnn": dataclasses.asdict(self.gnn),
            "num_concepts": len(self.ach),
        })
        if self.teacher.head == "graph":
            fresh = self.build_model().eval()
            fresh.load_state_dict(state_dict)
            with torch.no_grad():
                save_torch_atomic(fresh.head.concepts().cpu(), out_dir / "concept_embeddings.pt")


def predict_probs(model: nn.Module, features: torch.Tensor, batch_size: int = 64
                  ) -> torch.Tensor:
    """Marginal concept probabilities ``[C, N]`` (float32, CPU) of ``features`` ``[C, T, M]``,
    in the model's current mode."""
    param = next(model.parameters())
    probs = []
    for start in range(0, len(features), batch_size):
        batch = features[start : start + batch_size].to(param.device, param.dtype)
        probs.append(model(features=batch).probs.float().cpu())
    return torch.cat(probs)


def load_teacher(stage_dir: str | Path, ach: ConceptHierarchy) -> TeacherModel:
    """Rebuild a trained teacher from its stage folder (``teacher.json`` + ``model.pt``).

    Args:
        stage_dir: ``<run>/teacher``.
        ach: the run's hierarchy (``ConceptHierarchy.load(<run>/ach.json)``).

    Returns:
        The model in eval mode, on the CPU.

    Raises:
        FileNotFoundError: the folder holds no finished teacher.
        ValueError: the hierarchy's size differs from the one the teacher was trained on.
    """
    stage_dir = Path(stage_dir)
    meta_path, weights = stage_dir / "teacher.json", stage_dir / "model.pt"
    if not meta_path.exists() or not weights.exists():
        raise FileNotFoundError(f"{stage_dir} holds no finished teacher "
                                "(teacher.json and model.pt are written at the end)")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    if meta["num_concepts"] != len(ach):
        raise ValueError(f"the teacher in {stage_dir} was trained on {meta['num_concepts']} "
                         f"concepts, the hierarchy given has {len(ach)}")
    model = TeacherModel(ach, TeacherConfig(**meta["teacher"]), GNNConfig(**meta["gnn"]))
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    return model.eval()
