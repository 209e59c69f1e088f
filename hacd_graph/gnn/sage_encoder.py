"""GraphSAGE concept encoder (Hamilton et al. 2017, https://arxiv.org/abs/1706.02216)."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import SAGEConv

from hacd_graph.gnn.typed_encoder import TypedGNNEncoder


class SAGEEncoder(TypedGNNEncoder):
    """Relation-wise GraphSAGE: per relation ``W_1 h_i + W_2 mean_{j∈N_r(i)} h_j``, summed.

    Args: as :class:`~hacd_graph.gnn.typed_encoder.TypedGNNEncoder`.

    Shapes:
        x: ``[N, F]``; edge_index: ``[2, E]``; edge_type: ``[E]`` -> ``[N, D]``.
    """

    def make_conv(self, in_dim: int, out_dim: int) -> nn.Module:
        return SAGEConv(in_dim, out_dim, aggr="mean")
