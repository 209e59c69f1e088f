"""Evaluation: metrics, the eval stage, the report, ``describe`` and the ablation grid.

- ``metrics``: classification over the hierarchy (per-level mAP/F1, hP/hR/hF1, violations);
- ``description_parser``, ``caption_metrics``, ``aqa_metrics``, ``retrieval_metrics``,
  ``error_analysis``: the other metric families of ``<run>/eval/metrics.json``;
- ``trained_run`` (a run directory loaded for inference), ``stage`` (the eval stage),
  ``report`` and ``plots`` (``report.md``/``report.html``), ``describe`` and ``experiment``
  (the ``hacd-graph describe`` and ``hacd-graph experiment ablations`` commands).
"""

from hacd_graph.eval.metrics import average_precision, hierarchical_metrics, per_concept_ap

__all__ = ["average_precision", "hierarchical_metrics", "per_concept_ap"]
