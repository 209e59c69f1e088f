"""A run's report: ``<out>/report.md`` and one self-contained ``<out>/report.html``.

    hacd-graph report --run DIR [--out DIR]

Reads what the eval stage wrote (``eval/metrics.json``, ``examples.jsonl``, ``errors.json``,
and, where they exist, ``attention.npz`` and ``counterfactual.json``), the training stages'
``metrics.json`` / ``metrics.csv``, ``summary.json`` and ``config.yaml``. Sections, in order:
header, headline, description, captions, classification, AQA, retrieval, per-level charts,
attention maps, example generations, error analysis, counterfactual, learning curves. A
missing optional input makes its section say ``not available (<why>)``.

The Markdown file links the figures written to ``<out>/report_files/<name>.png``; the HTML
file carries the same PNGs as base64 data URIs (inline CSS, no script, no external URL),
each an ``<img data-plot="<name>" alt=...>``. All text from the run is HTML-escaped. Every
file is written atomically (:mod:`hacd_graph.atomic_io`).
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hacd_graph.atomic_io import write_bytes_atomic, write_text_atomic
from hacd_graph.errors import UserError

STAGES = ("teacher", "distill", "finetune")
CAPTION_METRICS = ("BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "METEOR", "ROUGE_L", "CIDEr",
                   "SPICE", "SPIDEr")
RETRIEVAL_METRICS = ("R@1", "R@5", "R@10", "mAP@10")
HEADLINE = (("classification mAP (macro)", "classification/mAP_macro"),
            ("hierarchical F1", "classification/hF1"),
            ("hierarchy violation rate", "classification/violation_rate"),
            ("caption CIDEr", "caption/CIDEr"),
            ("AQA accuracy", "aqa/accuracy"),
            ("retrieval audio→text R@10", "retrieval/a2t/R@10"),
            ("retrieval text→audio R@10", "retrieval/t2a/R@10"))
CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #bbb;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#eee}td.num{text-align:right}
img{max-width:100%}figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
.na{color:#a33}"""


