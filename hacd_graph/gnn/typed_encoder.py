"""The shared body of the GNN encoders: relation-wise message passing, residual, norm.

Each layer runs one PyG convolution per relation type and sums their outputs, as
``torch_geometric.nn.HeteroConv`` does for edge types between one node type (a
relational GNN in the style of R-GCN, Schlichtkrull et al. 2018,
https://arxiv.org/abs/1703.06103, with any convolution in place of R-GCN's):

    h^{l+1}_i = h^l_i + drop(act(norm( Σ_r conv_r(h^l, E_r)_i )))      (residual on)

Subclasses choose the convolution (:meth:`TypedGNNEncoder.make_conv`).
"""

from __future__ import annotations

import torch
from torch import nn

NORMS = ("layer", "batch", "none")


def _norm(kind: str, dim: int) -> nn.Module:
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "batch":
        return nn.BatchNorm1d(dim)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"gnn.norm must be one of {NORMS}, got {kind!r}")


class TypedGNNEncoder(nn.Module):
    """Concept node features -> node embeddings over a typed edge set.

    Args:
        in_dim: input feature width F.
        hidden_dim: width H of the message-passing layers.
        out_dim: output embedding width D.
        num_layers: message-passing layers (depth; 0 gives an MLP of the features).
        num_relations: edge types (2: parent->child and child->parent; 3 with co-occurrence).
        residual: add each layer's output to its input.
        norm: ``"layer"``, ``"batch"`` or ``"none"``, applied to each layer's messages.
        dropout: dropout on each layer's output.

    Shapes:
        x: ``[N, F]``; edge_index: ``[2, E]``; edge_type: ``[E]`` -> ``[N, D]``.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2,
                 num_relations: int = 2, residual: bool = True, norm: str = "layer",
                 dropout: float = 0.0):
        super().__init__()
        self.num_relations = num_relations
        self.residual = residual
        self.input = nn.Linear(in_dim, hidden_dim)
        self.layers = nn.ModuleList(
            nn.ModuleList(self.make_conv(hidden_dim, hidden_dim) for _ in range(num_relations))
            for _ in range(num_layers)
        )
        self.norms = nn.ModuleList(_norm(norm, hidden_dim) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        self.act = nn.GELU()
        self.output = nn.Linear(hidden_dim, out_dim)

    def make_conv(self, in_dim: int, out_dim: int) -> nn.Module:
        """One convolution for one relation (a PyG ``MessagePassing`` layer)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                edge_type: torch.Tensor) -> torch.Tensor:
        if edge_type.numel() and int(edge_type.max()) >= self.num_relations:
            raise ValueError(
                f"edge_type has value {int(edge_type.max())} but the encoder was built for "
                f"{self.num_relations} relations"
            )
        per_relation = [edge_index[:, edge_type == r] for r in range(self.num_relations)]
        h = self.act(self.input(x))
        for convs, norm in zip(self.layers, self.norms, strict=True):
            msg = sum(conv(h, e) for conv, e in zip(convs, per_relation, strict=True))
            msg = self.dropout(self.act(norm(msg)))
            h = h + msg if self.residual else msg
        return self.output(h)
