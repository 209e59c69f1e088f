from __future__ import annotations

import time
from pathlib import Path

import pytest

from hacd_graph.ach import build_ach


def test_default_is_core(core_ach):
    assert build_ach() == core_ach and core_ach.name == "core"
    assert build_ach("core") == core_ach


def test_merged_build_and_table_is_fast(audioset_ontology_path: Path):
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        ach = build_ach("core,audioset", audioset_ontology=audioset_ontology_path)
        ach.ancestor_table()
        best = min(best, time.perf_counter() - start)
    assert len(ach) >= 1000
    assert best < 1.0, f"building core+audioset and its ancestor table took {best:.2f} s"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sources": ("core", "wikidata")}, ValueError, "unknown source"),
        ({"sources": ("audioset",)}, ValueError, "merged into 'core'"),
        ({"sources": ("file",)}, ValueError, "hierarchy_file"),
        ({"sources": ("core", "file")}, ValueError, "on its own"),
        ({"colour": "red"}, TypeError, "unknown option"),
        ({"variant": "upside_down"}, ValueError, "unknown variant"),
        ({"variant": "truncated"}, ValueError, "max_depth"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build_ach(**kwargs)


def test_audioset_needs_a_path(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="audioset_ontology"):
        build_ach(("core", "audioset"), cache_dir=tmp_path)
