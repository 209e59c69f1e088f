"""GCN concept encoder (Kipf & Welling 2017, https://arxiv.org/abs/1609.02907)."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import GCNConv

from hacd_graph.gnn.typed_encoder import TypedGNNEncoder


class GCNEncoder(TypedGNNEncoder):
    """Relation-wise GCN: per relation ``D^-1/2 (A_r + I) D^-1/2 H W_r``, summed.

    Args: as :class:`~hacd_graph.gnn.typed_encoder.TypedGNNEncoder`.

    Shapes:
        x: ``[N, F]``; edge_index: ``[2, E]``; edge_type: ``[E]`` -> ``[N, D]``.
    """

    def make_conv(self, in_dim: int, out_dim: int) -> nn.Module:
        return GCNConv(in_dim, out_dim, add_self_loops=True, normalize=True)
