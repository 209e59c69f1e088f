from __future__ import annotations

import pytest
import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.labels import (
    ancestor_matrix,
    ancestor_pairs,
    close_ids,
    close_labels,
    close_multi_hot,
    descendant_max,
    is_closed,
    label_indices,
    multi_hot,
    table_ancestor_matrix,
)


def test_close_labels_toy(toy: ConceptHierarchy):
    idx = {cid: toy.index(cid) for cid in toy.ids}
    assert close_labels(toy, ["d"]) == sorted(idx[c] for c in ["root", "a", "b", "c", "d"])
    assert close_ids(toy, ["E", "d"]) == ["root", "a", "b", "c", "d", "e"]  # names work too
    assert close_labels(toy, []) == []
    assert is_closed(toy, close_labels(toy, ["d"])) and not is_closed(toy, ["d"])


def test_close_labels_seed_example(core_ach: ConceptHierarchy):
    closed = set(close_ids(core_ach, ["hacd:walking_bass", "hacd:cafe", "hacd:brushes_on_snare"]))
    assert {"hacd:audio", "hacd:music", "hacd:bass_line", "hacd:bass_technique"} <= closed
    assert {"hacd:indoor", "hacd:acoustic_scene", "hacd:drum_technique", "hacd:brushes"} <= closed
    assert "hacd:jazz" not in closed  # closure adds ancestors only


def test_unknown_labels(core_ach: ConceptHierarchy):
    with pytest.raises(KeyError, match="hacd:kazoo_solo"):
        close_labels(core_ach, ["hacd:kazoo_solo"])
    with pytest.raises(IndexError):
        label_indices(core_ach, [len(core_ach)])


def test_multi_hot_and_matrix(core_ach: ConceptHierarchy):
    targets = multi_hot(core_ach, [["hacd:bebop"], [], [core_ach.index("hacd:rain")]])
    assert targets.shape == (3, len(core_ach)) and targets.dtype == torch.float32
    assert targets[0].nonzero().flatten().tolist() == close_labels(core_ach, ["hacd:bebop"])
    assert targets[1].sum() == 0
    matrix = ancestor_matrix(core_ach)
    assert matrix.diagonal().all()
    rain = core_ach.index("hacd:rain")
    assert set(matrix[rain].nonzero().flatten().tolist()) == {rain} | core_ach.ancestors(rain)


def test_close_multi_hot(core_ach: ConceptHierarchy):
    raw = torch.zeros(2, len(core_ach))
    raw[0, core_ach.index("hacd:walking_bass")] = 1
    raw[1, core_ach.index("hacd:bebop")] = 0.7
    raw[1, core_ach.index("hacd:swing_jazz")] = 0.4
    closed = close_multi_hot(core_ach, raw)
    assert torch.equal(closed[0], multi_hot(core_ach, [["hacd:walking_bass"]])[0])
    assert closed[1, core_ach.index("hacd:jazz")] == pytest.approx(0.7)
    assert closed[1, core_ach.index("hacd:swing_jazz")] == pytest.approx(0.4)
    assert closed[1, core_ach.root] == pytest.approx(0.7)
    assert close_multi_hot(core_ach, raw.bool()).dtype == torch.bool
    with pytest.raises(ValueError, match="columns"):
        close_multi_hot(core_ach, raw[:, :5])


def test_truncated_labels_follow(core_ach: ConceptHierarchy):
    short = core_ach.truncated(3)
    closed = close_ids(short, ["hacd:fast_arpeggios"])
    assert closed == close_ids(short, ["hacd:playing_technique"])
    assert "hacd:fast_arpeggios" not in short.ids


def test_table_arithmetic_is_the_one_the_hierarchy_implies(tiny_ach):
    """ancestor_pairs / table_ancestor_matrix / descendant_max against the hierarchy's own
    ancestors and descendants, concept by concept."""
    table = tiny_ach.ancestor_table()
    rows, cols = ancestor_pairs(table)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == sorted(
        (c, a) for c in range(len(tiny_ach)) for a in {c, *tiny_ach.ancestors(c)})
    assert torch.equal(table_ancestor_matrix(table), ancestor_matrix(tiny_ach))
    values = torch.randn(4, len(tiny_ach), generator=torch.Generator().manual_seed(0))
    got = descendant_max(values, table)
    for c in range(len(tiny_ach)):
        group = [c, *tiny_ach.descendants(c)]
        torch.testing.assert_close(got[:, c], values[:, group].max(dim=1).values)
