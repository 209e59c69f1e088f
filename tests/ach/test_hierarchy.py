from __future__ import annotations

import pytest
import torch

from hacd_graph.ach import Concept, ConceptHierarchy, HierarchyError


def test_toy_structure(toy: ConceptHierarchy):
    i = {cid: toy.index(cid) for cid in ["root", "a", "b", "c", "d", "e"]}
    assert toy.root == 0 == i["root"]
    assert len(toy) == 6 and toy.num_edges == 6
    assert sorted(toy.parents(i["c"])) == sorted([i["a"], i["b"]])
    assert toy.children(i["c"]) == [i["d"]]
    assert toy.ancestors(i["d"]) == {i["root"], i["a"], i["b"], i["c"]}
    assert toy.ancestors(i["root"]) == set()
    assert toy.descendants(i["a"]) == {i["c"], i["d"]}
    assert toy.ids == ["root", "a", "b", "c", "d", "e"]
    assert toy.levels == [0, 1, 1, 2, 3, 1]
    assert toy.level.dtype == torch.long and toy.level[i["d"]] == 3
    assert toy.depth == 4
    assert sorted(toy.leaves()) == sorted([i["d"], i["e"]])
    paths = toy.paths_to_root("d")
    assert sorted(paths) == sorted(
        [[i["root"], i["a"], i["c"], i["d"]], [i["root"], i["b"], i["c"], i["d"]]]
    )


def test_indices_are_topological(core_ach: ConceptHierarchy):
    for child in range(len(core_ach)):
        assert all(parent < child for parent in core_ach.parents(child))


def test_levels_are_shortest_paths(core_ach: ConceptHierarchy):
    levels = core_ach.levels
    for c in range(1, len(core_ach)):
        assert min(levels[p] for p in core_ach.parents(c)) == levels[c] - 1


def test_ancestor_table(toy: ConceptHierarchy):
    table = toy.ancestor_table()
    assert table.dtype == torch.long
    assert table.shape == (6, toy.max_ancestors + 1) == (6, 5)
    for c in range(len(toy)):
        row = [v for v in table[c].tolist() if v >= 0]
        assert row[0] == c
        assert set(row[1:]) == toy.ancestors(c)
        assert len(row) == len(set(row))
        assert all(v == -1 for v in table[c, len(row) :].tolist())
        if c != toy.root:
            assert row[-1] == toy.root
    table[0, 0] = 99  # the caller gets a copy
    assert toy.ancestor_table()[0, 0] == 0


def test_ancestor_table_matches_ancestors_on_core(core_ach: ConceptHierarchy):
    table = core_ach.ancestor_table()
    levels = core_ach.levels
    for c in range(len(core_ach)):
        row = [v for v in table[c].tolist() if v >= 0]
        assert row[0] == c and set(row[1:]) == core_ach.ancestors(c)
        assert [levels[a] for a in row[1:]] == sorted((levels[a] for a in row[1:]), reverse=True)


def test_index_by_id_name_alias(core_ach: ConceptHierarchy):
    jazz = core_ach.index("hacd:jazz")
    assert core_ach.index("Jazz") == jazz == core_ach.index("jazz")
    assert core_ach.index("upright bass") == core_ach.index("hacd:double_bass")
    assert core_ach.concept(jazz).name == "Jazz"
    assert core_ach.concept("hacd:jazz").id == "hacd:jazz"
    assert "hacd:jazz" in core_ach and "no such thing" not in core_ach


def test_index_errors(core_ach: ConceptHierarchy, make_hierarchy):
    with pytest.raises(KeyError, match="did you mean"):
        core_ach.index("Jaz")
    with pytest.raises(IndexError):
        core_ach.parents(len(core_ach))
    twins = ConceptHierarchy(
        [
            Concept("r", "Root"),
            Concept("x", "Same", parents=("r",)),
            Concept("y", "same", parents=("r",)),
        ]
    )
    with pytest.raises(KeyError, match="ambiguous"):
        twins.index("Same")


def test_constructor_validates():
    with pytest.raises(HierarchyError, match="cycle"):
        ConceptHierarchy(
            [
                Concept("r", "R"),
                Concept("a", "A", parents=("r", "b")),
                Concept("b", "B", parents=("a",)),
            ]
        )


def test_order_is_stable_topological():
    concepts = [
        Concept("c", "C", parents=("a",)),
        Concept("r", "R"),
        Concept("a", "A", parents=("r",)),
    ]
    assert ConceptHierarchy(concepts).ids == ["r", "a", "c"]


def test_subtree(core_ach: ConceptHierarchy):
    sub = core_ach.subtree("hacd:jazz")
    assert sub.ids[0] == "hacd:jazz"
    assert set(sub.ids) == {"hacd:jazz"} | {
        core_ach.ids[i] for i in core_ach.descendants("hacd:jazz")
    }
    assert "hacd:bebop" in sub.ids and sub.depth >= 2


def test_redirects(toy: ConceptHierarchy):
    kept = [c for c in toy.concepts if c.id != "d"]
    variant = ConceptHierarchy(kept, redirects={"d": ("c",)})
    assert variant.index("d") == variant.index("c")
    assert variant.resolve("d") == [variant.index("c")]
    with pytest.raises(ValueError, match="unknown concept"):
        ConceptHierarchy(kept, redirects={"d": ("zzz",)})


def test_pickles_for_dataloader_workers(core_ach: ConceptHierarchy):
    import pickle

    core_ach.ancestor_table()
    copy = pickle.loads(pickle.dumps(core_ach))
    assert copy == core_ach and copy.ancestor_table().equal(core_ach.ancestor_table())
