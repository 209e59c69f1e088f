from __future__ import annotations

import re
from pathlib import Path

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.ach.render import main_parents, render_html, render_png, tree_children


def test_main_parents(merged_ach: ConceptHierarchy):
    parents = main_parents(merged_ach)
    levels = merged_ach.levels
    assert parents[0] == -1
    for child in range(1, len(merged_ach)):
        assert parents[child] in merged_ach.parents(child)
        assert levels[parents[child]] == levels[child] - 1
    children = tree_children(merged_ach)
    assert sum(len(c) for c in children) == len(merged_ach) - 1


def test_png_full_radial(tmp_path: Path, merged_ach: ConceptHierarchy):
    path = render_png(merged_ach, tmp_path / "ach.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    assert [p.name for p in tmp_path.iterdir()] == ["ach.png"]


def test_png_levels_and_subtree(tmp_path: Path, core_ach: ConceptHierarchy):
    assert render_png(core_ach, tmp_path / "top.png", levels=2).stat().st_size > 10_000
    assert (
        render_png(core_ach, tmp_path / "rec.png", root="Recording quality").stat().st_size > 10_000
    )


def test_html_tree(tmp_path: Path, merged_ach: ConceptHierarchy):
    text = render_html(merged_ach, tmp_path / "ach.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and "</html>" in text
    assert "<script src" not in text and "<link" not in text  # self-contained
    assert len(re.findall(r'class="(?:leaf )?node"', text)) == len(merged_ach)
    assert text.count("also under") == sum(
        len(merged_ach.parents(i)) > 1 for i in range(len(merged_ach))
    )
    assert "Walking bass" in text and "hacd:walking_bass" in text


def test_html_escapes(tmp_path: Path):
    from hacd_graph.ach import Concept

    ach = ConceptHierarchy(
        [Concept("r", "<Root>"), Concept("a", 'A & "B"', "x < y", parents=("r",))]
    )
    text = render_html(ach, tmp_path / "x.html").read_text()
    assert "&lt;Root&gt;" in text and "A &amp; &quot;B&quot;" in text and "<Root>" not in text
