"""A toy stage (linear regression on a fixed random problem) for testing the loop alone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import torch
from torch import nn

from hacd_graph.training import StepOutput


class ToyStage:
    """Learn y = X w* with a linear model; optionally interrupts at a given step."""

    name = "toy"

    def __init__(self, n: int = 64, dim: int = 5, batch_size: int = 8,
                 interrupt_at_batch: int | None = None):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, dim, generator=g)
        self.y = self.x @ torch.randn(dim, 1, generator=g)
        self.batch_size = batch_size
        self.interrupt_at_batch = interrupt_at_batch
        self.batches_seen = 0
        self.exported: Path | None = None

    def build_model(self) -> nn.Module:
        return nn.Linear(self.x.shape[1], 1)

    def train_batches(self, epoch: int, rank: int, world_size: int) -> Iterator[dict]:
        order = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(epoch))
        order = order[rank::world_size]
        for i in range(0, len(order) - self.batch_size + 1, self.batch_size):
            idx = order[i : i + self.batch_size]
            yield {"x": self.x[idx], "y": self.y[idx]}

    def training_step(self, model: nn.Module, batch: dict) -> StepOutput:
        if self.interrupt_at_batch is not None and self.batches_seen == self.interrupt_at_batch:
            raise KeyboardInterrupt("simulated kill")
        self.batches_seen += 1
        loss = nn.functional.mse_loss(model(batch["x"]), batch["y"])
        return StepOutput(loss=loss, num_examples=len(batch["x"]), logs={"mse": loss.item()})

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return {"mse": nn.functional.mse_loss(model(self.x), self.y).item()}

    def export(self, model: nn.Module, state_dict: Mapping[str, torch.Tensor],
               out_dir: Path) -> None:
        self.exported = out_dir
        (out_dir / "toy_export.txt").write_text(str(sorted(state_dict)))


@pytest.fixture
def toy_stage_cls() -> type[ToyStage]:
    """The toy stage class (construct with the options a test needs)."""
    return ToyStage