class _Doc:
    """The report being built, as Markdown and HTML side by side, plus its figures' PNGs."""

    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []
        self.figures: dict[str, bytes] = {}

    def heading(self, level: int, text: str) -> None:
        anchor = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
        self.md.append(f"{'#' * level} {text}\n")
        self.html.append(f'<h{level} id="{anchor}">{html.escape(text)}</h{level}>')

    def para(self, text: str, missing: bool = False) -> None:
        self.md.append(f"{text}\n")
        cls = ' class="na"' if missing else ""
        self.html.append(f"<p{cls}>{html.escape(text)}</p>")

    def not_available(self, why: str) -> None:
        self.para(f"not available ({why})", missing=True)

    def bullets(self, items: Sequence[str]) -> None:
        self.md.append("".join(f"- {i}\n" for i in items))
        self.html.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cells = [[_fmt(c) for c in row] for row in rows]
        self.md.append(_md_row(header) + _md_row(["---"] * len(header))
                       + "".join(_md_row(r) for r in cells))
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f'<td{" class=num" if _is_num(v) else ""}>{html.escape(c)}</td>'
                             for v, c in zip(row, r, strict=True)) + "</tr>"
            for row, r in zip(rows, cells, strict=True))
        self.html.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, name: str, fig: Any, alt: str) -> None:
        from hacd_graph.eval.plots import png_bytes

        png = png_bytes(fig)
        self.figures[name] = png
        self.md.append(f"![{alt}](report_files/{name}.png)\n")
        data = base64.b64encode(png).decode("ascii")
        self.html.append(f'<figure><img data-plot="{name}" alt="{html.escape(alt)}" '
                         f'src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(alt)}</figcaption></figure>")


def _md_row(cells: Sequence[str]) -> str:
    """One Markdown table row; a ``|`` or line break inside a cell cannot break the table."""
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |\n"


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(v: Any) -> str:
    """A table cell: floats to 3 decimals, integers as they are, ``None`` as ``n/a``."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "✓" if v else "✗"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _load_json(path: Path) -> Any:
    """The JSON in ``path``, or ``None`` when it does not exist; a broken file is a UserError."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None


def _levels(metrics: Mapping[str, Any], prefix: str) -> list[int]:
    """Levels ``L`` with some ``{prefix}/level{L}/...`` key, ascending."""
    pattern = re.compile(rf"^{re.escape(prefix)}/level(\d+)/")
    return sorted({int(m.group(1)) for k in metrics if (m := pattern.match(k))})


def _header(doc: _Doc, run_dir: Path, record: Mapping[str, Any]) -> None:
    doc.heading(1, "Run report")
    config = _config_choices(run_dir / "config.yaml")
    doc.bullets([f"run directory: {run_dir}",
                 f"git revision: {record.get('git_revision') or 'not recorded'}",
                 f"held-out clips: {record.get('num_clips', 'n/a')}; "
                 f"seeds: {record.get('seeds', 'n/a')}",
                 "config: " + (", ".join(f"{k}={v}" for k, v in config.items()) if config
                               else "not available (no config.yaml in the run)")])


def _config_choices(path: Path) -> dict[str, str]:
    """The config's key choices (ach, teacher, gnn, bridge, llm), or ``{}`` without a file."""
    if not path.is_file():
        return {}
    import yaml

    cfg = yaml.safe_load(path.read_text()) or {}

    def get(group: str, key: str) -> Any:
        return (cfg.get(group) or {}).get(key)

    sources = get("ach", "sources")
    ach = "+".join(sources) if isinstance(sources, list) else sources
    teacher = "/".join(str(x) for x in (get("teacher", "backbone"), get("teacher", "head"))
                       if x is not None)
    bridge = get("bridge", "bridge_type")
    if bridge is not None and get("bridge", "teacher_probs") is False:
        bridge = f"{bridge} (no teacher probabilities)"
    choices = {"ach": f"{ach} ({get('ach', 'variant')})" if get("ach", "variant") else ach,
               "teacher": f"{teacher} ({get('teacher', 'loss')})" if get("teacher", "loss")
               else teacher, "gnn": get("gnn", "encoder"), "bridge": bridge,
               "llm": get("llm", "name")}
    return {k: str(v) if v else "n/a" for k, v in choices.items()}


def _metric_sections(doc: _Doc, record: Mapping[str, Any]) -> None:
    m = record.get("metrics") or {}
    ref = record.get("reference") or {}
    na = record.get("not_available") or {}
    doc.heading(2, "Headline")
    desc_levels = _levels(m, "description")
    f1s = [m[f"description/level{lv}/F1"] for lv in desc_levels
           if m.get(f"description/level{lv}/F1") is not None]
    rows = [[label, key, m.get(key)] for label, key in HEADLINE]
    rows.insert(3, ["description F1 (mean over levels)", "description/level{L}/F1",
                    sum(f1s) / len(f1s) if f1s else None])
    doc.table(["metric", "key", "value"], rows)
    if na:
        doc.bullets([f"{k}: not available: {why}" for k, why in na.items()])

    doc.heading(2, "Description")
    if desc_levels:
        doc.table(["level", "P", "R", "F1", "reference P", "reference R", "reference F1"],
                  [[f"L{lv}", *(m.get(f"description/level{lv}/{k}") for k in ("P", "R", "F1")),
                    *(ref.get(f"description/level{lv}/{k}") for k in ("P", "R", "F1"))]
                   for lv in desc_levels])
        doc.para("The reference columns score the reference descriptions with the same parser: "
                 "the ceiling the parser allows.")
        failures = m.get("description/parse_failures")
        doc.para("descriptions the parser could not read: "
                 + _fmt(int(failures) if _is_num(failures) and failures == int(failures)
                        else failures))
    else:
        doc.not_available("no description/level{L} metrics in eval/metrics.json")

    doc.heading(2, "Captions")
    if any(k.startswith("caption/") for k in (*m, *na)):
        doc.table(["metric", "value"], [
            [name, m[f"caption/{name}"] if f"caption/{name}" in m else
             f"not available: {na.get(f'caption/{name}', 'not in eval/metrics.json')}"]
            for name in CAPTION_METRICS])
    else:
        doc.not_available("no caption metrics in eval/metrics.json")

    doc.heading(2, "Classification")
    cls_levels = _levels(m, "classification")
    overall = [[k, m[f"classification/{k}"]] for k in ("mAP_macro", "hP", "hR", "hF1",
                                                        "violation_rate")
               if f"classification/{k}" in m]
    if cls_levels:
        doc.table(["level", "mAP", "F1"], [[f"L{lv}", m.get(f"classification/level{lv}/mAP"),
                                            m.get(f"classification/level{lv}/F1")]
                                           for lv in cls_levels])
    if overall:
        doc.table(["metric", "value"], overall)
    if not cls_levels and not overall:
        doc.not_available("no classification metrics in eval/metrics.json (no concept head?)")

    doc.heading(2, "Audio question answering")
    by_level = [[name, m[f"aqa/level/{name}/accuracy"]] for name in ("general", "category",
                                                                      "specific")
                if f"aqa/level/{name}/accuracy" in m]
    by_level += [[f"L{lv}", m.get(f"aqa/level{lv}/accuracy")] for lv in _levels(m, "aqa")]
    by_type = [[k.split("/")[2], v] for k, v in m.items()
               if k.startswith("aqa/type/") and k.endswith("/accuracy")]
    if "aqa/accuracy" in m or by_level or by_type:
        doc.para(f"overall accuracy: {_fmt(m.get('aqa/accuracy'))}")
        doc.table(["question level", "accuracy"], by_level or [["n/a", None]])
        doc.table(["question type", "accuracy"], by_type or [["n/a", None]])
    else:
        doc.not_available("no aqa metrics in eval/metrics.json")

    doc.heading(2, "Retrieval")
    rows = [[label, *(m.get(f"retrieval/{d}/{k}") for k in RETRIEVAL_METRICS)]
            for d, label in (("a2t", "audio→text"), ("t2a", "text→audio"))]
    if any(v is not None for row in rows for v in row[1:]):
        doc.table(["direction", *RETRIEVAL_METRICS], rows)
    else:
        doc.not_available("no retrieval metrics in eval/metrics.json")


def _level_charts(doc: _Doc, record: Mapping[str, Any]) -> None:
    from hacd_graph.eval.plots import level_bars

    m, ref = record.get("metrics") or {}, record.get("reference") or {}
    doc.heading(2, "Per-level charts")
    cls_levels, desc_levels = _levels(m, "classification"), _levels(m, "description")
    if cls_levels:
        doc.figure("classification-levels", level_bars(
            {k: {lv: m.get(f"classification/level{lv}/{k}") for lv in cls_levels}
             for k in ("mAP", "F1")}, "classification by level"),
            "classification mAP and F1 per hierarchy level")
    else:
        doc.not_available("no classification/level{L} metrics")
    if desc_levels:
        doc.figure("description-levels", level_bars(
            {"model F1": {lv: m.get(f"description/level{lv}/F1") for lv in desc_levels},
             "reference F1 (ceiling)": {lv: ref.get(f"description/level{lv}/F1")
                                        for lv in desc_levels}},
            "description F1 by level", ylabel="F1"),
            "description F1 per hierarchy level, model beside the reference ceiling")
    else:
        doc.not_available("no description/level{L} metrics")


def _attention(doc: _Doc, path: Path, why_not: str | None) -> None:
    from hacd_graph.eval.plots import attention_under_spectrogram, concept_attention_by_level

    doc.heading(2, "Attention maps")
    if not path.is_file():
        doc.not_available(why_not or "no eval/attention.npz: the bridge has no attention, or "
                          "eval did not record it")
        return
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        ids, logmel, audio = a["clip_ids"], a["logmel"], a["audio_attention"]
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{path}: not a readable attention record ({err})") from None
    for k, clip in enumerate(ids):
        doc.heading(3, str(clip))
        doc.figure(f"attention-{k}-audio", attention_under_spectrogram(
            logmel[k], audio[k], float(a["duration_s"][k]), title=f"{clip}: log-mel"),
            f"{clip}: log-mel spectrogram with the bridge queries' attention over time")
        doc.figure(f"attention-{k}-concepts", concept_attention_by_level(
            a["concept_attention"][k], a["concept_level"], a["concept_names"],
            title=f"{clip}: bridge queries x concepts"),
            f"{clip}: bridge queries' attention over concepts grouped by level")


def _examples(doc: _Doc, path: Path, max_qa: int = 4) -> None:
    doc.heading(2, "Example generations")
    if not path.is_file():
        doc.not_available("no eval/examples.jsonl")
        return
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            ex = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}, line {number}: not valid JSON ({err})") from None
        doc.heading(3, str(ex.get("id", "?")))
        failed = " (the parser could not read it)" if ex.get("parse_failed") else ""
        rows = [["description", ex.get("reference_description"),
                 f"{ex.get('generated_description')}{failed}", ""],
                ["caption", ex.get("reference_caption"), ex.get("generated_caption"), ""]]
        rows += [[f"Q ({q.get('level')}, {q.get('type')}): {q.get('question')}", q.get("answer"),
                  q.get("prediction"), bool(q.get("correct"))] for q in ex.get("qa", [])[:max_qa]]
        doc.table(["", "truth", "generated", "correct"], rows)
        top = ex.get("top_concepts") or []
        doc.para(f"audio: {ex.get('audio')}; top concepts: " + (", ".join(
            f"{c['name']} (L{c['level']}, {c['prob']:.2f})" for c in top) or "none"))


