"""Classifier heads of the teacher: graph-conditioned (ML-GCN style) and flat.

The graph-conditioned head generates each concept's classifier from its node embedding
(Chen et al., ML-GCN, CVPR 2019, https://arxiv.org/abs/1904.03582):

.. math::

    z_{b,c} = \\frac{\\langle a_b,\\, P e_c \\rangle}{\\sqrt{D}} + w^\\top e_c + b_0

with :math:`a_b` the clip embedding, :math:`e_c` the GNN embedding of concept :math:`c`,
:math:`P` a learned projection and :math:`w, b_0` a bias generated from the embedding too, so
adding a concept to the hierarchy needs no new head weights. With ``residual`` each concept
also gets a free linear classifier, zero at the start, added to the generated one
(:math:`+\\, r_c^\\top a_b + s_c`): the graph gives the prior, the residual the capacity a
rank-:math:`D_c` classifier matrix lacks. The logits are read as
*conditional* logits of the ACH factorisation: :math:`\\sigma(z_c) = P(c \\mid
\\text{parents of } c)`.

The flat head is an independent linear classifier per concept (marginal logits, no graph).
"""

from __future__ import annotations

import torch
from torch import nn

from hacd_graph.gnn import ConceptEncoder


class GraphConditionedHead(nn.Module):
    """Concept logits from the audio embedding and the concept graph.

    Args:
        audio_dim: D, width of the clip embedding.
        concept_encoder: the GNN over the hierarchy (trained jointly).
        residual: add a free per-concept classifier (initialised to zero).

    Shapes:
        embedding: ``[B, D]`` -> (logits ``[B, N]``, node embeddings ``[N, Dc]``).
    """

    def __init__(self, audio_dim: int, concept_encoder: ConceptEncoder,
                 residual: bool = False):
        super().__init__()
        self.concepts = concept_encoder
        self.proj = nn.Linear(concept_encoder.out_dim, audio_dim, bias=False)
        self.bias = nn.Linear(concept_encoder.out_dim, 1)
        self.scale = audio_dim**-0.5
        self.residual: nn.Linear | None = None
        if residual:
            self.residual = nn.Linear(audio_dim, concept_encoder.num_nodes)
            nn.init.zeros_(self.residual.weight)
            nn.init.zeros_(self.residual.bias)

    def classifiers(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each concept's linear classifier over the clip embedding, from the node
        embeddings ``nodes`` ``[N, Dc]``: weights ``[N, D]`` and biases ``[N]``."""
        weight = self.proj(nodes) * self.scale
        bias = self.bias(nodes).squeeze(-1)
        if self.residual is not None:
            weight, bias = weight + self.residual.weight, bias + self.residual.bias
        return weight, bias

    def forward(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nodes = self.concepts()  # [N, Dc]
        weight, bias = self.classifiers(nodes)
        return embedding @ weight.t() + bias, nodes


class FlatHead(nn.Module):
    """One independent linear classifier per concept (the non-hierarchical baseline).

    Args:
        audio_dim: D.
        num_concepts: N.

    Shapes:
        embedding: ``[B, D]`` -> (logits ``[B, N]``, ``None``).
    """

    def __init__(self, audio_dim: int, num_concepts: int):
        super().__init__()
        self.linear = nn.Linear(audio_dim, num_concepts)

    def forward(self, embedding: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.linear(embedding), None
