from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from hacd_graph.ach import ConceptHierarchy, HierarchyError


@pytest.mark.parametrize("which", ["core_ach", "merged_ach"])
def test_json_round_trip(request, tmp_path: Path, which: str):
    ach = request.getfixturevalue(which)
    path = ach.save(tmp_path / "sub" / "ach.json")
    loaded = ConceptHierarchy.load(path)
    assert loaded == ach and loaded.ids == ach.ids and loaded.name == ach.name
    assert loaded.ancestor_table().equal(ach.ancestor_table())
    assert [p.name for p in path.parent.iterdir()] == ["ach.json"]  # no temp files left


@pytest.mark.parametrize("which", ["core_ach", "merged_ach"])
def test_networkx_round_trip(request, which: str):
    ach = request.getfixturevalue(which)
    graph = ach.to_networkx()
    assert graph.number_of_nodes() == len(ach) and graph.number_of_edges() == ach.num_edges
    assert nx.is_directed_acyclic_graph(graph)
    assert graph.nodes[ach.ids[1]]["level"] == 1
    back = ConceptHierarchy.from_networkx(graph)
    assert back == ach and back.name == ach.name


def test_graphml_round_trip(tmp_path: Path, merged_ach: ConceptHierarchy):
    graph = merged_ach.to_networkx()
    for _, attrs in graph.nodes(data=True):
        for key, value in attrs.items():
            if isinstance(value, list):
                attrs[key] = json.dumps(value)
    graph.graph["redirects"] = json.dumps(graph.graph["redirects"])
    nx.write_graphml(graph, tmp_path / "ach.graphml")
    back = ConceptHierarchy.from_networkx(nx.read_graphml(tmp_path / "ach.graphml"))
    assert back == merged_ach


def test_redirects_survive(tmp_path: Path, core_ach: ConceptHierarchy):
    short = core_ach.truncated(3)
    assert short.redirects
    assert ConceptHierarchy.load(short.save(tmp_path / "t.json")) == short
    assert ConceptHierarchy.from_networkx(short.to_networkx()) == short


def test_bad_saved_files(tmp_path: Path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2")
    with pytest.raises(HierarchyError, match="x.json: not valid JSON"):
        ConceptHierarchy.load(path)
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(HierarchyError, match="not a saved hierarchy"):
        ConceptHierarchy.load(path)
    path.write_text(
        json.dumps(
            {"format": "hacd_graph.ach", "version": 1, "concepts": [
                {"id": "r", "name": "R", "parents": []},
                {"id": "a", "name": "A", "parents": ["b"]},
            ]}
        )
    )  # fmt: skip
    with pytest.raises(HierarchyError, match="x.json: concept 'a': unknown parent 'b'"):
        ConceptHierarchy.load(path)
    path.write_text(
        json.dumps(
            {
                "format": "hacd_graph.ach",
                "version": 1,
                "concepts": [{"id": "r", "name": "R", "colour": 1}],
            }
        )
    )
    with pytest.raises(HierarchyError, match="unknown field"):
        ConceptHierarchy.load(path)
