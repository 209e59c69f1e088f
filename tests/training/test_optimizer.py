"""Named parameter groups with their own learning rates, and the warm-up + cosine schedule."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch import nn

from hacd_graph.training import DistributedContext, Stage, TrainerConfig, fit
from hacd_graph.training.optimizer import build_optimizer, build_schedule, group_lrs

from .conftest import ToyStage


class TwoLayerModel(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.encoder = nn.Linear(dim, 4)
        self.head = nn.Linear(4, 1)
        self.frozen = nn.Linear(dim, 1)  # never optimised
        self.frozen.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.encoder(x))) + 0 * self.frozen(x)


class GroupedStage(ToyStage):
    """The toy problem with an encoder and a head in two named groups."""

    def __init__(self, encoder_lr: float | None = 0.0, **kw):
        super().__init__(**kw)
        self.encoder_lr = encoder_lr

    def build_model(self) -> nn.Module:
        return TwoLayerModel(self.x.shape[1])

    def optimizer_groups(self, model: nn.Module) -> list[dict]:
        encoder = {"name": "encoder", "params": list(model.encoder.parameters())
                   + list(model.frozen.parameters())}  # frozen ones are skipped
        if self.encoder_lr is not None:
            encoder["lr"] = self.encoder_lr
        return [encoder, {"name": "head", "params": model.head.parameters()}]


def _cfg(**kw) -> TrainerConfig:
    base = dict(max_steps=10, batch_size=8, lr=0.1, warmup_steps=2, min_lr_ratio=0.1,
                log_every=1, eval_every=0, ckpt_every=0, progress=False, seed=1)
    base.update(kw)
    return TrainerConfig(**base)


def test_groups_get_their_learning_rates_and_no_decay_on_1d():
    stage = GroupedStage(encoder_lr=0.5)
    model = stage.build_model()
    opt = build_optimizer(model, _cfg(weight_decay=0.2), stage.optimizer_groups)
    got = [(g["name"], g["lr"], g["weight_decay"], [tuple(p.shape) for p in g["params"]])
           for g in opt.param_groups]
    assert got == [("encoder", 0.5, 0.2, [(4, 5)]), ("encoder", 0.5, 0.0, [(4,)]),
                   ("head", 0.1, 0.2, [(1, 4)]), ("head", 0.1, 0.0, [(1,)])]
    assert group_lrs(opt) == {"encoder": 0.5, "head": 0.1}
    # without optimizer_groups: one group at trainer.lr (decay and no-decay halves)
    plain = build_optimizer(model, _cfg())
    assert group_lrs(plain) == {"default": 0.1} and len(plain.param_groups) == 2


def test_fit_trains_each_group_at_its_rate_and_logs_it(tmp_path):
    stage = GroupedStage(encoder_lr=0.0)
    assert isinstance(stage, Stage) and isinstance(ToyStage(), Stage)
    start = _initial_weights(1)  # fit seeds the same way before build_model
    result = fit(stage, _cfg(), tmp_path / "g", DistributedContext())
    final = torch.load(result.weights)
    # lr 0: the encoder did not move; the head (trainer.lr) did
    torch.testing.assert_close(final["encoder.weight"], start["encoder.weight"], rtol=0, atol=0)
    assert not torch.equal(final["head.weight"], start["head.weight"])
    # what does not train is not exported (nor checkpointed): build_model() rebuilds it
    assert "frozen.weight" not in final and "encoder.weight" in final
    state = torch.load(tmp_path / "g" / "ckpt" / "step-0000010" / "state.pt", weights_only=False)
    assert "frozen.weight" not in state["model"] and "head.weight" in state["model"]
    rows = _csv(tmp_path / "g")
    assert {"lr", "lr/encoder", "lr/head"} <= {name for _, name, _ in rows}
    head = [v for s, name, v in rows if name == "lr/head"]
    expected = [0.1 * _factor(s, 10, 2, 0.1) for s in range(1, 11)]  # logged after step s
    assert head == pytest.approx(expected, rel=1e-5, abs=1e-9)
    assert all(v == 0 for s, name, v in rows if name == "lr/encoder")


def test_default_lr_and_plain_stage_logs_only_lr(tmp_path):
    fit(ToyStage(), _cfg(max_steps=3), tmp_path / "p", DistributedContext())
    names = {name for _, name, _ in _csv(tmp_path / "p")}
    assert "lr" in names and not any(n.startswith("lr/") for n in names)
    model = TwoLayerModel(5)
    opt = build_optimizer(model, _cfg(), GroupedStage(encoder_lr=None).optimizer_groups)
    assert group_lrs(opt) == {"encoder": 0.1, "head": 0.1}


def test_inconsistent_groups_are_named():
    model = TwoLayerModel(5)
    cfg = _cfg()
    with pytest.raises(ValueError, match=r"1 trainable parameter\(s\).*head.bias"):
        build_optimizer(model, cfg, lambda m: [
            {"name": "a", "params": [m.encoder.weight, m.encoder.bias, m.head.weight]}])
    with pytest.raises(ValueError, match="groups 'a' and 'b'"):
        build_optimizer(model, cfg, lambda m: [{"name": "a", "params": m.parameters()},
                                               {"name": "b", "params": [m.head.bias]}])
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['momentum'\]"):
        build_optimizer(model, cfg, lambda m: [
            {"name": "a", "params": m.parameters(), "momentum": 0.9}])
    with pytest.raises(ValueError, match=r"group 0 \(a\) has no 'params'"):
        build_optimizer(model, cfg, lambda m: [{"name": "a", "lr": 1.0}])
    with pytest.raises(ValueError, match="two optimizer groups are named 'a'"):
        build_optimizer(model, cfg, lambda m: [{"name": "a", "params": m.encoder.parameters()},
                                               {"name": "a", "params": m.head.parameters()}])


@pytest.mark.parametrize("warmup,min_ratio", [(0, 0.1), (3, 0.1), (3, 0.0), (2, 1.0)])
def test_schedule_is_linear_warmup_then_cosine_to_min_ratio(warmup, min_ratio):
    steps = 12
    cfg = _cfg(max_steps=steps, warmup_steps=warmup, min_lr_ratio=min_ratio, lr=2.0)
    opt = torch.optim.SGD([{"params": [nn.Parameter(torch.zeros(1))], "lr": 2.0},
                           {"params": [nn.Parameter(torch.zeros(1))], "lr": 0.5}])
    sched = build_schedule(opt, cfg)
    got = []
    for _ in range(steps + 1):
        got.append(tuple(g["lr"] for g in opt.param_groups))
        opt.step()
        sched.step()
    factors = [_factor(s, steps, warmup, min_ratio) for s in range(steps + 1)]
    assert [a for a, _ in got] == pytest.approx([2.0 * f for f in factors], rel=1e-12, abs=0)
    assert [b for _, b in got] == pytest.approx([0.5 * f for f in factors], rel=1e-12, abs=0)
    assert got[-1][0] == pytest.approx(2.0 * min_ratio)
    if warmup:
        assert got[0][0] == 0.0 and got[warmup][0] == pytest.approx(2.0)


def _factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Warm-up from 0, then half a cosine from 1 to ``min_ratio`` (written out by hand)."""
    if step < warmup:
        return step / warmup
    progress = (step - warmup) / (total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _initial_weights(seed: int) -> dict[str, torch.Tensor]:
    from hacd_graph.training import seed_everything

    seed_everything(seed)
    return TwoLayerModel(5).state_dict()


def _csv(stage_dir) -> list[tuple[int, str, float]]:
    with (stage_dir / "metrics.csv").open() as f:
        return [(int(r["step"]), r["name"], float(r["value"])) for r in csv.DictReader(f)
                if r["split"] == "train"]
