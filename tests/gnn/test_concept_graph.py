"""Typed edges of the concept graph, including AudioSet co-occurrence edges."""

from __future__ import annotations

import pytest
import torch

from hacd_graph.gnn.concept_graph import (
    CHILD_TO_PARENT,
    COOCCURRENCE,
    PARENT_TO_CHILD,
    build_concept_graph,
    cooccurrence_edges,
)


def test_hierarchy_edges_both_ways(tiny_ach):
    g = build_concept_graph(tiny_ach)
    assert g.num_relations == 2 and g.num_nodes == 7
    down = {tuple(e) for e in g.edge_index[:, g.edge_type == PARENT_TO_CHILD].t().tolist()}
    up = {tuple(e) for e in g.edge_index[:, g.edge_type == CHILD_TO_PARENT].t().tolist()}
    assert down == set(tiny_ach.edges()) and up == {(b, a) for a, b in down}


def test_cooccurrence_from_segments_csv(tmp_path):
    from hacd_graph.ach import Concept, ConceptHierarchy

    ach = ConceptHierarchy([
        Concept("hacd:root", "Audio", facet="root"),
        Concept("hacd:dog", "Dog", facet="sound_source", parents=("hacd:root",),
                audioset=("/m/0bt9lr",)),
        Concept("/m/05tny_", "Bark", facet="sound_source", parents=("hacd:dog",)),
        Concept("/m/04rlf", "Music", facet="musical_attribute", parents=("hacd:root",)),
    ])
    csv = tmp_path / "segs.csv"
    csv.write_text(
        "# YTID, start_seconds, end_seconds, positive_labels\n"
        'a, 0, 10, "/m/0bt9lr,/m/04rlf"\n'
        'b, 0, 10, "/m/0bt9lr,/m/04rlf,/m/05tny_,/m/unknown"\n'
        'c, 0, 10, "/m/05tny_"\n'
    )
    edges, clips = cooccurrence_edges(ach, [csv], min_count=2)
    assert clips == 3
    pairs = {tuple(e) for e in edges.t().tolist()}
    dog, music = ach.index("hacd:dog"), ach.index("/m/04rlf")
    assert pairs == {(dog, music), (music, dog)}  # bark-dog is an ancestor pair: dropped
    g = build_concept_graph(ach, [csv], min_count=1)
    assert g.num_relations == 3
    assert int((g.edge_type == COOCCURRENCE).sum()) == 4  # dog-music, bark-music


def test_real_audioset_cooccurrence(meta_dir):
    from hacd_graph.ach import build_ach

    ach = build_ach()
    edges, clips = cooccurrence_edges(ach, [meta_dir / "audioset" / "eval_segments.csv"], 5)
    assert clips > 10000 and edges.shape[1] > 100
    assert torch.equal(edges.flip(0).sort(dim=1).values, edges.sort(dim=1).values)


def test_missing_csv_is_named(tiny_ach, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        cooccurrence_edges(tiny_ach, [tmp_path / "nope.csv"])
