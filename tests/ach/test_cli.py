from __future__ import annotations

import json
from pathlib import Path

import pytest

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["ach", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_stats_text_and_json(capsys, core_ach: ConceptHierarchy):
    status, out, _ = run(capsys, "stats")
    assert status == 0
    assert f"ACH core: {len(core_ach)} concepts" in out and "sound_source" in out
    status, out, _ = run(capsys, "stats", "--json")
    stats = json.loads(out)
    assert stats["concepts"] == len(core_ach) and stats["depth"] == core_ach.depth
    assert sum(stats["per_level"].values()) == len(core_ach)
    assert stats["multi_parent"] == sum(len(core_ach.parents(i)) > 1 for i in range(len(core_ach)))


def test_stats_merged_and_variants(capsys, audioset_ontology_path: Path):
    ontology = str(audioset_ontology_path)
    status, out, _ = run(
        capsys, "stats", "--sources", "core,audioset", "--audioset-ontology", ontology, "--json"
    )
    stats = json.loads(out)
    assert status == 0 and stats["concepts"] >= 1000 and 5 <= stats["depth"] <= 7
    assert stats["restrictions"]["blacklist"] > 0 and stats["sources"]["core+audioset"] > 300
    _, out, _ = run(capsys, "stats", "--variant", "truncated", "--max-depth", "3", "--json")
    assert json.loads(out)["depth"] == 3 and json.loads(out)["redirects"] > 0


def test_show(capsys):
    status, out, _ = run(capsys, "show", "hacd:walking_bass")
    assert status == 0
    assert "Audio > Music > Playing technique > Bass technique > Walking bass" in out
    assert "Audio > Music > Musical elements > Bass line > Walking bass" in out
    _, out, _ = run(capsys, "show", "Jazz", "--json")
    record = json.loads(out)
    assert record["id"] == "hacd:jazz" and {c["id"] for c in record["children"]} >= {"hacd:bebop"}
    _, out, _ = run(capsys, "show", "hacd:bebop", "--variant", "truncated", "--max-depth", "3")
    assert "merged into: hacd:genre" in out


def test_show_unknown(capsys):
    status, _, err = run(capsys, "show", "hacd:kazoo")
    assert status == 2 and "unknown concept 'hacd:kazoo'" in err


def test_build_and_load(capsys, tmp_path: Path, core_ach: ConceptHierarchy):
    out_path = tmp_path / "out" / "ach.json"
    status, out, _ = run(capsys, "build", "--out", str(out_path))
    assert status == 0 and "wrote" in out
    assert ConceptHierarchy.load(out_path) == core_ach
    status, out, _ = run(capsys, "stats", "--ach", str(out_path), "--json")
    assert json.loads(out)["concepts"] == len(core_ach)


def test_build_bad_input_writes_nothing(capsys, tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("r,a\na,r\n")
    out_path = tmp_path / "ach.json"
    status, _, err = run(
        capsys, "build", "--sources", "file", "--hierarchy-file", str(bad), "--out", str(out_path)
    )
    assert status == 2 and "bad.csv" in err
    assert not out_path.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_render_subtree(capsys, tmp_path: Path):
    status, out, _ = run(
        capsys,
        "render",
        "--root",
        "hacd:jazz",
        "--out",
        str(tmp_path / "j.png"),
        "--html",
        str(tmp_path / "j.html"),
    )
    assert status == 0
    assert (tmp_path / "j.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Bebop" in (tmp_path / "j.html").read_text()
    status, _, err = run(capsys, "render")
    assert status == 2 and "--out" in err


def test_console_script_help():
    with pytest.raises(SystemExit) as info:
        main(["ach", "--help"])
    assert info.value.code == 0


def test_hierarchy_file_selects_its_source_or_is_refused(capsys, tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("parent,child\nsound,music\nmusic,jazz\n")
    status, out, _ = run(capsys, "stats", "--hierarchy-file", str(path), "--json")
    assert status == 0 and json.loads(out)["concepts"] == 3
    status, out, err = run(capsys, "stats", "--sources", "core", "--hierarchy-file", str(path))
    assert status == 2 and out == ""
    assert err.strip().splitlines() == [
        f"hacd-graph: error: --hierarchy-file {path} is read only with --sources file, "
        "not --sources core (add --debug for the traceback)"]
    status, _, err = run(capsys, "stats", "--ach", str(path), "--sources", "core")
    assert status == 2 and "drop --sources" in err


def test_errors_are_one_line_unless_debug(capsys, tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("r,a\nb,c\n")
    status, _, err = run(capsys, "stats", "--hierarchy-file", str(bad))
    assert status == 2 and len(err.strip().splitlines()) == 1 and "unknown parent 'b'" in err
    from hacd_graph.ach import HierarchyError

    with pytest.raises(HierarchyError):
        main(["ach", "stats", "--hierarchy-file", str(bad), "--debug"])
