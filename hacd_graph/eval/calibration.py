"""Calibration of concept probabilities: reliability bins and expected calibration error.

Every (clip, concept) pair is one binary prediction. Bins are equal-width over [0, 1];
the expected calibration error (ECE) is ``Σ_b (n_b / n) |acc_b − conf_b|`` over non-empty
bins, with ``conf_b`` the mean probability and ``acc_b`` the share of positives in bin b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hacd_graph.ach import ConceptHierarchy


@dataclass
class Reliability:
    """Per bin: the number of pairs, their mean probability and their share of positives
    (NaN for an empty bin)."""

    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self) -> float:
        """The expected calibration error (NaN when there are no pairs)."""
        n = self.count.sum()
        if n == 0:
            return float("nan")
        ok = self.count > 0
        gap = np.abs(self.accuracy[ok] - self.confidence[ok])
        return float((self.count[ok] * gap).sum() / n)


def reliability(probs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor,
                bins: int = 10) -> Reliability:
    """Reliability bins of the pairs in ``probs`` and ``targets`` (any equal shapes)."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    y = np.asarray(targets, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise ValueError(f"probs and targets differ in size: {p.size} vs {y.size}")
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=p, minlength=bins) / count
        accuracy = np.bincount(index, weights=y, minlength=bins) / count
    return Reliability(count, confidence, accuracy)


def level_reliability(probs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor,
                      ach: ConceptHierarchy, bins: int = 10) -> dict[int, Reliability]:
    """:func:`reliability` of each level's concepts (levels 1 .. depth − 1)."""
    p, y = np.asarray(probs), np.asarray(targets)
    levels = np.asarray(ach.levels)
    return {level: reliability(p[:, levels == level], y[:, levels == level], bins)
            for level in range(1, ach.depth) if (levels == level).any()}
