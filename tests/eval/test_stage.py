"""The eval stage inside the main command: every metric family of DESIGN.md, the files the
report draws, the report itself, and a skip on rerun."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hacd_graph.errors import UserError
from hacd_graph.eval.trained_run import TrainedRun
from tests.eval.tiny_run import run_tiny


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run


def test_metrics_cover_every_family(run):
    path, out = run
    result = json.loads((path / "eval" / "metrics.json").read_text())
    assert result["schema"] == "hacd_graph.eval_metrics/v1"
    assert result["stage"] == "finetune" and result["num_clips"] == 8 and result["seeds"] == 1
    m = result["metrics"]
    for key in ("classification/level1/mAP", "classification/level2/F1", "classification/hF1",
                "classification/violation_rate", "description/level1/F1",
                "description/parse_failures", "caption/BLEU_4", "caption/METEOR",
                "caption/ROUGE_L", "caption/CIDEr", "aqa/accuracy",
                "aqa/level/general/accuracy", "aqa/type/yes_no/accuracy",
                "retrieval/a2t/R@1", "retrieval/t2a/R@10", "retrieval/a2t/mAP@10"):
        assert key in m, key
    assert 0.0 <= m["retrieval/t2a/R@1"] <= m["retrieval/t2a/R@10"] <= 1.0
    assert m["classification/violation_rate"] == 0.0  # a graph teacher's student
    assert "caption/SPICE" in result["not_available"]
    # the parser reads the reference descriptions almost perfectly (its ceiling)
    assert result["reference"]["description/F1"] > 0.9
    assert out["summary"]["stages"]["eval"]["status"] == "ran"


def test_report_inputs_are_written(run):
    path, _ = run
    lines = (path / "eval" / "examples.jsonl").read_text().splitlines()
    examples = [json.loads(line) for line in lines]
    assert len(examples) == 2
    assert {"reference_description", "generated_description", "qa", "top_concepts"} <= set(
        examples[0])
    attention = np.load(path / "eval" / "attention.npz")
    k, q, n = attention["concept_attention"].shape
    assert k == 1 and q == 4 and n == len(attention["concept_names"])
    assert attention["audio_attention"].shape[:2] == (1, 4)
    np.testing.assert_allclose(attention["audio_attention"].sum(-1), 1.0, rtol=1e-4)
    assert attention["logmel"].shape[1] == 16  # experiment=tiny's mel bins
    errors = json.loads((path / "eval" / "errors.json").read_text())
    assert {"head", "description"} <= set(errors)
    counterfactual = json.loads((path / "eval" / "counterfactual.json").read_text())
    assert counterfactual["removed"] == "Music"
    for name in ("report.md", "report.html"):
        assert (path / name).is_file()


def test_rerun_skips_the_eval(run, tmp_path):
    import shutil

    path, _ = run
    copy = tmp_path / "run"
    shutil.copytree(path, copy)
    out = run_tiny(copy)
    assert {s["status"] for s in out["summary"]["stages"].values()} == {"skipped"}
    assert out["eval"]["metrics"]["caption/CIDEr"] == json.loads(
        (path / "eval" / "metrics.json").read_text())["metrics"]["caption/CIDEr"]


def test_trained_run_loads_the_finetuned_student(run, tmp_path):
    path, _ = run
    loaded = TrainedRun.load(path)
    assert loaded.stage == "finetune" and loaded.has_retrieval
    assert TrainedRun.load(path, stage="distill").stage == "distill"
    with pytest.raises(UserError, match="not a trained run directory"):
        TrainedRun.load(tmp_path)
