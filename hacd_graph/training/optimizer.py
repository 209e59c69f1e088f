"""The optimiser and learning-rate schedule of the one loop, built in one place for both engines.

AdamW over the trainable parameters, in the stage's named groups when it defines
``optimizer_groups(model)`` (one group ``"default"`` otherwise). Inside each named group the
1-D parameters (biases, norms) get no weight decay, so a named group becomes up to two torch
parameter groups that share its ``name`` and ``lr``::

    stage.optimizer_groups(model) == [
        {"name": "bridge", "params": [...], "lr": 1e-3},
        {"name": "lora", "params": [...]},                  # lr: trainer.lr
    ]
    # -> torch groups: bridge (decay), bridge (no decay), lora (decay), lora (no decay)

The schedule is ``transformers.get_cosine_with_min_lr_schedule_with_warmup``: the factor
rises linearly from 0 (step 0) over ``warmup_steps``, then follows a half cosine from 1 down
to ``min_lr_ratio`` at ``max_steps``; it multiplies every group's own peak lr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from hacd_graph.training.config import TrainerConfig

GroupsFn = Callable[[nn.Module], Sequence[Mapping[str, Any]]]
GROUP_KEYS = {"name", "params", "lr", "weight_decay"}
DEFAULT_GROUP = "default"


def named_groups(model: nn.Module, optimizer_groups: GroupsFn | None,
                 cfg: TrainerConfig) -> list[dict[str, Any]]:
    """The named parameter groups, validated: trainable parameters only, each in one group.

    Args:
        model: the unwrapped model.
        optimizer_groups: the stage's ``optimizer_groups`` (or ``None``: one group with
            every trainable parameter).
        cfg: the loop's settings (default ``lr`` and ``weight_decay``).

    Returns:
        ``[{"name", "params", "lr", "weight_decay"}, ...]``; groups with no trainable
        parameter are dropped.

    Raises:
        ValueError: unknown keys, no ``params``, a duplicate name, a parameter in two
            groups, a trainable parameter in none, or no trainable parameter at all.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the stage's model has no trainable parameters")
    raw = ([{"name": DEFAULT_GROUP, "params": trainable}] if optimizer_groups is None
           else list(optimizer_groups(model)))
    seen: dict[int, str] = {}
    names: set[str] = set()
    groups = []
    for i, group in enumerate(raw):
        unknown = sorted(set(group) - GROUP_KEYS)
        if unknown:
            raise ValueError(f"optimizer group {i} has unknown key(s) {unknown}; "
                             f"a group may set {sorted(GROUP_KEYS)}")
        if "params" not in group:
            raise ValueError(f"optimizer group {i} ({group.get('name', '?')}) has no 'params'")
        name = str(group.get("name", f"group{i}"))
        if name in names:
            raise ValueError(f"two optimizer groups are named {name!r}")
        names.add(name)
        params = []
        for p in group["params"]:
            if not p.requires_grad:
                continue  # frozen parameters are not optimised, whatever group lists them
            if id(p) in seen:
                raise ValueError(f"a parameter is in optimizer groups {seen[id(p)]!r} and "
                                 f"{name!r}; each parameter belongs to one group")
            seen[id(p)] = name
            params.append(p)
        if params:
            groups.append({"name": name, "params": params,
                           "lr": float(group.get("lr", cfg.lr)),
                           "weight_decay": float(group.get("weight_decay", cfg.weight_decay))})
    left = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if left:
        shown = ", ".join(left[:5]) + (", ..." if len(left) > 5 else "")
        raise ValueError(f"optimizer_groups leaves {len(left)} trainable parameter(s) out of "
                         f"every group ({shown}): add them to a group or set "
                         "requires_grad=False")
    return groups


def build_optimizer(model: nn.Module, cfg: TrainerConfig,
                    optimizer_groups: GroupsFn | None = None) -> torch.optim.AdamW:
    """AdamW over :func:`named_groups`, without weight decay on 1-D parameters.

    Every torch parameter group carries its named group's ``name`` (kept by
    ``state_dict``, read back by :func:`group_lrs`).
    """
    torch_groups = []
    for group in named_groups(model, optimizer_groups, cfg):
        decay = [p for p in group["params"] if p.ndim >= 2]
        no_decay = [p for p in group["params"] if p.ndim < 2]
        for params, wd in ((decay, group["weight_decay"]), (no_decay, 0.0)):
            if params:
                torch_groups.append({"name": group["name"], "params": params,
                                     "lr": group["lr"], "weight_decay": wd})
    return torch.optim.AdamW(torch_groups, lr=cfg.lr, betas=cfg.betas)


def build_schedule(optimizer: torch.optim.Optimizer,
                   cfg: TrainerConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then cosine decay to ``cfg.min_lr_ratio`` × each group's lr.

    ``transformers.get_cosine_with_min_lr_schedule_with_warmup``: at optimiser step s the
    factor is ``s / warmup_steps`` while ``s < warmup_steps``, then
    ``r + (1 - r) * (1 + cos(pi * p)) / 2`` with ``p = (s - warmup) / (max_steps - warmup)``
    and ``r = min_lr_ratio``.
    """
    # imported here: ``transformers.optimization`` takes seconds to import (it pulls in
    # peft), which ``import hacd_graph.training`` should not pay
    from transformers import get_cosine_with_min_lr_schedule_with_warmup

    return get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, num_warmup_steps=cfg.warmup_steps, num_training_steps=cfg.max_steps,
        min_lr_rate=cfg.min_lr_ratio,
    )


def group_lrs(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """The current learning rate of each named group (``name -> lr``), in group order."""
    return {str(g.get("name", f"group{i}")): float(g["lr"])
            for i, g in enumerate(optimizer.param_groups)}
