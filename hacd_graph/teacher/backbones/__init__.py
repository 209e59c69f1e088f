"""Audio backbones of the teacher: log-mel ``[B, T, M]`` -> (embedding ``[B, D]``,
frame features ``[B, T', D]``)."""

from hacd_graph.teacher.backbones.ast import ASTBackbone, ASTBackboneConfig
from hacd_graph.teacher.backbones.cnn import CNNBackbone, CNNConfig

__all__ = ["ASTBackbone", "ASTBackboneConfig", "CNNBackbone", "CNNConfig"]
