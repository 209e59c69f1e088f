"""The two ways the loop steps a model: plain PyTorch (DDP across ranks), or DeepSpeed (ZeRO).

Both present the same small interface (:class:`Engine`) to the loop: a forward module, a
context for each micro-step, a micro-step (backward plus an optimiser step at the
accumulation boundary), checkpoint save/load into a folder, and the consolidated weights.
Both build the same optimiser and schedule (``hacd_graph.training.optimizer``). Which engine
is used is an explicit setting (``deepspeed.enabled`` in the config), never an environment
variable.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hacd_graph.training.config import TrainerConfig
from hacd_graph.training.distributed import DistributedContext
from hacd_graph.training.optimizer import GroupsFn, build_optimizer, build_schedule, group_lrs

STATE_FILE = "state.pt"
_DATACLASS = "__dataclass__"


class _OutputType:
    """A dataclass output's class, carried through DDP as an opaque leaf (a bare class is
    itself a dataclass to ``dataclasses.is_dataclass``, and DDP's tensor search would read
    its fields)."""

    __slots__ = ("cls",)

    def __init__(self, cls: type):
        self.cls = cls


class Engine:
    """What the loop needs from an engine (implemented by the two classes below).

    Attributes:
        kind: ``"torch"`` or ``"deepspeed"``.
        zero_stage: the ZeRO stage (0 for the torch engine).
        module: the unwrapped model (what checkpoints and exports hold).
    """

    kind: str
    zero_stage: int = 0
    module: nn.Module
    optimizer: torch.optim.Optimizer  # the torch AdamW the schedule drives

    def forward_module(self) -> nn.Module:
        """The module to call in ``training_step`` (a wrapper: DDP or a DeepSpeed engine)."""
        raise NotImplementedError

    def eval_module(self) -> nn.Module:
        """The module ``Stage.evaluate`` receives."""
        return self.forward_module()

    def micro_context(self) -> AbstractContextManager[Any]:
        """Context for the next micro-step's forward and backward (DDP's ``no_sync``)."""
        return contextlib.nullcontext()

    def micro_step(self, loss: torch.Tensor) -> tuple[bool, float | None]:
        """Backward ``loss``; step the optimiser at an accumulation boundary.

        Returns:
            ``(stepped, grad_norm)``: whether the optimiser stepped, and the gradient norm
            before clipping when known.
        """
        raise NotImplementedError

    def lrs(self) -> dict[str, float]:
        """The current learning rate of each named parameter group."""
        return group_lrs(self.optimizer)

    def lr(self) -> float:
        """The current learning rate of the first parameter group."""
        return next(iter(self.lrs().values()))

    def save(self, folder: Path, client_state: Mapping[str, Any]) -> None:
        """Write this rank's share of a checkpoint into ``folder`` (which exists)."""
        raise NotImplementedError

    def load(self, folder: Path) -> dict[str, Any]:
        """Restore a checkpoint written by :meth:`save`; returns its ``client_state``."""
        raise NotImplementedError

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights (``trained_state``: frozen parameters left out), on the CPU,
        complete on rank 0 (collective under ZeRO-3: call on every rank)."""
        raise NotImplementedError


def frozen_names(module: nn.Module) -> set[str]:
    """State-dict names of the parameters that do not train (a frozen base LLM)."""
    return {n for n, p in module.named_parameters(remove_duplicate=False)
            if not p.requires_grad}


def trained_state(module: nn.Module, state: Mapping[str, torch.Tensor]
                  ) -> dict[str, torch.Tensor]:
    """The entries of ``state`` that training changes: trainable parameters and buffers.

    Frozen parameters (a base LLM under LoRA) are left out of checkpoints and exported
    weights: they are what ``stage.build_model()`` builds again from their own files.
    """
    frozen = frozen_names(module)
    return {k: v.detach().cpu() for k, v in state.items() if k not in frozen}


def load_trained_state(module: nn.Module, state: Mapping[str, torch.Tensor],
                       where: Path) -> None:
    """Load what :func:`trained_state` kept; every missing entry must be a frozen one.

    Raises:
        RuntimeError: entries that the module does not have, or trainable ones missing.
    """
    missing, unexpected = module.load_state_dict(dict(state), strict=False)
    frozen = frozen_names(module)
    absent = [k for k in missing if k not in frozen]
    if unexpected or absent:
        raise RuntimeError(f"{where} does not fit this model: unexpected {unexpected[:5]}, "
                           f"missing trainable {absent[:5]}")


class _DataclassAsDict(nn.Module):
    """What DDP wraps: the stage's model, a plain-dataclass output handed over as a dict.

    DDP finds a forward's output tensors with torch's pytree, which knows tuples, lists,
    dicts and Hugging Face ``ModelOutput``, but not plain dataclasses (the teacher's
    ``TeacherOutput``). Tensors it cannot see defeat ``find_unused_parameters``: parameters
    that feed only an output the loss ignores (the teacher's frame projection) never get a
    gradient, and the reduction stalls. :class:`DDPForward` turns the dict back into the
    dataclass outside DDP, so stages see their own output type.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.module(*args, **kwargs)
        if dataclasses.is_dataclass(out) and not isinstance(out, type | dict):
            fields = {f.name: getattr(out, f.name) for f in dataclasses.fields(out) if f.init}
            return {_DATACLASS: _OutputType(type(out)), **fields}
        return out


class DDPForward(nn.Module):
    """The torch engine's forward module on several ranks: ``DistributedDataParallel``
    around the stage's model, returning the model's own output types.

    Attributes:
        ddp: the ``DistributedDataParallel`` wrapper (``no_sync()``, buckets, hooks).
        module: the stage's model (unwrapped), for attribute access.
    """

    def __init__(self, ddp: DistributedDataParallel):
        super().__init__()
        self.ddp = ddp

    @property
    def module(self) -> nn.Module:
        return self.ddp.module.module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = self.ddp(*args, **kwargs)
        if isinstance(out, dict) and _DATACLASS in out:
            out = dict(out)
            return out.pop(_DATACLASS).cls(**out)
        return out


class TorchEngine(Engine):
    """Plain PyTorch: AdamW and the warm-up/cosine schedule; ``DistributedDataParallel``
    across ranks.

    With several ranks the model is wrapped in DDP (:class:`DDPForward`, which also lets
    DDP see the tensors of plain-dataclass outputs), which starts every rank from rank 0's
    parameters and buffers, averages gradients in buckets during backward, and re-broadcasts
    rank 0's buffers (batch-norm statistics) before each training forward. Micro-steps
    before an accumulation boundary run under ``no_sync()`` (gradients accumulate locally,
    one all-reduce per optimiser step). ``find_unused_parameters`` (default true) lets a
    stage return extra outputs, or skip parts of the model on some batches, without
    breaking DDP's reduction; a stage whose every trainable parameter feeds every loss can
    set its ``find_unused_parameters = False`` to save a graph traversal per step.

    Args:
        model: the stage's model (moved to ``ctx.device``).
        cfg: the loop's settings.
        ctx: this process's rank, world size and device.
        optimizer_groups: the stage's ``optimizer_groups`` method, or ``None``.
        find_unused_parameters: DDP's flag (used with more than one rank).
    """

    kind = "torch"

    def __init__(self, model: nn.Module, cfg: TrainerConfig, ctx: DistributedContext,
                 optimizer_groups: GroupsFn | None = None, find_unused_parameters: bool = True):
        self.module = model.to(ctx.device)
        self.cfg = cfg
        self.is_main = ctx.is_main
        self.optimizer = build_optimizer(self.module, cfg, optimizer_groups)
        self.scheduler = build_schedule(self.optimizer, cfg)
        self.ddp: DistributedDataParallel | None = None
        self._forward: nn.Module = self.module
        if ctx.world_size > 1:
            self.ddp = DistributedDataParallel(
                _DataclassAsDict(self.module),
                device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                find_unused_parameters=find_unused_parameters,
            )
            self._forward = DDPForward(self.ddp)
        self._micro = 0

    def forward_module(self) -> nn.Module:
        return self._forward

    def eval_module(self) -> nn.Module:
        # the plain module: evaluation needs no gradient sync, and DDP's forward would
        # broadcast buffers (a collective) on every call
        return self.module

    def micro_context(self) -> AbstractContextManager[Any]:
        at_boundary = (self._micro + 1) % self.cfg.grad_accum_steps == 0
        if self.ddp is None or at_boundary:
            return contextlib.nullcontext()
        return self.ddp.no_sync()

    def micro_step(self, loss: torch.Tensor) -> tuple[bool, float | None]:
        (loss / self.cfg.grad_accum_steps).backward()
        self._micro += 1
        if self._micro % self.cfg.grad_accum_steps:
            return False, None
        params = [p for p in self.module.parameters() if p.grad is not None]
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm) if params else torch.zeros(())
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return True, float(norm)

    def save(self, folder: Path, client_state: Mapping[str, Any]) -> None:
        if not self.is_main:  # DDP keeps the ranks identical: rank 0 writes for all
            return
        torch.save(
            {"model": trained_state(self.module, self.module.state_dict()),
             "optimizer": self.optimizer.state_dict(),
             "scheduler": self.scheduler.state_dict(), "client_state": dict(client_state)},
            folder / STATE_FILE,
        )

    def load(self, folder: Path) -> dict[str, Any]:
        state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=False)
        load_trained_state(self.module, state["model"], folder)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        return state["client_state"]

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        return trained_state(self.module, self.module.state_dict())


