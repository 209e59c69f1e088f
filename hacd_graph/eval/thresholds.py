"""Decision thresholds chosen on a validation split, one per hierarchy level.

Marginal probabilities of deep concepts are products of conditionals along the path, so
they rarely cross a fixed 0.5 even when the concept is ranked well (its AP is high). A
threshold per level, chosen to maximise that level's pooled F1 on a validation split (never
on the split that is reported), turns ranking quality into decisions.
"""

from __future__ import annotations

import numpy as np
import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.eval.metrics import pooled_f1

# candidate thresholds: dense at the low end, where deep marginals live
CANDIDATES = np.unique(np.r_[np.geomspace(0.005, 0.1, 12), np.arange(0.1, 0.951, 0.025)])


def level_thresholds(probs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor,
                     ach: ConceptHierarchy, default: float = 0.5,
                     candidates: np.ndarray = CANDIDATES) -> np.ndarray:
    """One threshold per level, as a ``[N]`` array (every concept gets its level's).

    Each level's threshold maximises the pooled F1 of its concepts on (``probs``,
    ``targets``), the validation split; ties go to the larger threshold. A level without a
    positive label there keeps ``default``, as does the root.

    Shapes:
        probs, targets: ``[B, N]`` -> ``[N]``.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 2 or p.shape[1] != len(ach):
        raise ValueError(f"probs {p.shape} and targets {y.shape} must both be [B, {len(ach)}]")
    levels = np.asarray(ach.levels)
    out = np.full(len(ach), default, dtype=np.float64)
    for level in range(1, ach.depth):
        cols = levels == level
        if not cols.any() or y[:, cols].sum() == 0:
            continue
        scores = [pooled_f1((p[:, cols] >= t).astype(np.float64), y[:, cols])
                  for t in candidates]
        best = max(range(len(candidates)), key=lambda i: (scores[i], candidates[i]))
        out[cols] = candidates[best]
    return out
