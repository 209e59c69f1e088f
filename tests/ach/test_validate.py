from __future__ import annotations

import pytest

from hacd_graph.ach import Concept, HierarchyError
from hacd_graph.ach.validate import find_cycle, validate_concepts


def concepts(spec: dict[str, tuple[str, ...]]) -> list[Concept]:
    return [Concept(id=c, name=c.upper(), parents=p) for c, p in spec.items()]


def test_valid_dag_passes():
    validate_concepts(concepts({"r": (), "a": ("r",), "b": ("r", "a")}))


@pytest.mark.parametrize(
    ("spec", "message", "culprit"),
    [
        ({"r": (), "a": ("a",)}, "self-loop", "a"),
        ({"r": (), "a": ("r", "r")}, "parent twice", "a"),
        ({"r": (), "a": ("zz",)}, "unknown parent 'zz'", "a"),
        ({"r": (), "s": ()}, "2 roots", "s"),
        ({"a": ("b",), "b": ("a",)}, "no root.*cycle: a -> b -> a", "a"),
        ({"r": (), "a": ("r", "c"), "b": ("a",), "c": ("b",)}, "cycle", None),
    ],
)
def test_violations(spec, message, culprit):
    files = {c: "h.yaml" for c in spec}
    with pytest.raises(HierarchyError, match=message) as info:
        validate_concepts(concepts(spec), files)
    if culprit is not None:
        assert info.value.concept == culprit and info.value.file == "h.yaml"


def test_duplicate_and_empty():
    with pytest.raises(HierarchyError, match="duplicate id"):
        validate_concepts([Concept("r", "R"), Concept("r", "R2")])
    with pytest.raises(HierarchyError, match="empty name"):
        validate_concepts([Concept("r", " ")])
    with pytest.raises(HierarchyError, match="empty id"):
        validate_concepts([Concept("", "R")])


def test_find_cycle_reports_the_loop():
    cycle = find_cycle(concepts({"r": (), "a": ("r", "c"), "b": ("a",), "c": ("b",)}))
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"} and len(cycle) == 4
    assert find_cycle(concepts({"r": (), "a": ("r",)})) == []
