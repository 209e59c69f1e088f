"""The one training loop on a toy stage: it learns, logs, checkpoints and resumes exactly."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from hacd_graph.training import DistributedContext, Stage, TrainerConfig, fit


def _cfg(**kw) -> TrainerConfig:
    base = dict(max_steps=30, batch_size=8, lr=0.3, warmup_steps=2, log_every=5,
                eval_every=10, ckpt_every=10, progress=False, seed=3)
    base.update(kw)
    return TrainerConfig(**base)


def test_toy_stage_is_a_stage(toy_stage_cls):
    assert isinstance(toy_stage_cls(), Stage)


def test_fit_learns_and_writes_stage_folder(tmp_path, toy_stage_cls):
    stage = toy_stage_cls()
    result = fit(stage, _cfg(), tmp_path / "toy", DistributedContext())
    m = json.loads((tmp_path / "toy" / "metrics.json").read_text())
    assert m == result.metrics
    assert m["schema"] == "hacd_graph.stage_metrics/v1" and m["status"] == "complete"
    assert m["step"] == 30 and m["engine"] == "torch" and m["resumed_from"] is None
    # 64 clips / 8 per batch = 8 steps an epoch: 30 steps began the 4th pass
    assert m["epoch"] == 3
    first = m["eval_history"][0]["mse"]
    assert m["eval"]["mse"] < 0.3 * first
    assert [h["step"] for h in m["eval_history"]] == [10, 20, 30]
    assert (tmp_path / "toy" / "ckpt" / "latest").read_text().strip() == "step-0000030"
    assert stage.exported == tmp_path / "toy"
    assert (tmp_path / "toy" / "curves.png").stat().st_size > 1000
    sd = torch.load(result.weights)
    assert set(sd) == {"weight", "bias"}
    with (tmp_path / "toy" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    train_steps = sorted({int(r["step"]) for r in rows if r["split"] == "train"})
    assert train_steps == [5, 10, 15, 20, 25, 30]


def test_resume_after_kill_matches_uninterrupted_run(tmp_path, toy_stage_cls):
    ref = fit(toy_stage_cls(), _cfg(), tmp_path / "ref", DistributedContext())
    # killed at micro-batch 17: the checkpoint at step 10 survives, steps 11-17 are lost
    with pytest.raises(KeyboardInterrupt):
        fit(toy_stage_cls(interrupt_at_batch=17), _cfg(), tmp_path / "run", DistributedContext())
    assert (tmp_path / "run" / "ckpt" / "latest").read_text().strip() == "step-0000010"
    assert not (tmp_path / "run" / "metrics.json").exists()
    resumed = fit(toy_stage_cls(), _cfg(), tmp_path / "run", DistributedContext())
    assert resumed.metrics["resumed_from"] == 10
    a, b = torch.load(ref.weights), torch.load(resumed.weights)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    with (tmp_path / "run" / "metrics.csv").open() as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)
                 if r["split"] == "train" and r["name"] == "loss"]
    assert steps == [5, 10, 15, 20, 25, 30]  # nothing logged twice
    # a finished stage is not trained again
    again = fit(toy_stage_cls(interrupt_at_batch=0), _cfg(), tmp_path / "run",
                DistributedContext())
    assert again.metrics == resumed.metrics


def test_keep_last_prunes_checkpoints(tmp_path, toy_stage_cls):
    fit(toy_stage_cls(), _cfg(ckpt_every=5, keep_last=2), tmp_path / "t", DistributedContext())
    kept = sorted(p.name for p in (tmp_path / "t" / "ckpt").iterdir())
    assert kept == ["latest", "step-0000025", "step-0000030"]


def test_grad_accumulation_counts_optimizer_steps(tmp_path, toy_stage_cls):
    stage = toy_stage_cls()
    r = fit(stage, _cfg(max_steps=6, grad_accum_steps=2, eval_every=0, ckpt_every=0),
            tmp_path / "t", DistributedContext())
    assert r.metrics["step"] == 6 and stage.batches_seen == 12


def test_nan_loss_is_a_clear_error(tmp_path, toy_stage_cls):
    stage = toy_stage_cls()
    stage.y = stage.y * float("nan")
    with pytest.raises(FloatingPointError, match="stage 'toy'"):
        fit(stage, _cfg(), tmp_path / "t", DistributedContext())


def test_unknown_trainer_key_is_named():
    from hacd_graph.training import config_from_mapping

    with pytest.raises(ValueError, match="max_stepz"):
        config_from_mapping(TrainerConfig, {"max_stepz": 3}, "trainer")
