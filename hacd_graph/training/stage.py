"""What a stage hands to the training loop: its model, data, loss and evaluation.

The loop (:func:`hacd_graph.training.fit`) knows nothing of audio, graphs or language
models. A stage is any object with the methods of :class:`Stage` (a structural
``Protocol``: stage classes need not import or subclass anything from this package). The
teacher (``hacd_graph.teacher.stage.TeacherStage``), distillation and fine-tuning stages
are such objects; they differ only in what these methods build.

Call order, on every rank::

    model = stage.build_model()                         # once, after the seed is set
    for epoch in ...:
        for batch in stage.train_batches(epoch, rank, world_size):   # this rank's shard
            out = stage.training_step(model, batch)     # batch already on the device
            ... backward / optimiser step by the loop's engine ...
        metrics = stage.evaluate(model)                 # every rank (ZeRO-3 needs all)
    stage.export(model_on_rank0, state_dict, out_dir)   # rank 0, after the last step

A new stage plugs in like this (the distillation stage, say)::

    class DistillStage:
        name = "distill"
        def build_model(self): return attach_bridge(llm, bridge)   # frozen parts: no grad
        def train_batches(self, epoch, rank, world_size): ...      # this rank's batches
        def training_step(self, model, batch):
            out = model(**batch)                                   # the engine or module
            loss = hierarchical_distillation_loss(out.concept_logits, batch["teacher_logits"],
                                                  self.ancestors)
            return StepOutput(loss, len(batch["input_ids"]), {"hdl": loss.item()})
        def evaluate(self, model): return {...}
        def export(self, model, state_dict, out_dir): ...           # e.g. save_pretrained

    fit(DistillStage(...), TrainerConfig(...), run_dir / "distill", ctx, deepspeed=cfg_ds,
        fingerprint=settings_digest)

``training_step`` receives the loop's forward module: ``DistributedDataParallel`` around
the model on several torch ranks (``engine.DDPForward``, which returns the model's own
output types), a DeepSpeed engine under DeepSpeed, else the model itself. Call it; reach
the model's attributes through ``getattr(model, "module", model)``. ``evaluate`` receives the
plain model under the torch engine (the DeepSpeed engine under DeepSpeed).

Optional members (the loop looks them up with ``getattr``; they are not part of the
``Protocol``, so ``isinstance(stage, Stage)`` holds for stages without them)::

    def optimizer_groups(self, model: nn.Module) -> list[dict]:
        # named parameter groups with their own learning rates, e.g.
        return [{"name": "bridge", "params": model.bridge.parameters(), "lr": 1e-3},
                {"name": "lora", "params": lora_params, "lr": 2e-4},
                {"name": "head", "params": model.concept_head.parameters()}]  # trainer.lr

    find_unused_parameters = True   # DDP's flag on several torch ranks (default true)

``optimizer_groups(model)``: keys ``name``, ``params``, optional ``lr`` (default
``trainer.lr``) and ``weight_decay`` (default ``trainer.weight_decay``; 1-D parameters never
decay). Frozen parameters in a group are skipped; every trainable parameter must be in
exactly one group (else a ``ValueError`` names the ones left out). ``model`` is the
unwrapped model, already on the device. Each group's lr follows the schedule (its own peak
times the warm-up/cosine factor) and is logged as ``lr/<name>``. Without the method, all
trainable parameters form one group at ``trainer.lr``.

``find_unused_parameters``: keep it true (the default) when some trainable parameters may
not feed a step's loss (extra outputs, optional branches); a stage whose every trainable
parameter feeds every loss may set it false to save DDP a graph traversal per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@dataclass
class StepOutput:
    """The result of one micro-batch.

    Args:
        loss: the scalar to minimise (graph attached).
        num_examples: examples in the micro-batch (for throughput).
        logs: extra scalars to log, e.g. loss terms (detached floats).
    """

    loss: torch.Tensor
    num_examples: int
    logs: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class Stage(Protocol):
    """The builders a stage injects into the one training loop.

    Attributes:
        name: the stage's folder in the run directory (``teacher``, ``distill``, ...).

    Optional, looked up by the loop (see the module docstring): ``optimizer_groups(model)``
    (named parameter groups with their own learning rates) and ``find_unused_parameters``.
    """

    name: str

    def build_model(self) -> nn.Module:
        """Build the model to train (on the CPU; the loop moves it to the device).

        Parameters with ``requires_grad=False`` (a frozen LLM, say) are not optimised.
        """
        ...

    def train_batches(self, epoch: int, rank: int, world_size: int) -> Iterable[Any]:
        """This rank's micro-batches for one pass over the training data.

        Must be deterministic given ``(epoch, rank, world_size)`` and the stage's seed, so a
        resumed run sees the batches it would have seen (the loop skips those it already
        trained on). Every rank must yield the same number of batches.
        """
        ...

    def training_step(self, model: nn.Module, batch: Any) -> StepOutput:
        """Compute the loss of one micro-batch (``batch`` is already on the device)."""
        ...

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Evaluate on the stage's held-out data; returns flat ``name -> value`` metrics.

        Called on every rank with the model in eval mode and no gradients; only rank 0's
        result is recorded.
        """
        ...

    def export(self, model: nn.Module, state_dict: Mapping[str, torch.Tensor],
               out_dir: Path) -> None:
        """Write the stage's artefacts next to its checkpoint (rank 0, after training).

        Args:
            model: the trained model (on rank 0; under ZeRO-3 its own parameters are
                partitioned, so use ``state_dict``).
            state_dict: the full, consolidated weights (on the CPU).
            out_dir: the stage folder (``<run>/<stage.name>``).
        """
        ...
