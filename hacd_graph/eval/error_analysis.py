"""Which concepts a model confuses, and at which levels of the hierarchy it fails.

For every false positive (a concept predicted for a clip but not true of it) the analysis
finds the clip's nearest true concept in the hierarchy, by the length of the shortest
undirected path over parent/child edges, and counts the pair ``true -> predicted``:

- the candidates are the clip's true concepts other than the false positive's own
  ancestors, so guessing *dog* for a *cat* clip is a sibling confusion (distance 2), not
  "one step below the true *animal*";
- only when every true concept of the clip is an ancestor of it (the prediction is more
  specific than anything true: *dog* when only *animal* is known) is the nearest true
  ancestor taken (distance = how many levels too deep, along the shortest path);
- ties go to the lower concept index.

Predictions and labels are analysed as given (neither is closed under ancestors here). The
same function serves the concept head's thresholded predictions and the concepts parsed
from generated descriptions.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from hacd_graph.ach import ConceptHierarchy


def _binary(x: np.ndarray | torch.Tensor) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return a > 0.5 if a.dtype != bool else a


def hierarchy_distances(ach: ConceptHierarchy, sources: np.ndarray) -> np.ndarray:
    """Undirected shortest-path lengths (in edges) from ``sources`` to every concept.

    Shapes: ``sources [K]`` -> ``[K, N]`` float (``inf`` where unreachable).
    """
    edges = np.asarray(ach.edges(), dtype=np.int64).reshape(-1, 2)
    n = len(ach)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    if not len(sources):
        return np.zeros((0, n))
    return shortest_path(graph, method="D", directed=False, unweighted=True,
                         indices=np.asarray(sources, dtype=np.int64))


def confusion_analysis(
    pred: np.ndarray | torch.Tensor,
    truth: np.ndarray | torch.Tensor,
    ach: ConceptHierarchy,
    top: int = 20,
) -> dict[str, Any]:
    """Confusions, per-level failures and missed concepts of binary predictions.

    Args:
        pred: ``[C, N]`` predictions (bool, or numbers thresholded at 0.5).
        truth: ``[C, N]`` labels (bool or 0/1).
        ach: the hierarchy of the columns.
        top: how many confusion pairs and missed concepts to list.

    Returns:
        A JSON-serialisable dict (integer keys become strings in JSON):

        - ``num_clips``, ``false_positives`` (total), ``unmatched_false_positives``
          (in clips with no true concept at all);
        - ``by_distance``: ``{distance: count}`` over false positives, ascending distance;
        - ``top_confusions``: ``[{"true", "predicted", "distance", "count"}]`` (concept
          names), most frequent first (ties: shorter distance, then names);
        - ``levels``: ``{L: {"true_positives", "false_positives", "false_negatives",
          "F1"}}`` for every level L >= 1 (``F1`` is ``None`` where nothing is true or
          predicted at that level);
        - ``missed``: ``[{"concept", "id", "level", "count"}]``, the most often missed
          concepts (false negatives), most frequent first.
    """
    p, t = _binary(pred), _binary(truth)
    if p.ndim != 2 or p.shape != t.shape or p.shape[1] != len(ach):
        raise ValueError(f"pred and truth must both be [C, N={len(ach)}], got "
                         f"{tuple(p.shape)} and {tuple(t.shape)}")
    names, level = ach.names, ach.level.numpy()
    fp, fn = p & ~t, t & ~p

    needed = np.flatnonzero(fp.any(axis=0))
    dist = hierarchy_distances(ach, needed)
    row_of = {int(c): k for k, c in enumerate(needed)}
    pairs: Counter[tuple[int, int, int]] = Counter()
    unmatched = 0
    for clip, concept in zip(*np.nonzero(fp), strict=True):
        true_here = np.flatnonzero(t[clip])
        if not len(true_here):
            unmatched += 1
            continue
        ancestors = ach.ancestors(int(concept))
        candidates = np.array([x for x in true_here if x not in ancestors], dtype=np.int64)
        if not len(candidates):
            candidates = true_here
        d = dist[row_of[int(concept)], candidates]
        best = int(np.argmin(d))
        pairs[(int(candidates[best]), int(concept), int(d[best]))] += 1

    by_distance: Counter[int] = Counter()
    for (_, _, d), count in pairs.items():
        by_distance[d] += count
    ranked = sorted(pairs.items(),
                    key=lambda kv: (-kv[1], kv[0][2], names[kv[0][0]], names[kv[0][1]]))
    depth = int(level.max()) + 1 if len(level) else 1
    levels: dict[int, dict[str, Any]] = {}
    for lv in range(1, depth):
        cols = level == lv
        tp_, fp_, fn_ = (int(x[:, cols].sum()) for x in (p & t, fp, fn))
        denom = 2 * tp_ + fp_ + fn_
        levels[lv] = {"true_positives": tp_, "false_positives": fp_, "false_negatives": fn_,
                      "F1": 2 * tp_ / denom if denom else None}
    missed_counts = fn.sum(axis=0)
    missed = sorted(np.flatnonzero(missed_counts), key=lambda c: (-missed_counts[c], c))[:top]
    return {
        "num_clips": int(p.shape[0]),
        "false_positives": int(fp.sum()),
        "unmatched_false_positives": unmatched,
        "by_distance": dict(sorted(by_distance.items())),
        "top_confusions": [
            {"true": names[a], "predicted": names[b], "distance": d, "count": n}
            for (a, b, d), n in ranked[:top]
        ],
        "levels": levels,
        "missed": [{"concept": names[c], "id": ach.ids[c], "level": int(level[c]),
                    "count": int(missed_counts[c])} for c in missed],
    }
