"""``hacd-graph experiment teacher`` at the tiny preset, end to end, plus its checks."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from hacd_graph.errors import UserError
from hacd_graph.eval import experiment
from hacd_graph.teacher.comparison import ArmRun, compare, impossible, target_check


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    experiment.register(parser.add_subparsers())
    return parser.parse_args(["experiment", "teacher", *argv])


@pytest.fixture(scope="module")
def tiny_experiment(tmp_path_factory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("teacher_arms")
    code = compare(parse("--out", str(out), "--preset", "tiny", "--arms",
                         "graph,flat,graph_residual", "--seeds", "0", "--val-clips", "8"))
    return out, code


def test_every_arm_is_trained_measured_and_tabulated(tiny_experiment) -> None:
    out, code = tiny_experiment
    assert code == 0
    for split in ("train", "eval", "val"):
        assert (out / "data" / split / "manifest.jsonl").is_file()
    record = json.loads((out / "teacher_comparison.json").read_text())
    assert record["git_revision"] and record["clips"] == {"train": 16, "eval": 8, "val": 8}
    assert "--preset tiny" in record["command"]
    runs = {r["arm"]: r for r in record["runs"]}
    assert set(runs) == {"graph", "flat", "graph_residual"}
    for arm, run in runs.items():
        m = run["metrics"]
        assert run["status"] == "finished" and math.isfinite(m["mAP_macro"])
        assert 0 <= m["tuned/hF1"] <= 1 and m["classifier/rank90"] >= 1
        assert run["curve"] and run["curve"][-1][0] == 6  # evaluated every 3 of 6 steps
        assert m["plateau_step"] in (3.0, 6.0)
        assert 0 <= m["ece/level1"] <= 1 and run["reliability"]["1"]["count"]
        graph_head = arm != "flat"
        assert math.isfinite(m["grad/gnn_share"]) == graph_head
        if graph_head:
            assert 0 < m["grad/gnn_share_init"] <= 1 and m["violation_rate"] == 0
            assert -1 <= m["embed/other_cos"] <= 1
            assert -1 <= m["features/sibling_cos"] <= 1  # text off in tiny: structure only
    md = (out / "teacher_comparison.md").read_text()
    assert "| metric | graph | flat | graph_residual |" in md and "| tuned/hF1 |" in md
    assert "`graph_residual`: `teacher=cnn gnn=gatv2 ++teacher.head_residual=true`" in md
    assert (out / "learning_curves.png").stat().st_size > 1000
    assert (out / "reliability.png").stat().st_size > 1000
    assert "graph_residual,metric" not in (out / "teacher_comparison.csv").read_text()


def test_a_second_call_trains_nothing(tiny_experiment) -> None:
    out, _ = tiny_experiment
    weights = out / "graph" / "seed0" / "teacher" / "model.pt"
    before = weights.stat().st_mtime_ns
    assert compare(parse("--out", str(out), "--preset", "tiny", "--arms", "graph",
                         "--seeds", "0", "--val-clips", "8")) == 0
    assert weights.stat().st_mtime_ns == before


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown arm.*nope"):
        compare(parse("--out", str(tmp_path), "--arms", "graph,nope"))
    with pytest.raises(UserError, match="set per run"):
        compare(parse("--out", str(tmp_path), "--arms", "graph", "trainer.seed=3"))
    with pytest.raises(UserError, match="expected integers"):
        compare(parse("--out", str(tmp_path), "--seeds", "zero"))


def _run(arm: str, **metrics: float) -> ArmRun:
    return ArmRun(arm, 0, Path("/nowhere"), status="finished", metrics=metrics)


def test_impossible_results_are_named() -> None:
    assert impossible(_run("graph", mAP_macro=0.3, violation_rate=0.0)) == []
    assert impossible(_run("flat", mAP_macro=0.3, violation_rate=0.2)) == []
    assert "violates" in impossible(_run("graph", mAP_macro=0.3, violation_rate=0.01))[0]
    assert "outside" in impossible(_run("flat", mAP_macro=0.3, prob_max=1.5))[0]


def test_target_check_names_each_miss() -> None:
    runs = [_run("flat", **{"level1/mAP": 0.5, "level2/mAP": 0.4, "hF1": 0.6,
                            "mAP_macro": 0.45, "violation_rate": 0.1}),
            _run("graph_free", **{"level1/mAP": 0.5, "level2/mAP": 0.3, "hF1": 0.5,
                                  "mAP_macro": 0.4, "violation_rate": 0.0}),
            _run("graph", **{"level1/mAP": 0.6, "level2/mAP": 0.35, "hF1": 0.7,
                             "mAP_macro": 0.47, "violation_rate": 0.0})]
    assert target_check(runs, "graph") == ["level2/mAP: 0.350 < flat 0.400"]
    runs[2].metrics["level2/mAP"] = 0.41
    assert target_check(runs, "graph") == []
    assert target_check(runs, "sage") is None  # not run: nothing to say
    assert target_check(runs[1:], "graph") is None  # no flat arm to compare with
