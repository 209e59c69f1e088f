from __future__ import annotations

import json
from pathlib import Path

import pytest

from hacd_graph.ach import ConceptHierarchy, HierarchyError, build_ach
from hacd_graph.ach.hierarchy_file import from_edges, from_file


def test_csv(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "parent,child\n# a comment\nsound,music,Music\nsound,noise\nmusic,jazz,Jazz\n\nnoise,jazz\n"
    )
    ach = from_file(path)
    assert ach.ids == ["sound", "music", "noise", "jazz"] and ach.name == "mine"
    assert ach.concept("jazz").name == "Jazz" and ach.concept("noise").name == "noise"
    assert sorted(ach.ids[p] for p in ach.parents("jazz")) == ["music", "noise"]
    assert build_ach("file", hierarchy_file=path) == ach


def test_tsv_json_graphml_and_saved(tmp_path: Path, core_ach: ConceptHierarchy):
    tsv = tmp_path / "h.tsv"
    tsv.write_text("r\ta\na\tb\n")
    assert from_file(tsv).ids == ["r", "a", "b"]
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([["r", "a"], ["a", "b"]]))
    assert from_file(pairs).ids == ["r", "a", "b"]
    named = tmp_path / "named.json"
    named.write_text(json.dumps({"edges": [["r", "a"]], "names": {"a": "Alpha"}}))
    assert from_file(named).concept("a").name == "Alpha"
    saved = core_ach.save(tmp_path / "ach.json")
    assert from_file(saved) == core_ach
    import networkx as nx

    graph = nx.DiGraph([("r", "a"), ("r", "b"), ("a", "c"), ("b", "c")])
    nx.write_graphml(graph, tmp_path / "g.graphml")
    loaded = from_file(tmp_path / "g.graphml")
    assert set(loaded.ids) == {"r", "a", "b", "c"} and len(loaded.parents("c")) == 2


def test_edges_round_trip(core_ach: ConceptHierarchy):
    ids = core_ach.ids
    rebuilt = from_edges([(ids[p], ids[c]) for p, c in core_ach.edges()])
    assert rebuilt.ids == ids
    assert all(rebuilt.parents(i) == core_ach.parents(i) for i in range(len(ids)))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("h.csv", "r,a\na\n", "row 2"),
        ("h.csv", "r,a\nb,c\n", r"unknown parent 'b' \(row 2\): never listed as a child"),
        ("h.csv", "r,a\na,b\nroott,c\nroot,d\n", r"unknown parents 'roott' \(row 3\), 'root'"),
        ("h.csv", "source,target\nr,a\na,b\n", "row 1 'source,target' joins nothing else"),
        ("h.csv", "child,parent\nr,a\n", "row 1: header 'child,parent' has the columns swapped"),
        ("h.csv", "r,a,A\nr,b\na,b,B\nr,a,Alpha\n",
         "row 4: 'a' is named 'Alpha' here but 'A' in row 1"),
        ("h.json", '[["r", "a"], ["x", "b"]]', r"unknown parent 'x' \(edge 2\)"),
        ("h.csv", "r,a\na,b\nb,a\n", "no root|cycle"),
        ("h.csv", "r,a\na,a\n", "self-loop"),
        ("h.csv", "", "no edges"),
        ("h.json", "{]", "not valid JSON"),
        ("h.json", '[["r", "a", "b"]]', "edge 1"),
        ("h.graphml", "<graphml>", "GraphML"),
        ("h.xml", "r,a", "unknown hierarchy format"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, name: str, text: str, message: str):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(HierarchyError, match=message) as info:
        from_file(path)
    assert info.value.file == str(path)


def test_header_after_comments_and_repeated_names(tmp_path: Path):
    path = tmp_path / "h.csv"
    path.write_text("# my hierarchy\nParent,Child,Name\nr,a,A\na,b\nr,b,B\nr,a,A\n")
    ach = from_file(path)
    assert ach.ids == ["r", "a", "b"] and ach.concept("a").name == "A"
    assert ach.concept("b").name == "B"


def test_missing_file(tmp_path: Path):
    with pytest.raises(HierarchyError, match="not found"):
        from_file(tmp_path / "nope.csv")
