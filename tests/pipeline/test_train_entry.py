"""train.py end to end at tiny size: the run directory, a kill, and the resumed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT

TINY = ["--config", "distill_gnn", "experiment=tiny"]


def _train(args, **kw):
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "train.py"), *args],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kw)


def test_parse_args_splits_launcher_and_overrides():
    sys.path.insert(0, str(REPO_ROOT))
    from train import parse_args

    args, rest = parse_args(["--local_rank=1", "--config", "x", "a.b=1", "c=d"])
    assert (args.local_rank, args.config, rest) == (1, "x", ["a.b=1", "c=d"])
    with pytest.raises(SystemExit):
        parse_args(["--bogus"])


def test_pipeline_runs_is_killed_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    final = 60
    common = [*TINY, f"run.dir={run}", "trainer.ckpt_every=2", "trainer.eval_every=0",
              "run.stages=[ach,data,teacher]", f"trainer.max_steps={final}"]
    # killed once its first checkpoint is complete
    proc = _train(common, start_new_session=True)
    latest = run / "teacher" / "ckpt" / "latest"
    deadline = time.time() + 240
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    out = proc.communicate()[0]
    assert latest.exists(), out
    assert not (run / "teacher" / "metrics.json").exists()
    killed_at = int(latest.read_text().strip().split("-")[1])
    assert 2 <= killed_at < final

    sys.path.insert(0, str(REPO_ROOT))
    from train import main

    # the same command, resumed in this process (saves an interpreter start-up)
    assert main(common) == 0
    out = capsys.readouterr().out
    for name in ("config.yaml", "ach.json", "data/train/manifest.jsonl",
                 "data/eval/manifest.jsonl", "teacher/model.pt", "teacher/metrics.json",
                 "teacher/metrics.csv", "teacher/teacher.json",
                 "teacher/concept_embeddings.pt"):
        assert (run / name).exists(), name
    m = json.loads((run / "teacher" / "metrics.json").read_text())
    assert m["status"] == "complete" and m["step"] == final
    assert m["resumed_from"] >= killed_at  # a later checkpoint may have landed before the kill
    assert 0 <= m["eval"]["mAP_macro"] <= 1 and m["eval"]["violation_rate"] == 0
    summary = json.loads(out[out.index("{"):])
    assert summary["stages"]["teacher"]["engine"] == "torch"
    assert summary["stages"]["teacher"]["status"] == "resumed"

    from hacd_graph.ach import ConceptHierarchy
    from hacd_graph.teacher.stage import load_teacher

    ach = ConceptHierarchy.load(run / "ach.json")
    teacher = load_teacher(run / "teacher", ach)
    emb = torch.load(run / "teacher" / "concept_embeddings.pt")
    torch.testing.assert_close(teacher.head.concepts(), emb)


@pytest.mark.slow
@pytest.mark.parametrize("zero", ["zero2", "zero3", "none"])
def test_deepspeed_two_ranks(tmp_path, zero):
    deepspeed = Path(sys.executable).parent / "deepspeed"
    run = tmp_path / "run"
    proc = subprocess.run(
        [str(deepspeed), "--num_gpus", "2", str(REPO_ROOT / "train.py"), *TINY,
         f"run.dir={run}", f"deepspeed={zero}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = json.loads((run / "teacher" / "metrics.json").read_text())
    engine = "torch" if zero == "none" else "deepspeed"  # none: all-reduce data parallel
    assert m["engine"] == engine and m["world_size"] == 2 and m["step"] == 6


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_steps=abc", "trainer.max_steps='abc': expected an integer >= 1"),
        ("trainer.lr=abc", "trainer.lr='abc': expected a number > 0"),
        ("trainer.batch_size=0", "trainer.batch_size=0: expected an integer >= 1"),
        ("gnn=foo", "Could not find 'gnn/foo'; Available options in 'gnn': gatv2, gcn"),
        ("trainer.foo=1", "unknown config key 'trainer.foo'"),
        ("trainer.max_steps=[1", "cannot parse the override 'trainer.max_steps=[1'"),
    ],
)
def test_user_errors_are_one_line_before_anything_is_written(tmp_path, capsys, override,
                                                              message):
    sys.path.insert(0, str(REPO_ROOT))
    from train import main

    run = tmp_path / "run"
    assert main([*TINY, f"run.dir={run}", override]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("train.py: error: ") and message in captured.err
    assert not run.exists()


def test_run_dir_that_is_a_file_or_below_one(tmp_path, capsys):
    sys.path.insert(0, str(REPO_ROOT))
    from train import main

    afile = tmp_path / "file"
    afile.write_text("")
    for run, message in [(afile, "is a file, expected a folder"),
                         (afile / "run", f"lies below {afile}, which is a file")]:
        assert main([*TINY, f"run.dir={run}"]) == 2
        assert message in capsys.readouterr().err


def test_debug_and_hydra_full_error_show_the_traceback(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO_ROOT))
    from hacd_graph.errors import ConfigError
    from train import main

    with pytest.raises(ConfigError, match="trainer.max_steps"):
        main([*TINY, f"run.dir={tmp_path}", "trainer.max_steps=abc", "--debug"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ConfigError, match="gnn/foo"):
        main([*TINY, f"run.dir={tmp_path}", "gnn=foo"])


def test_console_error_is_one_line_in_a_fresh_process(tmp_path):
    proc = _train([*TINY, f"run.dir={tmp_path / 'run'}", "trainer.lr=abc"])
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 2
    assert out.strip().splitlines() == [
        "train.py: error: trainer.lr='abc': expected a number > 0 (add --debug for the "
        "traceback)"]
