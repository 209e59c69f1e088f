"""Evaluation: classification metrics over the hierarchy (more suites land here later)."""

from hacd_graph.eval.metrics import average_precision, hierarchical_metrics, per_concept_ap

__all__ = ["average_precision", "hierarchical_metrics", "per_concept_ap"]