def _errors(doc: _Doc, errors: Mapping[str, Any] | None, max_missed: int = 10) -> None:
    from hacd_graph.eval.plots import confusion_distance_bars

    doc.heading(2, "Error analysis")
    if errors is None:
        doc.not_available("no eval/errors.json")
        return
    for source, label in (("head", "concept head"), ("description", "generated descriptions")):
        doc.heading(3, f"Errors of the {label}")
        e = errors.get(source)
        if not e:
            doc.not_available(f"no {source!r} block in eval/errors.json")
            continue
        if e.get("by_distance"):
            doc.figure(f"errors-{source}-distance", confusion_distance_bars(
                e["by_distance"], title=f"{label}: confusions by hierarchy distance"),
                f"{label}: confusions by hierarchy distance between true and predicted concept")
        else:
            doc.para("no confusions to draw (no false positive beside a true concept)")
        doc.table(["true", "predicted", "distance", "count"],
                  [[c.get("true"), c.get("predicted"), c.get("distance"), c.get("count")]
                   for c in e.get("top_confusions", [])] or [["none"] * 4])
        doc.table(["level", "true positives", "false positives", "false negatives", "F1"],
                  [[f"L{lv}", v.get("true_positives"), v.get("false_positives"),
                    v.get("false_negatives"), v.get("F1")]
                   for lv, v in sorted(e.get("levels", {}).items(), key=lambda i: int(i[0]))])
        if "false_positives" in e:
            doc.para(f"false positives: {e['false_positives']} over {e.get('num_clips', '?')} "
                     f"clips, {e.get('unmatched_false_positives', '?')} of them in clips with "
                     "no true concept")
        missed = e.get("missed") or []
        doc.para("most often missed: " + (", ".join(
            f"{x.get('concept', x.get('name'))} ({x.get('count')})" for x in missed[:max_missed])
                                              or "none"))


