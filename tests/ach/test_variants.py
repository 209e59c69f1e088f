from __future__ import annotations

from collections import Counter

import pytest

from hacd_graph.ach import ConceptHierarchy, build_ach
from hacd_graph.ach.labels import close_ids
from hacd_graph.ach.vocabulary import map_audioset_labels


def test_flattened(core_ach: ConceptHierarchy):
    flat = core_ach.flattened()
    assert flat.depth == 2 and len(flat) == len(core_ach) and set(flat.ids) == set(core_ach.ids)
    assert all(flat.parents(i) == [flat.root] for i in range(1, len(flat)))
    assert close_ids(flat, ["hacd:bebop"]) == ["hacd:audio", "hacd:bebop"]
    assert flat.concept("hacd:bebop").facet == "musical_attribute"
    assert build_ach(variant="flattened") == flat


@pytest.mark.parametrize("max_depth", [1, 2, 3, 5])
def test_truncated(core_ach: ConceptHierarchy, max_depth: int):
    short = core_ach.truncated(max_depth)
    assert short.depth == max_depth
    kept = {
        cid for cid, level in zip(core_ach.ids, core_ach.levels, strict=True) if level < max_depth
    }
    assert set(short.ids) == kept
    for cid in kept:  # levels of kept concepts do not change
        assert short.levels[short.index(cid)] == core_ach.levels[core_ach.index(cid)]
    for cid in set(core_ach.ids) - kept:
        targets = short.resolve(cid)
        assert targets and all(short.levels[t] == max_depth - 1 for t in targets)
        expected = {short.ids[t] for t in targets}
        original = {core_ach.ids[a] for a in core_ach.ancestors(cid)}
        assert expected <= original  # merged into its own ancestors


def test_truncated_keeps_label_mapping(core_ach, class_labels_path, audioset_ontology_path):
    short = core_ach.truncated(3)
    assert short.resolve("/m/03_d0") == [short.index("hacd:genre")]  # Jazz's MID follows
    mapping = map_audioset_labels(short, class_labels_path, ontology=audioset_ontology_path)
    assert mapping.coverage == 1.0
    assert short.ids[mapping.by_label("Jazz").concepts[0]] == "hacd:genre"
    twice = short.truncated(2)
    assert twice.resolve("hacd:bebop") == [twice.index("hacd:music")]  # redirects compose
    assert core_ach.truncated(99) is core_ach
    with pytest.raises(ValueError, match="max_depth"):
        core_ach.truncated(0)


def test_truncated_merged(merged_ach: ConceptHierarchy):
    short = merged_ach.truncated(4)
    assert short.depth == 4
    assert short.resolve("hacd:bebop") == short.resolve("/m/03_d0") == [short.index("/m/03_d0")]


def test_shuffled(core_ach: ConceptHierarchy):
    one = core_ach.shuffled(1)
    assert one == core_ach.shuffled(1) and one != core_ach.shuffled(2)
    assert Counter(one.levels) == Counter(core_ach.levels)
    assert {cid: core_ach.levels[core_ach.index(cid)] for cid in core_ach.ids} == {
        cid: one.levels[one.index(cid)] for cid in one.ids
    }
    for i in range(1, len(one)):
        parent_levels = {one.levels[p] for p in one.parents(i)}
        assert parent_levels == {one.levels[i] - 1}
        assert len(one.parents(i)) == len(core_ach.parents(one.ids[i]))
    changed = sum(
        set(one.concept(cid).parents) != set(core_ach.concept(cid).parents) for cid in core_ach.ids
    )
    assert changed > len(core_ach) // 2
    assert build_ach(variant="shuffled", seed=1) == one


def test_variant_names(core_ach):
    assert core_ach.flattened().name == "core:flattened"
    assert core_ach.truncated(3).name == "core:truncated3"
    assert core_ach.shuffled(5).name == "core:shuffled5"
