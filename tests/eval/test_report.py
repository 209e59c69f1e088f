"""The run report: sections in order, the fixture's numbers in its tables, a self-contained
HTML file that parses, "not available" for missing inputs, and the CLI."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hacd_graph.cli import main
from hacd_graph.errors import UserError
from hacd_graph.eval.report import write_report
from tests.eval.report_fixtures import write_fake_run

SECTIONS = ("Run report", "Headline", "Description", "Captions", "Classification",
            "Audio question answering", "Retrieval", "Per-level charts", "Attention maps",
            "Example generations", "Error analysis", "Counterfactual", "Learning curves")
VOID = {"meta", "link", "img", "br", "hr", "input"}


class _Checker(HTMLParser):
    """Collects img/src/href attributes and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.imgs: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "img":
            self.imgs.append(a)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One fake run and its report (written once for the module: figures take seconds)."""
    run = write_fake_run(tmp_path_factory.mktemp("full"))
    md, html_path = write_report(run)
    return run, md.read_text(), html_path.read_text()


def _parse(text: str) -> _Checker:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    return checker


def test_both_files_and_figures_written(report):
    run, md, html_text = report
    assert (run / "report.md").is_file() and (run / "report.html").is_file()
    pngs = sorted(p.stem for p in (run / "report_files").glob("*.png"))
    # 2 level charts, 3 clips x 2 attention maps, 2 error charts, 3 learning curves
    assert len(pngs) == 13
    assert sorted(re.findall(r'data-plot="([^"]+)"', html_text)) == pngs
    assert sorted(re.findall(r"\(report_files/([^)]+)\.png\)", md)) == pngs


def test_sections_present_in_order(report):
    _, md, html_text = report
    headings = re.findall(r"^#{1,2} (.+)$", md, flags=re.M)
    assert headings == list(SECTIONS)
    html_headings = re.findall(r"<h[12] [^>]*>([^<]+)</h[12]>", html_text)
    assert html_headings == list(SECTIONS)


def test_tables_hold_the_fixture_numbers(report):
    run, md, html_text = report
    record = json.loads((run / "eval" / "metrics.json").read_text())
    m, ref = record["metrics"], record["reference"]
    for key, value in m.items():
        if isinstance(value, float):
            assert f"{value:.3f}" in md, key
            assert f"{value:.3f}" in html_text, key
    row = re.search(r"^\| L2 \|(.+)$", md.split("## Description")[1], flags=re.M).group(1)
    cells = [c.strip() for c in row.strip(" |").split("|")]
    assert cells == [f"{m[f'description/level2/{k}']:.3f}" for k in ("P", "R", "F1")] + [
        f"{ref[f'description/level2/{k}']:.3f}" for k in ("P", "R", "F1")]
    assert "| SPICE | not available: needs Stanford CoreNLP (offline here) |" in md
    assert "| CIDEr | 1.234 |" in md
    assert "git revision: abc1234" in md and "held-out clips: 240; seeds: 3" in md
    assert "gnn=gatv2" in md and "bridge=hierarchical" in md and "llm=default" in md
    errors = json.loads((run / "eval" / "errors.json").read_text())
    assert "| Dog | Cat | 2 | 9 |" in md
    lv1 = errors["head"]["levels"]["1"]
    assert (f"| L1 | {lv1['true_positives']} | {lv1['false_positives']} | "
            f"{lv1['false_negatives']} | {lv1['F1']:.3f} |") in md
    assert "mentions in 50 clips went from 42 to 3" in md
    assert "most often missed: Wind chime (5), Hiss (3)" in md
    assert "false positives: 52 over 240 clips, 4 of them in clips with no true concept" in md
    assert "| teacher | ran | 10.500 | 12 |" in md


def test_html_is_self_contained_and_parses(report):
    _, _, html_text = report
    checker = _parse(html_text)
    assert checker.errors == [] and checker.stack == []
    assert "script" not in checker.tags
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html_text)
    assert "http://" not in html_text and "https://" not in html_text
    assert checker.imgs
    for img in checker.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        assert img["alt"] and img["data-plot"]
    assert all(link.startswith(("data:", "#")) for link in checker.links)


def test_text_from_the_run_is_escaped(report):
    _, md, html_text = report
    assert "<b>loudly</b>" not in html_text
    assert "&lt;b&gt;loudly&lt;/b&gt;" in html_text
    assert "dog &lt;0&gt; &amp; a cat" in html_text
    assert "A dog is barking \\| outside." in md  # a pipe cannot break a Markdown table
    text = "".join(_parse(html_text).text)
    assert "Animal sounds: a dog barks <b>loudly</b> (clip 0)." in text
    assert "(the parser could not read it)" in text  # clip 1's parse failure is flagged


def test_missing_optional_inputs_say_not_available(tmp_path):
    run = write_fake_run(tmp_path, examples=1, attention=False, counterfactual=False,
                         stages=("teacher",))
    record_path = run / "eval" / "metrics.json"
    record = json.loads(record_path.read_text())
    record["metrics"] = {k: v for k, v in record["metrics"].items()
                         if not k.startswith(("retrieval/", "classification/"))}
    record_path.write_text(json.dumps(record))
    (run / "eval" / "errors.json").unlink()
    (run / "config.yaml").unlink()
    out = tmp_path / "out"
    md_path, html_path = write_report(run, out)
    assert md_path == out / "report.md" and not (run / "report.md").exists()
    md = md_path.read_text()
    sections = dict(re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", md, flags=re.M | re.S))
    assert sections["Attention maps"].strip().startswith("not available (no eval/attention.npz")
    assert "not available (no eval/counterfactual.json)" in sections["Counterfactual"]
    assert "not available (no eval/errors.json)" in sections["Error analysis"]
    assert "not available (no retrieval metrics" in sections["Retrieval"]
    assert "not available (no classification metrics" in sections["Classification"]
    assert "distill: not available (no distill/metrics.csv)" in sections["Learning curves"]
    assert "config: not available (no config.yaml in the run)" in md
    assert "| L1 |" in sections["Description"]  # what is there is still shown
    pngs = {p.stem for p in (out / "report_files").glob("*.png")}
    assert pngs == {"description-levels", "curves-teacher"}
    assert 'class="na"' in html_path.read_text()


def test_reasons_recorded_by_the_eval_stage_are_shown(tmp_path):
    run = write_fake_run(tmp_path, examples=1, attention=False, stages=())
    record_path = run / "eval" / "metrics.json"
    record = json.loads(record_path.read_text())
    record["not_available"]["attention"] = "the mlp bridge has no attention"
    record_path.write_text(json.dumps(record))
    (run / "eval" / "counterfactual.json").write_text(json.dumps(
        {"removed": "Music", "not_available": "the mlp bridge reads no concept memory"}))
    md = write_report(run)[0].read_text()
    assert "not available (the mlp bridge has no attention)" in md
    assert "not available (removing Music: the mlp bridge reads no concept memory)" in md


def test_missing_metrics_is_a_user_error(tmp_path):
    run = write_fake_run(tmp_path, examples=1, attention=False)
    (run / "eval" / "metrics.json").unlink()
    with pytest.raises(UserError, match="no eval/metrics.json in .*run the eval stage first"):
        write_report(run)
    with pytest.raises(UserError, match="no such run directory"):
        write_report(tmp_path / "nowhere")


def test_cli_writes_and_prints_the_paths(tmp_path, capsys):
    run = write_fake_run(tmp_path, examples=1, attention=False, counterfactual=False,
                         stages=())
    assert main(["report", "--run", str(run)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(run / "report.md"), str(run / "report.html")]
    assert all(Path(p).is_file() for p in printed)

    (run / "eval" / "metrics.json").unlink()
    assert main(["report", "--run", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run the eval stage first" in err


def test_rewrite_drops_stale_figures(tmp_path):
    run = write_fake_run(tmp_path, examples=1, counterfactual=False, stages=())
    write_report(run)
    assert (run / "report_files" / "attention-0-audio.png").is_file()
    (run / "eval" / "attention.npz").unlink()
    write_report(run)
    assert not (run / "report_files" / "attention-0-audio.png").exists()
    assert not list(run.glob(".report*.tmp")) and not list(run.glob("report_files/.*"))
