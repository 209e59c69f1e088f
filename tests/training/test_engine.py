"""The torch engine on two gloo ranks (DistributedDataParallel, no_sync during accumulation)
gives the one-rank result on the same global batches; checkpoints hold the unwrapped model."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from hacd_graph.training import (
    CheckpointMismatch,
    DistributedContext,
    StepOutput,
    TrainerConfig,
    fit,
)
from hacd_graph.training.engine import TorchEngine

from .conftest import ToyStage


@dataclasses.dataclass
class ToyOutput:
    pred: torch.Tensor
    extra: torch.Tensor
    note: str = "a non-tensor field"


class ExtraOutputModel(nn.Module):
    """A model that also returns an output no loss uses, in a plain dataclass (as the teacher
    returns frame features in ``TeacherOutput``): DDP must see those tensors to let the
    parameters behind them go without gradients."""

    def __init__(self, dim: int):
        super().__init__()
        self.hidden = nn.Linear(dim, 4)
        self.main = nn.Linear(4, 1)
        self.extra = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> ToyOutput:
        h = torch.tanh(self.hidden(x))
        return ToyOutput(self.main(h), self.extra(h))


class ExtraOutputStage(ToyStage):
    def build_model(self) -> nn.Module:
        return ExtraOutputModel(self.x.shape[1])

    def training_step(self, model, batch):
        self.batches_seen += 1
        out = model(batch["x"])
        assert isinstance(out, ToyOutput) and out.note == "a non-tensor field"
        loss = nn.functional.mse_loss(out.pred, batch["y"])
        return StepOutput(loss, len(batch["x"]), {})

    def evaluate(self, model):
        return {"mse": nn.functional.mse_loss(model(self.x).pred, self.y).item()}


def _cfg(**kw) -> TrainerConfig:
    # weight decay 0: AdamW leaves the never-used ``extra`` weights as they are on both sides
    base = dict(max_steps=6, lr=0.1, warmup_steps=1, weight_decay=0.0, log_every=2,
                eval_every=0, ckpt_every=3, progress=False, seed=5)
    base.update(kw)
    return TrainerConfig(**base)


def _rank_main(rank: int, world_size: int, init_file: str, stage_dir: str,
               out: dict) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)
    torch.set_num_threads(1)
    try:
        ctx = DistributedContext(rank=rank, world_size=world_size, local_rank=rank)
        stage = ExtraOutputStage(batch_size=4)
        # 4 clips per rank and micro-step, 2 micro-steps: 16 clips per optimiser step
        result = fit(stage, _cfg(batch_size=4, grad_accum_steps=2), stage_dir, ctx)
        out[rank] = {"metrics": result.metrics, "batches": stage.batches_seen}
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_one_rank_on_the_same_global_batch(tmp_path):
    ref = fit(ExtraOutputStage(batch_size=16), _cfg(batch_size=16), tmp_path / "one",
              DistributedContext())

    out = mp.Manager().dict()
    mp.spawn(_rank_main, args=(2, str(tmp_path / "pg"), str(tmp_path / "two"), out),
             nprocs=2, join=True)
    assert out[0]["batches"] == out[1]["batches"] == 12  # 6 steps x 2 micro-steps
    two = out[0]["metrics"]
    assert two["world_size"] == 2 and two["engine"] == "torch" and two["step"] == 6

    a = torch.load(ref.weights)
    b = torch.load(tmp_path / "two" / "model.pt")
    assert set(a) == set(b) == {"hidden.weight", "hidden.bias", "main.weight", "main.bias",
                                "extra.weight", "extra.bias"}
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6)
    assert torch.equal(b["extra.weight"], a["extra.weight"])
    assert two["eval"]["mse"] == pytest.approx(ref.metrics["eval"]["mse"], rel=1e-4)

    # one checkpoint file, holding the unwrapped model (no DDP "module." prefix)
    ckpt = tmp_path / "two" / "ckpt" / "step-0000006"
    state = torch.load(ckpt / "state.pt", weights_only=False)
    assert set(state["model"]) == set(a)
    assert json.loads((ckpt / "meta.json").read_text())["world_size"] == 2

    # one rank may not resume what two ranks wrote
    with pytest.raises(CheckpointMismatch, match="world_size recorded 2, now 1"):
        fit(ExtraOutputStage(batch_size=16), _cfg(batch_size=16, max_steps=8),
            tmp_path / "two", DistributedContext())


def test_single_rank_engine_is_not_wrapped():
    model = nn.Linear(3, 1)
    engine = TorchEngine(model, _cfg(), DistributedContext())
    assert engine.forward_module() is model and engine.eval_module() is model
    assert engine.ddp is None
