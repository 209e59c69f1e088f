"""Kill the main command in the middle of distillation, run the same command again: it ends
with the same metrics as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO_ROOT

STEPS = 40
ARGS = ["--config", "distill_gnn", "experiment=tiny", f"distill.trainer.max_steps={STEPS}",
        "distill.trainer.ckpt_every=2", "distill.trainer.eval_every=0"]


def _train(run_dir, cache_dir, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "train.py"), *ARGS, f"run.dir={run_dir}",
         f"llm.cache_dir={cache_dir}"], cwd=REPO_ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def _finish(proc: subprocess.Popen) -> str:
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out[-3000:]
    return out


def test_killed_distillation_resumes_to_the_same_metrics(tmp_path):
    cache = tmp_path / "llm_cache"
    _finish(_train(tmp_path / "whole", cache))

    run = tmp_path / "killed"
    proc = _train(run, cache, start_new_session=True)
    latest = run / "distill" / "ckpt" / "latest"
    deadline = time.time() + 300
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert latest.exists(), "the run ended before distillation wrote a checkpoint"
    assert not (run / "distill" / "metrics.json").exists()
    killed_at = int(latest.read_text().strip().split("-")[1])
    assert 2 <= killed_at < STEPS

    out = _finish(_train(run, cache))
    assert "distill: resuming" in out and "teacher: skipped" in out
    whole = json.loads((tmp_path / "whole" / "distill" / "metrics.json").read_text())
    resumed = json.loads((run / "distill" / "metrics.json").read_text())
    assert resumed["resumed_from"] >= killed_at and resumed["step"] == STEPS
    assert resumed["eval"].keys() == whole["eval"].keys()
    for key, value in whole["eval"].items():
        got = resumed["eval"][key]  # NaN is written as null
        same = got is None if value is None else abs(got - value) <= 1e-6 * (1 + abs(value))
        assert same, (key, got, value)
