"""Concept node features and GNN encoders (PyG) over the Audio Concept Hierarchy.

``ConceptEncoder(ach, GNNConfig(encoder="gatv2"))()`` -> node embeddings ``[N, D]``.
Imports ``hacd_graph.ach`` only.
"""

from hacd_graph.gnn.concept_encoder import ENCODERS, ConceptEncoder, GNNConfig
from hacd_graph.gnn.concept_graph import ConceptGraph, build_concept_graph
from hacd_graph.gnn.node_features import NodeFeatureConfig

__all__ = [
    "ENCODERS",
    "ConceptEncoder",
    "ConceptGraph",
    "GNNConfig",
    "NodeFeatureConfig",
    "build_concept_graph",
]
