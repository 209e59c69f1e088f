"""``GraphConceptHead``: concept logits read off the LLM, with weights generated from the graph.

For the LLM's hidden state ``h`` at a summary position and the concept node embeddings
``e_c`` (the GNN output), the head returns the *conditional* logit of every concept:

    z[b, c] = < LN(h[b]), P · e_c > / sqrt(H)  +  b_c,     b_c = <w, e_c> + b_0  (+ β_c)

``P`` (H x Dc) maps concept embeddings into the LLM's space, so the classifier of concept c is
generated from the graph (as in ML-GCN, https://arxiv.org/abs/1904.03582) and the head
works for any hierarchy size N. The bias is graph-generated too; a free per-concept bias
β_c is added only when ``num_concepts`` is fixed. ``σ(z[b, c])`` is read as
P(c present | its parents present), the form the hierarchical distillation loss expects.
The 1/sqrt(H) keeps the logits O(1) at initialisation (LN(h) has unit-scale entries).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from hacd_graph.bridge.config import CONFIG_NAME, WEIGHTS_NAME
from hacd_graph.bridge.pretrained import load_weights, save_weights


@dataclass
class ConceptHeadConfig:
    """Settings of :class:`GraphConceptHead`.

    Args:
        hidden_size: H, the LLM hidden size.
        concept_dim: Dc, the concept embedding size.
        num_concepts: N when the hierarchy is fixed (adds a free bias per concept); None
            keeps the head independent of N. Default None.
    """

    hidden_size: int
    concept_dim: int
    num_concepts: int | None = None


class GraphConceptHead(nn.Module):
    """Graph-conditioned multi-label head: conditional concept logits from a hidden state.

    Args:
        config: a :class:`ConceptHeadConfig`.

    Shapes:
        - hidden: [B, H] (the LLM's last hidden state at the summary position).
        - concept_embeddings: [N, Dc].
        - output: [B, N] conditional logits.
    """

    def __init__(self, config: ConceptHeadConfig) -> None:
        super().__init__()
        self.config = config
        self.norm = nn.LayerNorm(config.hidden_size)
        self.concept_projection = nn.Linear(config.concept_dim, config.hidden_size, bias=False)
        self.concept_bias = nn.Linear(config.concept_dim, 1)
        self.free_bias = (
            nn.Parameter(torch.zeros(config.num_concepts)) if config.num_concepts else None
        )

    def forward(self, hidden: torch.Tensor, concept_embeddings: torch.Tensor) -> torch.Tensor:
        """Return the conditional logits [B, N] (see the module docstring)."""
        if hidden.dim() != 2 or hidden.shape[1] != self.config.hidden_size:
            raise ValueError(
                f"hidden must be [B, {self.config.hidden_size}], got {list(hidden.shape)}"
            )
        if concept_embeddings.dim() != 2 or concept_embeddings.shape[1] != self.config.concept_dim:
            raise ValueError(
                f"concept_embeddings must be [N, {self.config.concept_dim}], got "
                f"{list(concept_embeddings.shape)}"
            )
        dtype = self.concept_projection.weight.dtype
        e = concept_embeddings.to(dtype)
        weight = self.concept_projection(e)  # [N, H]
        logits = self.norm(hidden.to(dtype)) @ weight.T / math.sqrt(self.config.hidden_size)
        logits = logits + self.concept_bias(e).squeeze(-1)
        if self.free_bias is not None:
            if e.shape[0] != self.free_bias.shape[0]:
                raise ValueError(
                    f"this head was built for {self.free_bias.shape[0]} concepts, got "
                    f"{e.shape[0]} concept embeddings"
                )
            logits = logits + self.free_bias
        return logits

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(dataclasses.asdict(self.config)))
        save_weights(self, directory / WEIGHTS_NAME)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> GraphConceptHead:
        """Load a head saved by :meth:`save_pretrained`."""
        directory = Path(directory)
        config = ConceptHeadConfig(**json.loads((directory / CONFIG_NAME).read_text()))
        head = cls(config)
        load_weights(head, directory / WEIGHTS_NAME)
        return head
