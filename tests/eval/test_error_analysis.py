"""Confusion analysis on the tiny hierarchy (exact values) and hierarchy distances."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
import torch

from hacd_graph.eval.error_analysis import confusion_analysis, hierarchy_distances


def _rows(ach, *clips):
    out = np.zeros((len(clips), len(ach)), dtype=bool)
    for c, names in enumerate(clips):
        out[c, [ach.index(f"hacd:{n}") for n in names]] = True
    return out


@pytest.fixture
def case(tiny_ach):
    """Five clips: two sibling confusions, one too-specific guess (dog under a bare animal),
    one guess below the true guitar, one clip with the wrong branch altogether."""
    truth = _rows(tiny_ach, ("root", "animal", "dog"), ("root", "animal"),
                  ("root", "music", "guitar"), ("root", "animal", "dog"),
                  ("root", "music", "guitar"))
    pred = _rows(tiny_ach, ("root", "animal", "bird"), ("root", "animal", "dog"),
                 ("root", "music", "guitar", "birdsong_guitar"), ("root", "animal", "bird"),
                 ("root", "animal", "dog"))
    return pred, truth


def test_confusions_distances_levels_and_misses_are_exact(tiny_ach, case):
    out = confusion_analysis(*case, tiny_ach)
    assert out["num_clips"] == 5 and out["false_positives"] == 6
    assert out["unmatched_false_positives"] == 0
    assert out["by_distance"] == {1: 2, 2: 3, 3: 1}
    assert out["top_confusions"] == [
        {"true": "Dog", "predicted": "Bird", "distance": 2, "count": 2},
        {"true": "Animal", "predicted": "Dog", "distance": 1, "count": 1},
        {"true": "Guitar", "predicted": "Birdsong with guitar", "distance": 1, "count": 1},
        {"true": "Music", "predicted": "Animal", "distance": 2, "count": 1},
        {"true": "Music", "predicted": "Dog", "distance": 3, "count": 1},
    ]
    assert out["levels"] == {
        1: {"true_positives": 4, "false_positives": 1, "false_negatives": 1, "F1": 0.8},
        2: {"true_positives": 1, "false_positives": 4, "false_negatives": 3, "F1": 2 / 9},
        3: {"true_positives": 0, "false_positives": 1, "false_negatives": 0, "F1": 0.0},
    }
    assert out["missed"] == [
        {"concept": "Dog", "id": "hacd:dog", "level": 2, "count": 2},
        {"concept": "Music", "id": "hacd:music", "level": 1, "count": 1},
        {"concept": "Guitar", "id": "hacd:guitar", "level": 2, "count": 1},
    ]
    assert json.loads(json.dumps(out))["by_distance"] == {"1": 2, "2": 3, "3": 1}


def test_top_limits_lists_and_tensors_of_probabilities_work(tiny_ach, case):
    pred, truth = case
    out = confusion_analysis(torch.tensor(pred, dtype=torch.float32) * 0.9,
                             torch.tensor(truth, dtype=torch.int64), tiny_ach, top=1)
    assert out["top_confusions"] == [{"true": "Dog", "predicted": "Bird", "distance": 2,
                                      "count": 2}]
    assert [m["concept"] for m in out["missed"]] == ["Dog"]
    assert out["by_distance"] == {1: 2, 2: 3, 3: 1}  # counts all, not just the listed


def test_perfect_predictions_and_clips_without_truth(tiny_ach):
    truth = _rows(tiny_ach, ("root",), ())
    pred = _rows(tiny_ach, ("root",), ("root", "dog"))
    out = confusion_analysis(pred, truth, tiny_ach)
    assert out["unmatched_false_positives"] == 2 and out["by_distance"] == {}
    assert out["top_confusions"] == []
    assert out["levels"][1] == {"true_positives": 0, "false_positives": 0,
                                "false_negatives": 0, "F1": None}
    assert out["levels"][2]["false_positives"] == 1
    same = confusion_analysis(truth, truth, tiny_ach)
    assert same["false_positives"] == 0 and same["missed"] == []


def test_mismatched_shapes_are_refused(tiny_ach):
    with pytest.raises(ValueError, match=r"\[C, N=7\]"):
        confusion_analysis(np.zeros((2, 7)), np.zeros((3, 7)), tiny_ach)


def test_hierarchy_distances_match_networkx_on_the_default_hierarchy():
    from hacd_graph.ach import build_ach

    ach = build_ach(("core", "audioset"))
    graph = ach.to_networkx().to_undirected()
    nodes = list(graph.nodes)
    sources = np.array([0, 17, 400, len(ach) - 1])
    dist = hierarchy_distances(ach, sources)
    assert dist.shape == (4, len(ach)) and np.isfinite(dist).all()
    for row, s in zip(dist, sources, strict=True):
        expected = nx.single_source_shortest_path_length(graph, nodes[s])
        assert {nodes[j]: int(d) for j, d in enumerate(row)} == expected