def deepspeed_config(cfg: TrainerConfig, user: Mapping[str, Any]) -> dict[str, Any]:
    """The DeepSpeed JSON config: the ``deepspeed.config`` group plus the loop's settings.

    The loop owns batch size, accumulation and clipping (so they are set in one place,
    ``trainer``); the user's group owns ZeRO, offload and precision.
    """
    out = dict(user)
    out.update(
        train_micro_batch_size_per_gpu=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum_steps,
        gradient_clipping=cfg.grad_clip,
        steps_per_print=out.get("steps_per_print", 10**9),
    )
    # The loop builds a torch AdamW (DeepSpeed's fused Adam needs a compiled op).
    out.setdefault("zero_allow_untested_optimizer", True)
    return out


class DeepSpeedEngine(Engine):
    """A ``deepspeed.DeepSpeedEngine`` (ZeRO stage 0-3) behind the loop's interface.

    The optimiser and schedule are the torch engine's (same groups, same schedule), handed
    to ``deepspeed.initialize``, which steps the schedule at each accumulation boundary.
    """

    kind = "deepspeed"

    def __init__(self, model: nn.Module, cfg: TrainerConfig, ctx: DistributedContext,
                 ds_config: Mapping[str, Any], optimizer_groups: GroupsFn | None = None):
        import deepspeed

        self.cfg = cfg
        model = model.to(ctx.device)
        self.optimizer = build_optimizer(model, cfg, optimizer_groups)
        scheduler = build_schedule(self.optimizer, cfg)
        self.engine, _, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=self.optimizer, lr_scheduler=scheduler,
            config=deepspeed_config(cfg, ds_config), dist_init_required=False,
        )
        self.module = self.engine.module
        self.zero_stage = int(self.engine.zero_optimization_stage())

    def forward_module(self) -> nn.Module:
        return self.engine

    def micro_step(self, loss: torch.Tensor) -> tuple[bool, float | None]:
        boundary = self.engine.is_gradient_accumulation_boundary()
        self.engine.backward(loss)
        self.engine.step()
        if not boundary:
            return False, None
        norm = self.engine.get_global_grad_norm()
        return True, (float(norm) if norm is not None else None)

    def save(self, folder: Path, client_state: Mapping[str, Any]) -> None:
        self.engine.save_checkpoint(
            str(folder.parent), tag=folder.name, client_state=dict(client_state),
            save_latest=False, exclude_frozen_parameters=True,
        )

    def load(self, folder: Path) -> dict[str, Any]:
        path, client_state = self.engine.load_checkpoint(
            str(folder.parent), tag=folder.name, load_module_strict=False)
        if path is None:
            raise FileNotFoundError(f"DeepSpeed could not load the checkpoint in {folder}")
        return client_state

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        if self.zero_stage < 3:
            return trained_state(self.module, self.module.state_dict())
        # DeepSpeed gathers the partitions layer by layer onto rank 0 (empty elsewhere)
        state = self.engine._zero3_consolidated_16bit_state_dict(exclude_frozen_parameters=True)
        return {k: v.detach().cpu() for k, v in (state or {}).items()}
