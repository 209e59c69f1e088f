"""Checkpoints record what wrote them; fit resumes only when fingerprint, engine and world
size match, and refuses otherwise with CheckpointMismatch naming the difference."""

from __future__ import annotations

import json

import pytest
import torch

from hacd_graph.training import CheckpointMismatch, DistributedContext, TrainerConfig, fit
from hacd_graph.training.loop import completed_result

from .conftest import ToyStage


def _cfg(**kw) -> TrainerConfig:
    base = dict(max_steps=12, batch_size=8, lr=0.3, warmup_steps=2, log_every=4,
                eval_every=0, ckpt_every=4, progress=False, seed=3)
    base.update(kw)
    return TrainerConfig(**base)


def _killed_run(stage_dir, fingerprint="fp-a"):
    """A run killed at micro-batch 6: the checkpoint at step 4 survives."""
    with pytest.raises(KeyboardInterrupt):
        fit(ToyStage(interrupt_at_batch=6), _cfg(), stage_dir, DistributedContext(),
            fingerprint=fingerprint)
    return stage_dir / "ckpt" / "step-0000004"


def test_checkpoint_and_metrics_record_engine_world_size_fingerprint(tmp_path):
    ckpt = _killed_run(tmp_path / "s")
    meta = json.loads((ckpt / "meta.json").read_text())
    assert meta == {"step": 4, "fingerprint": "fp-a", "engine": "torch", "zero_stage": 0,
                    "world_size": 1}
    client = torch.load(ckpt / "state.pt", weights_only=False)["client_state"]
    assert {k: client[k] for k in ("fingerprint", "engine", "zero_stage", "world_size")} == \
        {"fingerprint": "fp-a", "engine": "torch", "zero_stage": 0, "world_size": 1}
    done = fit(ToyStage(), _cfg(), tmp_path / "s", DistributedContext(), fingerprint="fp-a")
    assert done.metrics["resumed_from"] == 4
    m = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert m["fingerprint"] == "fp-a" and m["engine"] == "torch" and m["zero_stage"] == 0


def test_resume_refused_on_another_fingerprint(tmp_path):
    _killed_run(tmp_path / "s")
    with pytest.raises(CheckpointMismatch, match="fingerprint recorded 'fp-a', now 'fp-b'") \
            as err:
        fit(ToyStage(), _cfg(), tmp_path / "s", DistributedContext(), fingerprint="fp-b")
    assert isinstance(err.value, ValueError)
    assert err.value.differences == {"fingerprint": ("fp-a", "fp-b")}
    assert err.value.stage_dir == tmp_path / "s" and "stage 'toy'" in str(err.value)
    # nothing was touched: the same settings still resume
    assert (tmp_path / "s" / "ckpt" / "latest").read_text().strip() == "step-0000004"
    assert fit(ToyStage(), _cfg(), tmp_path / "s", DistributedContext(),
               fingerprint="fp-a").metrics["resumed_from"] == 4


@pytest.mark.parametrize("key,recorded", [("engine", "deepspeed"), ("world_size", 2),
                                          ("zero_stage", 3)])
def test_resume_refused_on_another_engine_or_world_size(tmp_path, key, recorded):
    ckpt = _killed_run(tmp_path / "s")
    meta = json.loads((ckpt / "meta.json").read_text())
    (ckpt / "meta.json").write_text(json.dumps({**meta, key: recorded}))
    now = {"engine": "torch", "world_size": 1, "zero_stage": 0}[key]
    stage = ToyStage()
    stage.build_model = lambda: pytest.fail("refused only after building the model")
    with pytest.raises(CheckpointMismatch, match=f"{key} recorded {recorded!r}, now {now!r}"):
        fit(stage, _cfg(), tmp_path / "s", DistributedContext(), fingerprint="fp-a")


def test_checkpoint_without_record_is_refused(tmp_path):
    ckpt = _killed_run(tmp_path / "s", fingerprint=None)
    (ckpt / "meta.json").unlink()  # as written before checkpoints recorded their writer
    with pytest.raises(CheckpointMismatch, match="engine recorded None, now 'torch'"):
        fit(ToyStage(), _cfg(), tmp_path / "s", DistributedContext())


def test_finished_result_returned_only_for_its_fingerprint(tmp_path):
    first = fit(ToyStage(), _cfg(), tmp_path / "s", DistributedContext(), fingerprint="fp-a")
    assert completed_result(tmp_path / "s", 12, "fp-a").metrics == first.metrics
    assert completed_result(tmp_path / "s", 12, "fp-b") is None
    assert completed_result(tmp_path / "s", 12) is None
    again = fit(ToyStage(interrupt_at_batch=0), _cfg(), tmp_path / "s", DistributedContext(),
                fingerprint="fp-a")
    assert again.metrics == first.metrics
    with pytest.raises(CheckpointMismatch, match="metrics.json .*fingerprint recorded 'fp-a', "
                                                 "now None"):
        fit(ToyStage(), _cfg(), tmp_path / "s", DistributedContext())
    # resume=False trains afresh whatever is recorded
    fresh = fit(ToyStage(), _cfg(resume=False), tmp_path / "s", DistributedContext(),
                fingerprint="fp-b")
    assert fresh.metrics["fingerprint"] == "fp-b" and fresh.metrics["resumed_from"] is None
