"""The teacher: front end -> backbone -> head, with its settings (the ``teacher`` group)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.data.features import FbankConfig, LogMelConfig, SpecAugmentConfig, spec_augment
from hacd_graph.gnn import ConceptEncoder, GNNConfig
from hacd_graph.teacher.backbones import ASTBackbone, ASTBackboneConfig, CNNBackbone, CNNConfig
from hacd_graph.teacher.frontend import (
    FrontendConfig,
    bin_centres_hz,
    fbank_from_logmel,
    frames_per_second,
    make_frontend,
    num_mels,
    silence_value,
)
from hacd_graph.teacher.heads import FlatHead, GraphConditionedHead
from hacd_graph.teacher.losses import LOSSES, concept_probabilities
from hacd_graph.teacher.robustness import RobustnessConfig, vary_features

AST_INPUTS = ("fbank", "logmel")


@dataclass
class TeacherConfig:
    """Settings of the teacher model.

    Args:
        backbone: ``"cnn"`` (PANNs family, default) or ``"ast"``.
        head: ``"graph"`` (graph-conditioned, conditional logits) or ``"flat"``.
        head_residual: graph head only: add a free per-concept classifier to the generated
            one (``GraphConditionedHead(residual=True)``).
        loss: ``"marginal_bce"``, ``"chmcnn"`` or ``"bce"`` (see ``teacher.losses``).
        frontend: log-mel settings (``LogMelConfig`` fields).
        specaugment: mask time/frequency bands of the features in training mode.
        specaugment_config: ``SpecAugmentConfig`` fields (mask counts and widths).
        cnn: ``CNNConfig`` fields.
        ast: ``ASTBackboneConfig`` fields.
        ast_input: what the AST backbone reads: ``"fbank"`` (default: AST's normalised
            Kaldi fbank, as ``transformers.ASTFeatureExtractor`` makes it, with the
            front end's rate, bins, window and hop) or ``"logmel"`` (the project's log-mel).
        robustness: ``RobustnessConfig`` fields (length, offset, silence, gain and
            bandwidth variation in training mode; ``hacd_graph.teacher.robustness``).
    """

    backbone: str = "cnn"
    head: str = "graph"
    head_residual: bool = False
    loss: str = "marginal_bce"
    frontend: dict[str, Any] = field(default_factory=dict)
    specaugment: bool = True
    specaugment_config: dict[str, Any] = field(default_factory=dict)
    cnn: dict[str, Any] = field(default_factory=dict)
    ast: dict[str, Any] = field(default_factory=dict)
    ast_input: str = "fbank"
    robustness: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ast_input not in AST_INPUTS:
            raise ValueError(f"teacher.ast_input must be one of {AST_INPUTS}, "
                             f"got {self.ast_input!r}")
        if self.backbone not in ("cnn", "ast"):
            raise ValueError(f"teacher.backbone must be 'cnn' or 'ast', got {self.backbone!r}")
        if self.head not in ("graph", "flat"):
            raise ValueError(f"teacher.head must be 'graph' or 'flat', got {self.head!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"teacher.loss must be one of {LOSSES}, got {self.loss!r}")
        if self.head == "flat" and self.loss == "marginal_bce":
            raise ValueError("teacher.head=flat gives marginal logits: use teacher.loss=bce "
                             "or chmcnn, not marginal_bce")
        if self.head_residual and self.head != "graph":
            raise ValueError("teacher.head_residual=true needs teacher.head=graph (the flat "
                             "head is free already)")

    @property
    def logmel(self) -> FrontendConfig:
        """The front end's settings: ``LogMelConfig``, or ``FbankConfig`` for the AST
        backbone reading AST's fbank (the feature cache is keyed by them)."""
        logmel = LogMelConfig(**self.frontend)
        if self.backbone == "ast" and self.ast_input == "fbank":
            return fbank_from_logmel(logmel)
        return logmel


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

    In training mode (``model.train()``) the features are varied in length, offset,
    silence, gain and bandwidth (``teacher.robustness``), then SpecAugment masks them, each
    when enabled. A clip padded with digital silence pools to the same embedding as the
    clip itself (``CNNConfig.mask_silence``); use
    :func:`hacd_graph.teacher.robustness.windowed_probs` for files longer than a window.
    """

    def __init__(self, ach: ConceptHierarchy, config: TeacherConfig,
                 gnn: GNNConfig | None = None):
        super().__init__()
        self.config = config
        self.num_concepts = len(ach)
        feats = config.logmel
        self.frontend = make_frontend(feats)
        self.silence = silence_value(self.frontend, feats.sample_rate)
        self.frames_per_second = frames_per_second(feats)
        self.robustness = RobustnessConfig(**config.robustness)
        self.register_buffer("bin_centres", bin_centres_hz(feats), persistent=False)
        if config.backbone == "cnn":
            self.backbone: nn.Module = CNNBackbone(num_mels(feats), CNNConfig(**config.cnn),
                                                   silence_floor=self.silence)
        else:
            # pad as ASTFeatureExtractor does: a zero fbank, normalised
            pad = (-feats.norm_mean / (2 * feats.norm_std)
                   if isinstance(feats, FbankConfig) else self.silence)
            self.backbone = ASTBackbone(num_mels(feats), ASTBackboneConfig(**config.ast),
                                        pad_value=pad)
        if config.head == "graph":
            self.head: nn.Module = GraphConditionedHead(
                self.backbone.out_dim, ConceptEncoder(ach, gnn or GNNConfig()),
                residual=config.head_residual,
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
        if self.training and self.robustness.enabled:
            features = vary_features(features, self.silence, self.frames_per_second,
                                     self.bin_centres, self.robustness)
        if self.training and self.config.specaugment:
            features = spec_augment(features, SpecAugmentConfig(**self.config.specaugment_config))
        embedding, frames = self.backbone(features)
        logits, nodes = self.head(embedding)
        probs = concept_probabilities(self.config.loss, logits, self.ancestors)
        return TeacherOutput(logits, probs, embedding, frames, nodes)