def _counterfactual(doc: _Doc, cf: Mapping[str, Any] | None) -> None:
    doc.heading(2, "Counterfactual")
    if cf is None or "not_available" in cf:
        doc.not_available(f"removing {cf.get('removed')}: {cf['not_available']}" if cf
                          else "no eval/counterfactual.json")
        return
    s = cf.get("summary") or {}
    doc.para(f"removed {cf.get('removed')!s} and its {cf.get('removed_concepts', '?')} "
             f"concepts: mentions in {s.get('clips', '?')} clips went from "
             f"{s.get('mentions_before', '?')} to {s.get('mentions_after', '?')}")
    doc.table(["clip", "before", "after", "concepts before", "concepts after"],
              [[x.get("id"), x.get("before"), x.get("after"),
                ", ".join(x.get("concepts_before", [])), ", ".join(x.get("concepts_after", []))]
               for x in cf.get("examples", [])])


def _learning_curves(doc: _Doc, run_dir: Path) -> None:
    from hacd_graph.eval.plots import learning_curves

    doc.heading(2, "Learning curves")
    summary = (_load_json(run_dir / "summary.json") or {}).get("stages", {})
    rows = []
    for stage in STAGES:
        rec = _load_json(run_dir / stage / "metrics.json") or {}
        info = summary.get(stage) or {}
        ev = rec.get("eval") or {}
        rows.append([stage, info.get("status", rec.get("status", "not run")), info.get("seconds"),
                     rec.get("step"), (rec.get("train") or {}).get("loss"),
                     ev.get("mAP_macro"), ev.get("hF1")])
    doc.table(["stage", "status", "seconds", "steps", "final train loss", "eval mAP_macro",
               "eval hF1"], rows)
    for stage in STAGES:
        path = run_dir / stage / "metrics.csv"
        if not path.is_file():
            doc.para(f"{stage}: not available (no {stage}/metrics.csv)", missing=True)
            continue
        with path.open(newline="") as f:
            csv_rows = list(csv.DictReader(f))
        doc.figure(f"curves-{stage}", learning_curves(csv_rows, title=stage),
                   f"{stage}: training loss and held-out metrics over optimiser steps")


