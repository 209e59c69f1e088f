"""``PretrainedBridge``: what every bridge shares: its config, saving, loading, output head.

A saved bridge is a folder with ``config.json`` (:class:`BridgeConfig`) and
``model.safetensors`` (the state dict); loading rebuilds the module from the config and
loads the weights strictly, so ``from_pretrained(save_pretrained(b))`` is ``b`` bit for bit.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hacd_graph.bridge.config import CONFIG_NAME, WEIGHTS_NAME, BridgeConfig


@dataclass
class BridgeOutput:
    """What a bridge returns when asked for its attention weights.

    Attributes:
        embeddings: the soft tokens, [B, Q, H].
        audio_attentions: one tensor per layer, [B, heads, Q, T]: how much each query
            read each audio frame (rows sum to 1 over valid frames).
        concept_attentions: one tensor per layer, [B, heads, Q, N]: how much each query
            read each concept (rows sum to at most 1; the rest went to the null slot).
            None for a bridge that does not read concepts.
    """

    embeddings: torch.Tensor
    audio_attentions: tuple[torch.Tensor, ...] = ()
    concept_attentions: tuple[torch.Tensor, ...] | None = None


class PretrainedBridge(nn.Module):
    """Base class of the bridges: config handling, ``save_pretrained`` / ``from_pretrained``.

    Subclasses set ``bridge_type`` (the value of ``BridgeConfig.bridge_type`` they accept),
    build their layers in ``__init__(config)`` and keep their last layer, the map from the
    bridge width to the LLM hidden size, as ``self.output_projection`` (an ``nn.Linear``):
    :func:`hacd_graph.bridge.transfer.reproject_bridge` swaps exactly that layer.
    """

    bridge_type: str = ""
    output_projection: nn.Linear

    def __init__(self, config: BridgeConfig) -> None:
        super().__init__()
        if config.bridge_type != self.bridge_type:
            raise ValueError(
                f"{type(self).__name__} needs bridge_type={self.bridge_type!r}, "
                f"got {config.bridge_type!r}"
            )
        self.config = config

    @property
    def num_queries(self) -> int:
        """Q, the number of soft tokens per clip (= audio placeholders per prompt)."""
        return self.config.num_queries

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``save_directory``.

        Both files are written to temporary names first and renamed into place, so an
        interrupted save never leaves a half-written bridge. Returns the directory.
        """
        directory = Path(save_directory)
        self.config.to_json_file(directory / CONFIG_NAME)
        save_weights(self, directory / WEIGHTS_NAME)
        return directory

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> PretrainedBridge:
        """Load a bridge saved by :meth:`save_pretrained`.

        Called on ``PretrainedBridge`` itself it returns whichever bridge type the config
        names; called on a subclass, the saved type must match.

        Raises:
            FileNotFoundError: the folder lacks ``config.json`` or ``model.safetensors``.
            ValueError: the saved type is not this class's.
        """
        directory = Path(directory)
        config = BridgeConfig.from_json_file(directory / CONFIG_NAME)
        bridge = build_bridge(config) if cls is PretrainedBridge else cls(config)
        load_weights(bridge, directory / WEIGHTS_NAME, map_location)
        return bridge


def save_weights(module: nn.Module, path: Path) -> None:
    """Write ``module.state_dict()`` to a safetensors file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".weights.", suffix=".safetensors")
    os.close(fd)
    save_file(state, tmp, metadata={"format": "pt", "module": type(module).__name__})
    os.replace(tmp, path)


def load_weights(module: nn.Module, path: Path,
                 map_location: str | torch.device = "cpu") -> None:
    """Load a safetensors file written by :func:`save_weights` into ``module`` (strict)."""
    if not path.is_file():
        raise FileNotFoundError(f"no weights at {path}")
    module.load_state_dict(load_file(str(path), device=str(map_location)), strict=True)


def build_bridge(config: BridgeConfig) -> PretrainedBridge:
    """Return a freshly initialised bridge of the type ``config.bridge_type`` names."""
    # Imported here: the concrete bridges import this module.
    from hacd_graph.bridge.hierarchical_bridge import HierarchicalBridge
    from hacd_graph.bridge.mlp_bridge import MLPBridge

    classes = {HierarchicalBridge.bridge_type: HierarchicalBridge,
               MLPBridge.bridge_type: MLPBridge}
    return classes[config.bridge_type](config)


def load_bridge(directory: str | os.PathLike) -> PretrainedBridge:
    """Load a saved bridge of any type (``PretrainedBridge.from_pretrained``)."""
    return PretrainedBridge.from_pretrained(directory)


def check_bridge_inputs(
    config: BridgeConfig,
    audio_features: torch.Tensor,
    concept_embeddings: torch.Tensor | None,
    concept_probs: torch.Tensor | None,
    audio_mask: torch.Tensor | None,
    need_concepts: bool,
) -> None:
    """Raise a ValueError naming the argument and shape when inputs do not fit ``config``."""
    if audio_features.dim() != 3 or audio_features.shape[-1] != config.audio_dim:
        raise ValueError(
            f"audio_features must be [B, T, {config.audio_dim}], got "
            f"{list(audio_features.shape)}"
        )
    batch, frames = audio_features.shape[:2]
    if frames == 0:
        raise ValueError("audio_features has no frames (T = 0)")
    if audio_mask is not None:
        if audio_mask.shape != (batch, frames):
            raise ValueError(
                f"audio_mask must be [B, T] = [{batch}, {frames}], got {list(audio_mask.shape)}"
            )
        empty = (~audio_mask.bool()).all(dim=1).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f"audio_mask has no valid frame for samples {empty}")
    if not need_concepts:
        return
    if concept_embeddings is None or concept_probs is None:
        raise ValueError("this bridge needs concept_embeddings [N, Dc] and concept_probs [B, N]")
    if concept_embeddings.dim() != 2 or concept_embeddings.shape[1] != config.concept_dim:
        raise ValueError(
            f"concept_embeddings must be [N, {config.concept_dim}], got "
            f"{list(concept_embeddings.shape)}"
        )
    n = concept_embeddings.shape[0]
    if concept_probs.shape != (batch, n):
        raise ValueError(
            f"concept_probs must be [B, N] = [{batch}, {n}] (batch of audio_features, "
            f"rows of concept_embeddings), got {list(concept_probs.shape)}"
        )
