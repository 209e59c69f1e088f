from __future__ import annotations

import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from hacd_graph.ach import HierarchyError, build_ach


def test_default_is_core(core_ach):
    assert build_ach() == core_ach and core_ach.name == "core"
    assert build_ach("core") == core_ach


def test_merged_build_and_table_is_fast():
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        ach = build_ach("core,audioset")  # the shipped AudioSet structure
        ach.ancestor_table()
        best = min(best, time.perf_counter() - start)
    assert len(ach) >= 1000
    assert best < 1.0, f"building core+audioset and its ancestor table took {best:.2f} s"


def test_default_pipeline_hierarchy_needs_no_path(monkeypatch):
    """core + AudioSet builds from the package alone: no path, no ../shared, no network."""

    def no_network(*args, **kwargs):
        raise AssertionError("build_ach tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    ach = build_ach(("core", "audioset"))
    assert ach.name == "core+audioset"
    assert len(ach) == 1039 and ach.depth == 7  # the method asks >= 1000 concepts, 5-7 levels
    assert "/m/0bt9lr" in ach.ids  # AudioSet concepts keep their MID
    # Unified concepts keep the core id as an alternative id (synthetic labels are core ids).
    jazz = ach.index("hacd:jazz")
    assert ach.ids[jazz].startswith("/m/") and "hacd:jazz" in ach.concepts[jazz].alt_ids


def test_user_ontology_path_gives_the_same_structure(merged_ach):
    """A user's full ontology.json builds the same DAG; only AudioSet descriptions differ."""
    shipped = build_ach(("core", "audioset"))
    assert shipped.ids == merged_ach.ids
    assert all(shipped.parents(i) == merged_ach.parents(i) for i in range(len(shipped)))
    assert [replace(c, description="") for c in shipped.concepts] == [
        replace(c, description="") for c in merged_ach.concepts
    ]
    core_described = [c for c in shipped.concepts if "core" in c.sources]
    assert all(c.description for c in core_described)  # core text is the project's own


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


def test_missing_user_ontology_is_named(tmp_path: Path):
    with pytest.raises(HierarchyError, match="not found") as info:
        build_ach(("core", "audioset"), audioset_ontology=tmp_path / "ontology.json")
    assert info.value.file == str(tmp_path / "ontology.json")
