from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from hacd_graph.ach import HierarchyError
from hacd_graph.ach import audioset_resource as resource
from hacd_graph.ach.audioset import (
    ONTOLOGY_SHA256,
    ONTOLOGY_URL,
    SHIPPED_ONTOLOGY,
    STRUCTURE_FORMAT,
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


def test_resolve_defaults_to_the_shipped_structure(tmp_path: Path, monkeypatch):
    assert resolve_ontology_path("x.json") == Path("x.json")
    assert resolve_ontology_path(None, cache_dir=tmp_path) == SHIPPED_ONTOLOGY
    monkeypatch.setattr("hacd_graph.ach.audioset.SHIPPED_ONTOLOGY", tmp_path / "gone.json")
    with pytest.raises(FileNotFoundError, match="audioset_ontology=PATH"):
        resolve_ontology_path(None, cache_dir=tmp_path)


def test_shipped_structure_is_the_generated_one(audioset_ontology_path: Path):
    """The packaged file is exactly what the documented command writes from ontology.json."""
    assert SHIPPED_ONTOLOGY.read_text(encoding="utf-8") == resource.render_structure(
        audioset_ontology_path
    ), "regenerate: python -m hacd_graph.ach.audioset_resource --ontology ontology.json"
    assert resource.main(["--ontology", str(audioset_ontology_path), "--check"]) == 0


def test_shipped_structure_is_the_ontology_minus_descriptions(audioset_ontology_path: Path):
    shipped = json.loads(SHIPPED_ONTOLOGY.read_text(encoding="utf-8"))
    assert shipped["format"] == STRUCTURE_FORMAT
    assert shipped["source"] == {
        "file": "ontology.json", "sha256": ONTOLOGY_SHA256, "upstream": ONTOLOGY_URL,
    }  # fmt: skip
    assert shipped["licence"]["licence"] == "CC BY-SA 4.0"
    assert "descriptions removed" in shipped["licence"]["modified"]
    full = json.loads(audioset_ontology_path.read_text(encoding="utf-8"))
    assert [r["id"] for r in shipped["concepts"]] == [r["id"] for r in full]
    for small, big in zip(shipped["concepts"], full, strict=True):
        assert set(small) == {"id", "name", "child_ids", "restrictions"}
        assert small == {k: big[k] for k in small}
    # Read back, the shipped concepts are the full file's with the descriptions blanked.
    assert load_audioset() == [
        replace(c, description="") for c in load_audioset(audioset_ontology_path)
    ]
    assert load_audioset(SHIPPED_ONTOLOGY) == load_audioset()


def test_notice_attributes_the_ontology():
    notice = (SHIPPED_ONTOLOGY.parent / "NOTICE").read_text(encoding="utf-8")
    for needle in ("Google", "https://research.google.com/audioset/ontology", "CC BY-SA 4.0",
                   "https://creativecommons.org/licenses/by-sa/4.0/", "descriptions removed"):
        assert needle in notice


def test_generator_writes_and_checks(tmp_path: Path, audioset_ontology_path: Path, capsys):
    out = tmp_path / "structure.json"
    assert resource.main(["--ontology", str(audioset_ontology_path), "--out", str(out)]) == 0
    assert "632 concepts" in capsys.readouterr().out
    assert out.read_bytes() == SHIPPED_ONTOLOGY.read_bytes()
    # Another ontology: its own checksum, no claim to be the pinned upstream version.
    other = _ontology(tmp_path, [rec("/m/r", ["/m/a"], ["abstract"]), rec("/m/a")])
    assert resource.main(["--ontology", str(other), "--out", str(out), "--check"]) == 1
    resource.ship_audioset(other, out)
    data = json.loads(out.read_text())
    assert data["source"]["upstream"] is None
    assert data["source"]["sha256"] == hashlib.sha256(other.read_bytes()).hexdigest()
    assert [c.id for c in load_audioset(out)] == ["/m/r", "/m/a"]
    assert load_audioset(out)[1].parents == ("/m/r",)


def test_structure_file_of_another_format_is_refused(tmp_path: Path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"format": "something/v9", "concepts": []}))
    with pytest.raises(HierarchyError, match="format"):
        load_audioset(path)


def test_download_checks_checksum(tmp_path: Path, audioset_ontology_path: Path):
    url = audioset_ontology_path.resolve().as_uri()  # a local file:// URL: no network in tests
    dest = tmp_path / "cache" / "audioset_ontology.json"
    assert download_audioset_ontology(dest, url=url) == dest
    assert dest.read_bytes() == audioset_ontology_path.read_bytes()
    # With download=True a verified cached copy is used (no network); without, the shipped file.
    assert resolve_ontology_path(None, download=True, cache_dir=dest.parent) == dest
    assert resolve_ontology_path(None, cache_dir=dest.parent) == SHIPPED_ONTOLOGY
    bad = tmp_path / "bad" / "ontology.json"
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_audioset_ontology(bad, url=url, sha256="0" * 64)
    assert not bad.exists() and list(bad.parent.iterdir()) == []
