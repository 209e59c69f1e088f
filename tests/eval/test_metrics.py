"""Metrics: AP cross-checked against scikit-learn, hierarchical P/R/F1 and violations by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from hacd_graph.eval.metrics import (
    average_precision,
    hierarchical_metrics,
    hierarchical_prf,
    per_concept_ap,
    violation_rates,
)


@pytest.mark.parametrize("seed", range(5))
def test_ap_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(57) < 0.3).astype(int)
    y[0] = 1
    s = np.round(rng.random(57), 1)  # many ties
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_macro_and_micro_map_match_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random((40, 9)) < 0.3).astype(int)
    y[:, 2] = 0  # unscorable: no positive
    y[:, 3] = 1  # unscorable: no negative
    s = rng.random((40, 9))
    ap = per_concept_ap(s, y)
    assert np.isnan(ap[2]) and np.isnan(ap[3])
    keep = [c for c in range(9) if c not in (2, 3)]
    ref = average_precision_score(y[:, keep], s[:, keep], average=None)
    np.testing.assert_allclose(ap[keep], ref, atol=1e-12)
    micro = average_precision_score(y[:, keep], s[:, keep], average="micro")
    assert average_precision(y[:, keep].ravel(), s[:, keep].ravel()) == pytest.approx(micro)


def test_hierarchical_prf_by_hand(tiny_ach):
    a = tiny_ach
    i = {n: a.index(f"hacd:{n}") for n in ("root", "animal", "dog", "bird", "music", "guitar")}
    t = np.zeros((1, 7))
    t[0, [i["root"], i["animal"], i["dog"]]] = 1  # truth: dog
    p = np.zeros((1, 7))
    p[0, i["bird"]] = 1  # predicted bird -> augmented {animal, bird}
    hp, hr, hf = hierarchical_prf(p, t, a.ancestor_table().numpy(), a.root)
    assert (hp, hr) == (0.5, 0.5) and hf == 0.5  # share "animal" only
    p[0, i["dog"]] = 1  # now bird and dog: {animal, bird, dog}
    hp, hr, _ = hierarchical_prf(p, t, a.ancestor_table().numpy(), a.root)
    assert (hp, hr) == (2 / 3, 1.0)


def test_violations(tiny_ach):
    a = tiny_ach
    s = np.full((2, 7), 0.5)
    s[1, a.index("hacd:dog")] = 0.9  # dog above animal in clip 1
    rate, clips = violation_rates(s, a.edges())
    assert rate == pytest.approx(1 / (2 * len(a.edges())))
    assert clips == 0.5


def test_all_metrics_on_a_perfect_and_a_random_predictor(tiny_ach):
    rng = np.random.default_rng(1)
    anc = tiny_ach.ancestor_table().numpy()
    leaves = rng.integers(0, 7, size=30)
    y = np.zeros((30, 7))
    for b, c in enumerate(leaves):
        y[b, anc[c][anc[c] >= 0]] = 1
    perfect = hierarchical_metrics(y, y, tiny_ach)
    assert perfect["mAP_macro"] == 1 and perfect["hF1"] == 1 and perfect["F1_micro"] == 1
    assert perfect["violation_rate"] == 0
    assert perfect["num_scored"] == 6  # every concept but the root
    for level in (1, 2, 3):
        assert perfect[f"level{level}/mAP"] == 1
    assert set(k for k in perfect if k.startswith("facet/")) == {
        "facet/sound_source/mAP", "facet/sound_source/F1",
        "facet/musical_attribute/mAP", "facet/musical_attribute/F1"}
    noisy = hierarchical_metrics(rng.random((30, 7)), y, tiny_ach)
    assert noisy["mAP_macro"] < 0.9 and noisy["violation_rate"] > 0


def test_shape_mismatch_is_named(tiny_ach):
    with pytest.raises(ValueError, match=r"\[B, 7\]"):
        hierarchical_metrics(np.zeros((2, 5)), np.zeros((2, 5)), tiny_ach)
