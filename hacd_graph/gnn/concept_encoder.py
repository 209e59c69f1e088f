"""The hierarchy as a module: node features and typed edges (buffers) + a GNN encoder.

``ConceptEncoder(ach, GNNConfig(...))()`` returns the node embeddings ``[N, D]`` that the
teacher's head and the bridge use. Settings come from the Hydra ``gnn`` group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.gnn.concept_graph import build_concept_graph
from hacd_graph.gnn.free_embedding import FreeEmbedding
from hacd_graph.gnn.gatv2_encoder import GATv2Encoder
from hacd_graph.gnn.gcn_encoder import GCNEncoder
from hacd_graph.gnn.node_features import NodeFeatureConfig, node_features
from hacd_graph.gnn.sage_encoder import SAGEEncoder

ENCODERS = {"gcn": GCNEncoder, "gatv2": GATv2Encoder, "sage": SAGEEncoder}


@dataclass
class GNNConfig:
    """Settings of the concept encoder (the Hydra ``gnn`` group).

    Args:
        encoder: ``"gcn"``, ``"gatv2"``, ``"sage"`` or ``"none"`` (free embeddings).
        hidden_dim: width H of the message-passing layers.
        out_dim: node embedding width D.
        num_layers: message-passing depth.
        residual: residual connections between layers.
        norm: ``"layer"``, ``"batch"`` or ``"none"``.
        dropout: dropout after each layer.
        heads: attention heads (GATv2 only).
        features: node feature settings (text embeddings, structure, cache).
        cooccurrence_csvs: AudioSet ``*_segments.csv`` paths; when given, co-occurrence
            edges become a third relation.
        cooccurrence_min_count: clips a pair must share to become an edge.
    """

    encoder: str = "gatv2"
    hidden_dim: int = 128
    out_dim: int = 128
    num_layers: int = 2
    residual: bool = True
    norm: str = "layer"
    dropout: float = 0.0
    heads: int = 2
    features: NodeFeatureConfig = field(default_factory=NodeFeatureConfig)
    cooccurrence_csvs: list[str] = field(default_factory=list)
    cooccurrence_min_count: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.features, dict):
            self.features = NodeFeatureConfig(**self.features)
        if self.encoder not in (*ENCODERS, "none"):
            raise ValueError(
                f"gnn.encoder must be one of {[*ENCODERS, 'none']}, got {self.encoder!r}"
            )


class ConceptEncoder(nn.Module):
    """Node embeddings of a concept hierarchy.

    Args:
        ach: the hierarchy (its features and edges are computed once, kept as buffers).
        config: the encoder's settings.

    Shapes:
        forward() -> ``[N, D]``.
    """

    def __init__(self, ach: ConceptHierarchy, config: GNNConfig):
        super().__init__()
        self.config = config
        self.num_nodes = len(ach)
        if config.encoder == "none":
            self.encoder: nn.Module = FreeEmbedding(len(ach), config.out_dim)
            self.register_buffer("x", torch.zeros(len(ach), 0), persistent=False)
            self.register_buffer("edge_index", torch.zeros(2, 0, dtype=torch.long),
                                 persistent=False)
            self.register_buffer("edge_type", torch.zeros(0, dtype=torch.long),
                                 persistent=False)
            return
        graph = build_concept_graph(ach, config.cooccurrence_csvs, config.cooccurrence_min_count)
        x = node_features(ach, config.features)
        kwargs = dict(num_layers=config.num_layers, num_relations=graph.num_relations,
                      residual=config.residual, norm=config.norm, dropout=config.dropout)
        if config.encoder == "gatv2":
            kwargs["heads"] = config.heads
        self.encoder = ENCODERS[config.encoder](x.shape[1], config.hidden_dim, config.out_dim,
                                                **kwargs)
        # not persistent: rebuilt from the hierarchy, so checkpoints hold weights only
        self.register_buffer("x", x, persistent=False)
        self.register_buffer("edge_index", graph.edge_index, persistent=False)
        self.register_buffer("edge_type", graph.edge_type, persistent=False)

    @property
    def out_dim(self) -> int:
        """D, the node embedding width."""
        return self.config.out_dim

    def forward(self) -> torch.Tensor:
        return self.encoder(self.x, self.edge_index, self.edge_type)
