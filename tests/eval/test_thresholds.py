"""Per-level thresholds chosen on a validation split."""

from __future__ import annotations

import numpy as np
import pytest

from hacd_graph.eval.metrics import hierarchical_metrics
from hacd_graph.eval.thresholds import level_thresholds


def _split(tiny_ach, rng):
    """Level 2 well ranked but with small marginals; level 3 never positive."""
    y = np.zeros((40, len(tiny_ach)))
    y[:, 0] = 1
    y[:20, [1, 3]] = 1  # animal, dog
    y[20:, [2, 5]] = 1  # music, guitar
    p = np.where(y > 0, 0.9, 0.1)
    p[:, 3:6] = np.where(y[:, 3:6] > 0, 0.2, 0.03) + rng.uniform(0, 0.01, (40, 3))
    p[:, 6] = 0.01
    return p, y


def test_each_level_gets_the_threshold_that_maximises_its_f1(tiny_ach) -> None:
    p, y = _split(tiny_ach, np.random.default_rng(0))
    t = level_thresholds(p, y, tiny_ach)
    levels = np.asarray(tiny_ach.levels)
    assert np.unique(t[levels == 2]).size == 1 and 0.04 < t[3] <= 0.2
    assert 0.1 < t[1] <= 0.9
    assert t[0] == 0.5 and t[6] == 0.5  # the root, and a level without a positive
    fixed = hierarchical_metrics(p, y, tiny_ach)
    tuned = hierarchical_metrics(p, y, tiny_ach, threshold=t)
    assert fixed["level2/F1"] == 0.0 and tuned["level2/F1"] == pytest.approx(1.0)
    assert tuned["hF1"] > fixed["hF1"]


def test_thresholds_on_one_split_are_applied_to_another(tiny_ach) -> None:
    p_val, y_val = _split(tiny_ach, np.random.default_rng(1))
    p_eval, y_eval = _split(tiny_ach, np.random.default_rng(2))
    t = level_thresholds(p_val, y_val, tiny_ach)
    assert hierarchical_metrics(p_eval, y_eval, tiny_ach, threshold=t)["level2/F1"] == \
        pytest.approx(1.0)


def test_shape_mismatch_is_named(tiny_ach) -> None:
    with pytest.raises(ValueError, match=r"\[B, 7\]"):
        level_thresholds(np.zeros((3, 5)), np.zeros((3, 5)), tiny_ach)
