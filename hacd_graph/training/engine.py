"""The two ways the loop steps a model: plain PyTorch, or a DeepSpeed engine (ZeRO).

Both present the same small interface (:class:`Engine`) to the loop: a forward module, a
micro-step (backward plus an optimiser step at the accumulation boundary), checkpoint
save/load into a folder, and the consolidated weights. Which one is used is an explicit
setting (``deepspeed.enabled`` in the config), never an environment variable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from hacd_graph.training.config import TrainerConfig
from hacd_graph.training.distributed import DistributedContext


def _optimizer(model: nn.Module, cfg: TrainerConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; no weight decay on biases and norms (1-D)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ValueError("the stage's model has no trainable parameters")
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=cfg.betas)


def lr_factor(step: int, cfg: TrainerConfig) -> float:
    """Linear warm-up to 1, then cosine decay to ``cfg.min_lr_ratio`` at ``cfg.max_steps``."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Engine:
    """What the loop needs from an engine (implemented by the two classes below)."""

    kind: str
    module: nn.Module  # the unwrapped model

    def forward_module(self) -> nn.Module:
        """The module to call for forward passes (a wrapper that may hook parameters)."""
        raise NotImplementedError

    def micro_step(self, loss: torch.Tensor) -> tuple[bool, float | None]:
        """Backward ``loss``; step the optimiser at an accumulation boundary.

        Returns:
            ``(stepped, grad_norm)``: whether the optimiser stepped, and the gradient norm
            before clipping when known.
        """
        raise NotImplementedError

    def lr(self) -> float:
        """The current learning rate."""
        raise NotImplementedError

    def save(self, folder: Path, client_state: Mapping[str, Any]) -> None:
        """Write this rank's share of a checkpoint into ``folder`` (which exists)."""
        raise NotImplementedError

    def load(self, folder: Path) -> dict[str, Any]:
        """Restore a checkpoint written by :meth:`save`; returns its ``client_state``."""
        raise NotImplementedError

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The complete weights on the CPU (collective under ZeRO-3: call on every rank)."""
        raise NotImplementedError


class TorchEngine(Engine):
    """Plain PyTorch: AdamW + warm-up/cosine schedule; data parallel across ranks.

    With several ranks, parameters and buffers start from rank 0's, and gradients are
    averaged with one all-reduce per optimiser step (what DDP does, without DDP's
    requirement that every forward output feed the loss: stages return extra outputs,
    such as the teacher's frame features); buffers (batch-norm statistics) are re-broadcast
    from rank 0 after each step.
    """

    kind = "torch"

    def __init__(self, model: nn.Module, cfg: TrainerConfig, ctx: DistributedContext):
        self.module = model.to(ctx.device)
        self.cfg = cfg
        self.optimizer = _optimizer(self.module, cfg)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, cfg)
        )
        self.world_size = ctx.world_size
        self._micro = 0
        if self.world_size > 1:
            self._broadcast(self.module.parameters())
            self._broadcast(self.module.buffers())

    @staticmethod
    def _broadcast(tensors: Iterable[torch.Tensor]) -> None:
        with torch.no_grad():
            for t in tensors:
                dist.broadcast(t.data, src=0)

    def _average_gradients(self) -> None:
        params = [p for p in self.module.parameters() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        for p, g in zip(params, flat.split([q.numel() for q in params]), strict=True):
            p.grad = g.view_as(p).clone()

    def forward_module(self) -> nn.Module:
        return self.module

    def micro_step(self, loss: torch.Tensor) -> tuple[bool, float | None]:
        (loss / self.cfg.grad_accum_steps).backward()
        self._micro += 1
        if self._micro % self.cfg.grad_accum_steps:
            return False, None
        if self.world_size > 1:
            self._average_gradients()
        params = [p for p in self.module.parameters() if p.grad is not None]
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm) if params else torch.zeros(())
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.world_size > 1:
            self._broadcast(self.module.buffers())
        return True, float(norm)

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def save(self, folder: Path, client_state: Mapping[str, Any]) -> None:
        torch.save(
            {"model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
             "scheduler": self.scheduler.state_dict(), "client_state": dict(client_state)},
            folder / "state.pt",
        )

    def load(self, folder: Path) -> dict[str, Any]:
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        return state["client_state"]

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.module.state_dict().items()}


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
    """A ``deepspeed.DeepSpeedEngine`` (ZeRO stage 0-3) behind the loop's interface."""

    kind = "deepspeed"

    def __init__(self, model: nn.Module, cfg: TrainerConfig, ctx: DistributedContext,
                 ds_config: Mapping[str, Any]):
        import deepspeed

        self.cfg = cfg
        model = model.to(ctx.device)
        optimizer = _optimizer(model, cfg)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler,
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

    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def save(self, folder: Path, client_state: Mapping[str, Any]) -> None:
        self.engine.save_checkpoint(
            str(folder.parent), tag=folder.name, client_state=dict(client_state),
            save_latest=False,
        )

    def load(self, folder: Path) -> dict[str, Any]:
        path, client_state = self.engine.load_checkpoint(str(folder.parent), tag=folder.name)
        if path is None:
            raise FileNotFoundError(f"DeepSpeed could not load the checkpoint in {folder}")
        return client_state

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        if self.zero_stage < 3:
            return {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        import deepspeed

        params = list(self.module.parameters())
        with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
            return {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}