def _html_page(doc: _Doc, title: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><link rel=\"icon\" href=\"data:,\">"
            f"<style>{CSS}</style></head>\n<body>\n" + "\n".join(doc.html) + "\n</body></html>\n")


def write_report(run_dir: Path, out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write ``report.md``, ``report_files/*.png`` and ``report.html`` for a run.

    Args:
        run_dir: the run directory (it must hold ``eval/metrics.json``).
        out_dir: where to write (default ``run_dir``).

    Returns:
        The paths of ``report.md`` and ``report.html``.

    Raises:
        UserError: ``run_dir`` is no folder, it has no ``eval/metrics.json``, or an input
            file is unreadable.
    """
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    record = _load_json(run_dir / "eval" / "metrics.json")
    if record is None:
        raise UserError(f"no eval/metrics.json in {run_dir}: run the eval stage first")
    doc = _Doc()
    _header(doc, run_dir, record)
    _metric_sections(doc, record)
    _level_charts(doc, record)
    _attention(doc, run_dir / "eval" / "attention.npz",
               (record.get("not_available") or {}).get("attention"))
    _examples(doc, run_dir / "eval" / "examples.jsonl")
    _errors(doc, _load_json(run_dir / "eval" / "errors.json"))
    _counterfactual(doc, _load_json(run_dir / "eval" / "counterfactual.json"))
    _learning_curves(doc, run_dir)

    files = out_dir / "report_files"
    for name, png in doc.figures.items():
        write_bytes_atomic(files / f"{name}.png", png)
    if files.is_dir():  # figures of an earlier report that this one no longer draws
        for stale in files.glob("*.png"):
            if stale.stem not in doc.figures:
                stale.unlink()
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    write_text_atomic(md_path, "\n".join(doc.md))
    write_text_atomic(html_path, _html_page(doc, f"Run report: {run_dir.name}"))
    return md_path, html_path


def _report(args: argparse.Namespace) -> int:
    for path in write_report(args.run, args.out):
        print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` command."""
    parser = subparsers.add_parser("report", help="write a run's report.md and report.html")
    parser.add_argument("--run", type=Path, required=True, help="the run directory")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the reports (default: the run directory)")
    parser.set_defaults(func=_report)

