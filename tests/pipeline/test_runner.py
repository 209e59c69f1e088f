"""The run directory never reports stale results: skip only on the same fingerprint, refuse
changed settings, engines and rank counts before any work, keep every invocation's
config, and report a read-only finished run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hacd_graph.pipeline import compose_config, run_pipeline
from hacd_graph.pipeline.run_directory import RunDirectory, RunDirectoryError
from hacd_graph.pipeline.runner import check_stages
from hacd_graph.training import DistributedContext

TINY = ["experiment=tiny", "run.stages=[ach,data,teacher]"]


def _run(run_dir: Path, *overrides: str) -> dict:
    cfg = compose_config("distill_gnn", [*TINY, f"run.dir={run_dir}", *overrides])
    return run_pipeline(cfg, DistributedContext(), use_deepspeed=False)


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    _run(run)
    return run


@pytest.fixture()
def run_copy(finished, tmp_path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(finished, target)
    return target


def test_finished_run_records_and_summary(finished):
    summary = json.loads((finished / "summary.json").read_text())
    assert summary["schema"] == "hacd_graph.run_summary/v1"
    assert [summary["stages"][s]["status"] for s in ("ach", "data", "teacher")] == ["ran"] * 3
    record = json.loads((finished / "records" / "teacher.json").read_text())
    assert record["status"] == "complete" and record["resume_key"]["engine"] == "torch"
    assert record["settings"]["gnn"]["encoder"] == "gatv2"
    assert "teacher: running" in (finished / "train.log").read_text()
    metrics = json.loads((finished / "teacher" / "metrics.json").read_text())
    assert metrics["fingerprint"] == record["fingerprint"]


def test_same_settings_skip_every_stage_and_keep_each_config(run_copy):
    before = sorted((run_copy / "configs").iterdir())
    out = _run(run_copy)
    assert {s["status"] for s in out["summary"]["stages"].values()} == {"skipped"}
    assert out["teacher"].metrics["status"] == "complete"
    after = sorted((run_copy / "configs").iterdir())
    assert len(after) == len(before) + 1 and set(before) <= set(after)
    assert "teacher: skipped" in (run_copy / "train.log").read_text()


@pytest.mark.parametrize("override, change", [
    ("gnn=gcn", "gnn.encoder: gatv2 -> gcn"),
    ("trainer.max_steps=5", "trainer.max_steps: 6 -> 5"),
    ("data.train_clips=12", "data.train_clips: 16 -> 12"),
])
def test_changed_settings_are_refused_before_any_work(run_copy, override, change):
    before = _snapshot(run_copy)
    with pytest.raises(RunDirectoryError, match="other settings") as err:
        _run(run_copy, override)
    assert change in str(err.value) and "run.dir=" in str(err.value)
    assert _snapshot(run_copy) == before  # config.yaml, records, metrics: all untouched


def test_interrupted_stage_resumes_only_with_the_same_engine_and_ranks(run_copy):
    record_path = run_copy / "records" / "teacher.json"
    record = json.loads(record_path.read_text())
    record.update(status="running", resume_key={"engine": "deepspeed", "world_size": 2,
                                                 "deepspeed": {}})
    record_path.write_text(json.dumps(record))
    with pytest.raises(RunDirectoryError, match="deepspeed on 2 ranks; this run uses torch "
                                                "on 1 rank"):
        _run(run_copy)


def test_outputs_without_a_record_are_not_trusted(run_copy):
    shutil.rmtree(run_copy / "records")
    with pytest.raises(RunDirectoryError, match="no record of the settings"):
        _run(run_copy)


def test_read_only_finished_run_is_reported_without_writing(run_copy, monkeypatch):
    # As root (CI) the permission bits do not stop writes, so the folder's writability is
    # what the run directory asks; a finished run then reads everything and writes nothing.
    monkeypatch.setattr(RunDirectory, "writable", property(lambda self: False))
    before = _snapshot(run_copy)
    out = _run(run_copy)
    assert {s["status"] for s in out["summary"]["stages"].values()} == {"skipped"}
    assert out["summary"]["stages"]["teacher"]["mAP_macro"] == pytest.approx(
        json.loads((run_copy / "teacher" / "metrics.json").read_text())["eval"]["mAP_macro"])
    assert _snapshot(run_copy) == before
    with pytest.raises(RunDirectoryError, match="read-only and stage"):
        _run(run_copy, "run.stages=[ach,data,teacher,distill]")


def test_run_dir_that_is_or_lies_below_a_file(tmp_path):
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(RunDirectoryError, match="is a file"):
        RunDirectory(file)
    with pytest.raises(RunDirectoryError, match="lies below the file"):
        RunDirectory(file / "run")


def test_stages_need_their_inputs():
    assert check_stages(["teacher", "ach", "data"]) == ["ach", "data", "teacher"]
    with pytest.raises(RunDirectoryError, match="needs"):
        check_stages(["ach", "teacher"])
    with pytest.raises(RunDirectoryError, match="unknown stage"):
        check_stages(["ach", "finetune2"])


def test_data_config_reads_the_sound_bank_split(tmp_path):
    from hacd_graph.errors import ConfigError
    from hacd_graph.pipeline.stages import DataConfig
    from hacd_graph.pipeline.validate import validate_config

    with pytest.raises(ValueError, match="data.bank is null"):
        DataConfig(bank_packages=["hedgewars-data"])
    with pytest.raises(ValueError, match="either training or held out"):
        DataConfig(bank=str(tmp_path), bank_packages=["a", "b"], bank_held_out=["b"])
    scene = DataConfig(bank=str(tmp_path), bank_packages=["a"], bank_prob=0.8).scene()
    assert (scene.bank, scene.bank_packages, scene.bank_prob) == (str(tmp_path), ("a",), 0.8)
    with pytest.raises(ConfigError, match="data.bank"):
        validate_config(compose_config("distill_gnn", ["data=synth_real"]))
    validate_config(compose_config("distill_gnn", ["data=synth_real", f"data.bank={tmp_path}",
                                                   f"run.dir={tmp_path / 'run'}"]))
