"""``BridgeConfig``: the settings of an audio-to-LLM bridge, saved as JSON beside its weights.

The config is a plain dataclass that round-trips through ``config.json`` exactly
(``to_json_file`` / ``from_json_file``), in the spirit of a Hugging Face ``PretrainedConfig``
but with no dependency on a model family, so that another project can read it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hacd_graph.atomic_io import write_text_atomic

BRIDGE_TYPES = ("hierarchical", "mlp")
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class BridgeConfig:
    """Settings of a bridge from audio frames and concepts to LLM soft tokens.

    Dimension letters: B batch, T frames, N concepts, Q queries (``num_queries``),
    Da audio feature size, Dc concept embedding size, D bridge width, H LLM hidden size.

    Args:
        audio_dim: Da, size of one teacher frame feature.
        concept_dim: Dc, size of one concept node embedding (the GNN output).
        llm_hidden_size: H, hidden size of the LLM the soft tokens go into.
        num_queries: Q, number of soft tokens (= audio placeholders in the prompt). Default 32.
        num_layers: number of query blocks (self-attention, cross-attention to frames,
            cross-attention to concepts, MLP). Default 2.
        num_heads: attention heads; must divide ``hidden_size``. Default 8.
        hidden_size: D, the bridge's internal width. Default 256.
        mlp_ratio: width of each block's MLP relative to D. Default 4.
        dropout: dropout on attention weights and MLP outputs. Default 0.0.
        concept_top_k: when set, each sample attends only to its ``k`` most probable
            concepts (the rest have a vanishing prior weight anyway); keeps memory at
            O(B·Q·k) for hierarchies of many thousands of concepts. Default None (all N).
        prob_eps: floor of the concept probabilities before their log enters the attention
            logits. Default 1e-6.
        null_concept: add a learned "nothing" key/value to the concept attention, so a
            clip with no probable concept need not attend to one. Default True.
        bridge_type: ``"hierarchical"`` (:class:`HierarchicalBridge`) or ``"mlp"``
            (:class:`MLPBridge`, the LLaVA-style baseline that ignores the concepts).
        initializer_range: std of the normal initialisation of the queries. Default 0.02.
        teacher_probs: weight the concept attention by the teacher's probabilities. False
            gives every concept probability 1, so the bridge reads the concept embeddings
            without knowing which concepts the teacher heard (an ablation). Default True.
        match_text_norm: rescale every soft token to the mean norm of the prompt's text
            token embeddings (direction learned, length the LLM's own), so soft tokens
            cannot outweigh the text by their size (``AudioCausalLM.embed``). Default False.
    """

    audio_dim: int
    concept_dim: int
    llm_hidden_size: int
    num_queries: int = 32
    num_layers: int = 2
    num_heads: int = 8
    hidden_size: int = 256
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    concept_top_k: int | None = None
    prob_eps: float = 1e-6
    null_concept: bool = True
    bridge_type: str = "hierarchical"
    initializer_range: float = 0.02
    teacher_probs: bool = True
    match_text_norm: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("audio_dim", "concept_dim", "llm_hidden_size", "num_queries",
                     "num_heads", "hidden_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"BridgeConfig.{name} must be a positive int, got {value!r}")
        if self.num_layers < 0:
            raise ValueError(f"BridgeConfig.num_layers must be >= 0, got {self.num_layers}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"BridgeConfig.hidden_size={self.hidden_size} is not divisible by "
                f"num_heads={self.num_heads}"
            )
        if self.bridge_type not in BRIDGE_TYPES:
            raise ValueError(
                f"BridgeConfig.bridge_type={self.bridge_type!r}; expected one of {BRIDGE_TYPES}"
            )
        if self.concept_top_k is not None and self.concept_top_k <= 0:
            raise ValueError(f"BridgeConfig.concept_top_k must be positive or None, "
                             f"got {self.concept_top_k}")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BridgeConfig:
        """Build a config from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown BridgeConfig keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    def replace(self, **changes: Any) -> BridgeConfig:
        """Return a copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_json_file(self, path: str | os.PathLike) -> None:
        """Write the config as indented JSON, atomically (temp file then ``os.replace``)."""
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> BridgeConfig:
        """Read a config written by :meth:`to_json_file`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no bridge config at {path}")
        with path.open() as f:
            return cls.from_dict(json.load(f))
