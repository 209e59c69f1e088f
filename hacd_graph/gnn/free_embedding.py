"""The no-graph baseline (``gnn=none``): one free learned vector per concept."""

from __future__ import annotations

import torch
from torch import nn


class FreeEmbedding(nn.Module):
    """Learned node embeddings that ignore features and edges.

    Args:
        num_nodes: N.
        out_dim: D.

    Shapes:
        x, edge_index, edge_type: ignored -> ``[N, D]``.
    """

    def __init__(self, num_nodes: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_nodes, out_dim) * out_dim**-0.5)

    def forward(self, x: torch.Tensor | None = None, edge_index: torch.Tensor | None = None,
                edge_type: torch.Tensor | None = None) -> torch.Tensor:
        return self.weight
