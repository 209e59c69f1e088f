from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hacd_graph.ach import HierarchyError
from hacd_graph.ach.audioset import (
    ONTOLOGY_SHA256,
    download_audioset_ontology,
    load_audioset,
    resolve_ontology_path,
)


def test_real_ontology(audioset_ontology_path: Path):
    concepts = load_audioset(audioset_ontology_path)
    assert len(concepts) == 632
    by_id = {c.id: c for c in concepts}
    assert sorted(c.name for c in concepts if not c.parents) == sorted(
        [
            "Human sounds", "Animal", "Music", "Natural sounds", "Sounds of things",
            "Source-ambiguous sounds", "Channel, environment and background",
        ]
    )  # fmt: skip
    assert sum(len(c.parents) > 1 for c in concepts) == 38
    assert set(by_id["/m/0l15bq"].parents) == {"/m/0k65p", "/t/dd00012"}  # Clapping
    assert by_id["/m/0dgw9r"].restrictions == ("abstract",)
    assert by_id["/m/059j3w"].restrictions == ("blacklist",)
    assert all(c.audioset == (c.id,) and c.sources == ("audioset",) for c in concepts)


def test_checksum_pins_the_test_copy(audioset_ontology_path: Path):
    assert hashlib.sha256(audioset_ontology_path.read_bytes()).hexdigest() == ONTOLOGY_SHA256


def _ontology(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "ontology.json"
    path.write_text(json.dumps(records))
    return path


def rec(mid: str, children=(), restrictions=()) -> dict:
    return {
        "id": mid,
        "name": mid.upper(),
        "description": "",
        "child_ids": list(children),
        "restrictions": list(restrictions),
    }


@pytest.mark.parametrize(
    ("records", "message", "concept"),
    [
        ([rec("/m/a", ["/m/zz"])], "not defined", "/m/a"),
        ([rec("/m/a"), rec("/m/a")], "duplicate id", "/m/a"),
        ([rec("/m/a", ["/m/a"])], "self-loop", "/m/a"),
        ([rec("/m/a", restrictions=["secret"])], "unknown restriction", "/m/a"),
        ([{"id": "/m/a", "name": "A"}], "missing field", "/m/a"),
        ([rec("/m/r", ["/m/a"]), rec("/m/a", ["/m/b"]), rec("/m/b", ["/m/a"])], "cycle", None),
    ],
)
def test_bad_ontology(tmp_path: Path, records, message, concept):
    path = _ontology(tmp_path, records)
    with pytest.raises(HierarchyError, match=message) as info:
        load_audioset(path)
    assert info.value.file == str(path)
    if concept:
        assert info.value.concept == concept


def test_not_json_and_missing(tmp_path: Path):
    path = tmp_path / "o.json"
    path.write_text("{nope")
    with pytest.raises(HierarchyError, match="not valid JSON"):
        load_audioset(path)
    with pytest.raises(HierarchyError, match="not found"):
        load_audioset(tmp_path / "missing.json")


def test_resolve_needs_path_or_download(tmp_path: Path):
    assert resolve_ontology_path("x.json") == Path("x.json")
    with pytest.raises(FileNotFoundError, match="audioset_ontology=PATH"):
        resolve_ontology_path(None, download=False, cache_dir=tmp_path)


def test_download_checks_checksum(tmp_path: Path, audioset_ontology_path: Path):
    url = audioset_ontology_path.resolve().as_uri()  # a local file:// URL: no network in tests
    dest = tmp_path / "cache" / "audioset_ontology.json"
    assert download_audioset_ontology(dest, url=url) == dest
    assert dest.read_bytes() == audioset_ontology_path.read_bytes()
    assert resolve_ontology_path(None, cache_dir=dest.parent) == dest  # cached copy is used
    bad = tmp_path / "bad" / "ontology.json"
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_audioset_ontology(bad, url=url, sha256="0" * 64)
    assert not bad.exists() and list(bad.parent.iterdir()) == []
