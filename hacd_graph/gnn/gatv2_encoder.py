"""GATv2 concept encoder (Brody et al. 2022, https://arxiv.org/abs/2105.14491)."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import GATv2Conv

from hacd_graph.gnn.typed_encoder import TypedGNNEncoder


class GATv2Encoder(TypedGNNEncoder):
    """Relation-wise GATv2: per relation, attention
    ``α_ij = softmax_j(aᵀ LeakyReLU(W [h_i ‖ h_j]))`` over neighbours, heads averaged.

    Args:
        heads: attention heads per relation (averaged, so the width stays ``hidden_dim``).
        **kwargs: as :class:`~hacd_graph.gnn.typed_encoder.TypedGNNEncoder`.

    Shapes:
        x: ``[N, F]``; edge_index: ``[2, E]``; edge_type: ``[E]`` -> ``[N, D]``.
    """

    def __init__(self, *args, heads: int = 4, **kwargs):
        self.heads = heads
        super().__init__(*args, **kwargs)

    def make_conv(self, in_dim: int, out_dim: int) -> nn.Module:
        return GATv2Conv(in_dim, out_dim, heads=self.heads, concat=False, add_self_loops=True)
