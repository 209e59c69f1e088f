"""The teacher: front end -> backbone -> head, with its settings (the ``teacher`` group)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.data.features import LogMel, LogMelConfig, SpecAugmentConfig, spec_augment
from hacd_graph.gnn import ConceptEncoder, GNNConfig
from hacd_graph.teacher.backbones import ASTBackbone, ASTBackboneConfig, CNNBackbone, CNNConfig
from hacd_graph.teacher.heads import FlatHead, GraphConditionedHead
from hacd_graph.teacher.losses import LOSSES, concept_probabilities


@dataclass
class TeacherConfig:
    """Settings of the teacher model.

    Args:
        backbone: ``"cnn"`` (PANNs family, default) or ``"ast"``.
        head: ``"graph"`` (graph-conditioned, conditional logits) or ``"flat"``.
        loss: ``"marginal_bce"``, ``"chmcnn"`` or ``"bce"`` (see ``teacher.losses``).
        frontend: log-mel settings (``LogMelConfig`` fields).
        specaugment: mask time/frequency bands of the features in training mode.
        specaugment_config: ``SpecAugmentConfig`` fields (mask counts and widths).
        cnn: ``CNNConfig`` fields.
        ast: ``ASTBackboneConfig`` fields.
    """

    backbone: str = "cnn"
    head: str = "graph"
    loss: str = "marginal_bce"
    frontend: dict[str, Any] = field(default_factory=dict)
    specaugment: bool = True
    specaugment_config: dict[str, Any] = field(default_factory=dict)
    cnn: dict[str, Any] = field(default_factory=dict)
    ast: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backbone not in ("cnn", "ast"):
            raise ValueError(f"teacher.backbone must be 'cnn' or 'ast', got {self.backbone!r}")
        if self.head not in ("graph", "flat"):
            raise ValueError(f"teacher.head must be 'graph' or 'flat', got {self.head!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"teacher.loss must be one of {LOSSES}, got {self.loss!r}")
        if self.head == "flat" and self.loss == "marginal_bce":
            raise ValueError("teacher.head=flat gives marginal logits: use teacher.loss=bce "
                             "or chmcnn, not marginal_bce")

    @property
    def logmel(self) -> LogMelConfig:
        """The front end's settings."""
        return LogMelConfig(**self.frontend)


@dataclass
class TeacherOutput:
    """What the teacher returns for a batch.

    Args:
        logits: ``[B, N]`` (conditional for ``marginal_bce``, else marginal).
        probs: ``[B, N]`` marginal concept probabilities.
        embedding: ``[B, D]`` clip embedding.
        frames: ``[B, T', D]`` frame features (for the bridge).
        concept_embeddings: ``[N, Dc]`` node embeddings (``None`` for the flat head).
    """

    logits: torch.Tensor
    probs: torch.Tensor
    embedding: torch.Tensor
    frames: torch.Tensor
    concept_embeddings: torch.Tensor | None


class TeacherModel(nn.Module):
    """Audio -> concept logits, probabilities, embeddings and frame features.

    Args:
        ach: the hierarchy (its ancestor table is kept as a buffer).
        config: the teacher's settings.
        gnn: the concept encoder's settings (graph head only).

    Shapes:
        waveform ``[B, S]`` or features ``[B, T, M]`` -> :class:`TeacherOutput`.

    In training mode (``model.train()``) SpecAugment masks the features when enabled.
    """

    def __init__(self, ach: ConceptHierarchy, config: TeacherConfig,
                 gnn: GNNConfig | None = None):
        super().__init__()
        self.config = config
        self.num_concepts = len(ach)
        logmel = config.logmel
        self.frontend = LogMel(logmel)
        if config.backbone == "cnn":
            self.backbone: nn.Module = CNNBackbone(logmel.n_mels, CNNConfig(**config.cnn))
        else:
            self.backbone = ASTBackbone(logmel.n_mels, ASTBackboneConfig(**config.ast))
        if config.head == "graph":
            self.head: nn.Module = GraphConditionedHead(
                self.backbone.out_dim, ConceptEncoder(ach, gnn or GNNConfig())
            )
        else:
            self.head = FlatHead(self.backbone.out_dim, len(ach))
        self.register_buffer("ancestors", ach.ancestor_table(), persistent=False)

    def forward(self, waveform: torch.Tensor | None = None,
                features: torch.Tensor | None = None) -> TeacherOutput:
        if (waveform is None) == (features is None):
            raise ValueError("TeacherModel takes exactly one of waveform [B, S] or "
                             "features [B, T, M]")
        if features is None:
            features = self.frontend(waveform)
        if self.training and self.config.specaugment:
            features = spec_augment(features, SpecAugmentConfig(**self.config.specaugment_config))
        embedding, frames = self.backbone(features)
        logits, nodes = self.head(embedding)
        probs = concept_probabilities(self.config.loss, logits, self.ancestors)
        return TeacherOutput(logits, probs, embedding, frames, nodes)
