"""Multi-label and hierarchical classification metrics over the ACH.

All functions take marginal concept probabilities (or scores) ``[B, N]`` and binary labels
``[B, N]`` closed under ancestors, as NumPy arrays or tensors. Conventions:

- **AP** of one concept is scikit-learn's ``average_precision_score``
  (``Σ_n (R_n − R_{n−1}) P_n`` over distinct score thresholds). A concept whose labels are
  all 0 or all 1 in the evaluated set has no meaningful AP and is left out of every mean
  (the root, always present, is one); ``num_scored`` says how many were kept.
- **macro mAP** is the mean AP over those concepts; **micro mAP** is the AP of all their
  (clip, concept) pairs pooled.
- **F1** thresholds probabilities at ``threshold`` (0.5) and pools counts (micro F1).
- **hierarchical P/R/F1** (Kiritchenko et al. 2005): the predicted set of a clip (concepts
  above the threshold) and its true set are both augmented with all their ancestors, the
  root is dropped, and ``hP = Σ|P̂∩T̂| / Σ|P̂|``, ``hR = Σ|P̂∩T̂| / Σ|T̂|`` over clips.
- **violation rate**: the fraction of (clip, parent→child edge) pairs where the child is
  scored above its parent; ``violation_clips`` is the fraction of clips with any.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.labels import table_ancestor_matrix


def _np(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def average_precision(targets: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of one ranking, identical to scikit-learn's.

    Args:
        targets: ``[B]`` in {0, 1}, at least one positive.
        scores: ``[B]``.

    Returns:
        AP in [0, 1].
    """
    order = np.argsort(-scores, kind="mergesort")
    y, s = targets[order].astype(np.float64), scores[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last_of_threshold]
    precision = tps / (last_of_threshold + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def scorable(targets: np.ndarray) -> np.ndarray:
    """Bool ``[N]``: concepts with at least one positive and one negative clip."""
    pos = targets.sum(axis=0)
    return (pos > 0) & (pos < targets.shape[0])


def per_concept_ap(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """AP of every concept, NaN where it is not :func:`scorable`. Shapes: ``[B, N] -> [N]``."""
    scores, targets = _np(scores), _np(targets)
    out = np.full(targets.shape[1], np.nan)
    for c in np.flatnonzero(scorable(targets)):
        out[c] = average_precision(targets[:, c], scores[:, c])
    return out


def pooled_f1(pred: np.ndarray, targets: np.ndarray) -> float:
    """F1 of the pooled (clip, concept) decisions ``pred`` against ``targets`` (0 when both
    are empty)."""
    tp = float((pred * targets).sum())
    denom = float(pred.sum() + targets.sum())
    return 2 * tp / denom if denom else 0.0


def hierarchical_prf(pred: np.ndarray, targets: np.ndarray, ancestors: np.ndarray,
                     root: int) -> tuple[float, float, float]:
    """Hierarchical precision, recall and F1 of binary predictions.

    Args:
        pred: ``[B, N]`` binary predictions (augmented here with their ancestors).
        targets: ``[B, N]`` labels (augmented too, in case they are not closed).
        ancestors: ``[N, K]`` ancestor table padded with -1.
        root: the root's index (dropped from both sets).

    Returns:
        ``(hP, hR, hF1)``; 0 where undefined.
    """
    # closure[c, a] = 1 for a in A[c]
    closure = table_ancestor_matrix(torch.as_tensor(ancestors)).numpy().astype(np.float64)

    def close(x: np.ndarray) -> np.ndarray:
        out = (x.astype(np.float64) @ closure) > 0
        out[:, root] = False
        return out

    p, t = close(pred), close(targets)
    inter = float((p & t).sum())
    hp = inter / p.sum() if p.sum() else 0.0
    hr = inter / t.sum() if t.sum() else 0.0
    hf = 2 * hp * hr / (hp + hr) if hp + hr else 0.0
    return float(hp), float(hr), float(hf)


def violation_rates(scores: np.ndarray, edges: Sequence[tuple[int, int]],
                    tol: float = 1e-6) -> tuple[float, float]:
    """Share of (clip, edge) pairs, and of clips, where a child outscores its parent.

    Args:
        scores: ``[B, N]``.
        edges: parent -> child pairs.
        tol: slack for floating-point ties.
    """
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if not len(e):
        return 0.0, 0.0
    bad = scores[:, e[:, 1]] > scores[:, e[:, 0]] + tol  # [B, E]
    return float(bad.mean()), float(bad.any(axis=1).mean())


def hierarchical_metrics(probs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor,
                         ach: ConceptHierarchy,
                         threshold: float | np.ndarray = 0.5) -> dict[str, float]:
    """Every classification metric of the project, as one flat ``name -> value`` dict.

    Args:
        probs: ``[B, N]`` marginal concept probabilities.
        targets: ``[B, N]`` labels closed under ancestors.
        ach: the hierarchy the columns follow.
        threshold: decision threshold for F1 and hierarchical P/R/F1: one for every
            concept, or ``[N]``, one per concept (``hacd_graph.eval.thresholds``).

    Returns:
        ``mAP_macro``, ``mAP_micro``, ``F1_micro``, ``hP``, ``hR``, ``hF1``,
        ``violation_rate``, ``violation_clips``, ``num_scored``, and per level ``l`` and
        facet ``f``: ``level{l}/mAP``, ``level{l}/F1``, ``facet/{f}/mAP``, ``facet/{f}/F1``
        (an mAP is NaN where no concept of the group is scorable).

    Raises:
        ValueError: shapes differ or do not match the hierarchy.
    """
    p, y = _np(probs).astype(np.float64), _np(targets).astype(np.float64)
    if p.shape != y.shape or p.ndim != 2 or p.shape[1] != len(ach):
        raise ValueError(f"probs {p.shape} and targets {y.shape} must both be [B, {len(ach)}]")
    ap = per_concept_ap(p, y)
    ok = ~np.isnan(ap)
    pred = (p >= threshold).astype(np.float64)
    out: dict[str, float] = {
        "mAP_macro": float(np.nanmean(ap)) if ok.any() else float("nan"),
        "mAP_micro": (average_precision(y[:, ok].ravel(), p[:, ok].ravel())
                      if ok.any() else float("nan")),
        "F1_micro": pooled_f1(pred[:, ok], y[:, ok]),
        "num_scored": float(ok.sum()),
    }
    out["hP"], out["hR"], out["hF1"] = hierarchical_prf(
        pred, y, ach.ancestor_table().numpy(), ach.root
    )
    out["violation_rate"], out["violation_clips"] = violation_rates(p, ach.edges())
    levels = np.asarray(ach.levels)
    for level in range(1, ach.depth):
        cols = (levels == level) & ok
        out[f"level{level}/mAP"] = float(ap[cols].mean()) if cols.any() else float("nan")
        out[f"level{level}/F1"] = pooled_f1(pred[:, cols], y[:, cols])
    facets = np.asarray(ach.facets)
    for facet in sorted(set(ach.facets) - {"root"}):
        cols = (facets == facet) & ok
        out[f"facet/{facet}/mAP"] = float(ap[cols].mean()) if cols.any() else float("nan")
        out[f"facet/{facet}/F1"] = pooled_f1(pred[:, cols], y[:, cols])
    return out
