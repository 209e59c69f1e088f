"""Reliability bins and the expected calibration error, against a direct computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hacd_graph.eval.calibration import level_reliability, reliability


def _reference_ece(p: np.ndarray, y: np.ndarray, bins: int) -> float:
    total, n = 0.0, p.size
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (p >= lo) & ((p < hi) if b < bins - 1 else (p <= hi))
        if inside.any():
            total += inside.sum() / n * abs(y[inside].mean() - p[inside].mean())
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ece_matches_a_direct_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, (50, 9))
    y = (rng.uniform(0, 1, p.shape) < p**2).astype(float)
    rel = reliability(p, y, bins=10)
    assert rel.count.sum() == p.size
    assert rel.ece == pytest.approx(_reference_ece(p.ravel(), y.ravel(), 10))


def test_calibrated_and_overconfident_predictions() -> None:
    y = np.array([1, 0, 0, 0] * 25, dtype=float)
    assert reliability(np.full(100, 0.25), y).ece == pytest.approx(0.0)
    assert reliability(np.full(100, 0.95), np.zeros(100)).ece == pytest.approx(0.95)
    assert reliability(np.ones(3), np.ones(3)).count[-1] == 3  # p = 1 is in the last bin
    assert math.isnan(reliability(np.zeros(0), np.zeros(0)).ece)


def test_one_reliability_per_level(tiny_ach) -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (8, len(tiny_ach)))
    per_level = level_reliability(p, p > 0.5, tiny_ach)
    assert sorted(per_level) == [1, 2, 3]
    assert per_level[2].count.sum() == 8 * 3  # dog, bird, guitar
