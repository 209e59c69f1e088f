"""Distillation: the hierarchical distillation loss (reference + dispatch to fused kernels).

Importing this package is cheap: fused backends (C++, Triton, CUDA) load on first use.
"""

from hacd_graph.distill.ancestor_plan import AncestorPlan
from hacd_graph.distill.hdl import BACKENDS, hierarchical_distillation_loss
from hacd_graph.distill.hdl_reference import hdl_reference, hdl_sparse

__all__ = ["BACKENDS", "AncestorPlan", "hdl_reference", "hdl_sparse",
           "hierarchical_distillation_loss"]
