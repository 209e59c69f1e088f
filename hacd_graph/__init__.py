"""Hierarchical Audio Concept Distillation (HACD).

Data flows one way: ``ach -> gnn -> teacher -> distill (bridge + LLM) -> finetune -> eval``.
Importing the package is cheap and needs no compiled extension or GPU.
"""

__version__ = "0.1.0"
