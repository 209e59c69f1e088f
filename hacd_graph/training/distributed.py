"""Process-group set-up, the run's seed, and moving batches to the device.

One process (``python train.py``) needs no process group. Under a launcher (``deepspeed``,
``torchrun``), the launcher starts one process per rank and tells each its local rank
(``--local_rank`` on the command line, which ``train.py`` hands to
:func:`init_distributed`); the process group then uses gloo on CPU and NCCL on GPU.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands among the ranks of one run.

    Args:
        rank: global rank (0 writes the run directory).
        world_size: number of ranks.
        local_rank: rank on this machine (selects the GPU).
        device: the device this rank computes on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes files and shows progress."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """Whether a process group with more than one rank is in use."""
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait for every rank (a no-op without a process group)."""
        if dist.is_available() and dist.is_initialized():
            dist.barrier()


def init_distributed(local_rank: int | None, use_deepspeed: bool = True) -> DistributedContext:
    """Join the launcher's process group, or describe a single process.

    Args:
        local_rank: the launcher's ``--local_rank``; ``None`` for a plain single process.
        use_deepspeed: initialise through ``deepspeed.init_distributed`` (needed by the
            DeepSpeed engine) rather than ``torch.distributed`` directly.

    Returns:
        The context of this process. The device is ``cuda:<local_rank>`` when CUDA is
        available, else the CPU.
    """
    cuda = torch.cuda.is_available()
    if local_rank is None:
        return DistributedContext(device=torch.device("cuda", 0) if cuda else torch.device("cpu"))
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        if use_deepspeed:
            import deepspeed

            deepspeed.init_distributed(dist_backend=backend)
        else:
            dist.init_process_group(backend=backend)
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    return DistributedContext(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
        device=device,
    )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) once, at the start of a run."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The random generators' state, for a checkpoint (restored by :func:`set_rng_state`)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the generators saved by :func:`rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a batch (nested dicts, lists, tuples, dataclasses) to ``device``.

    Non-tensor leaves (strings, ids, numbers) are returned unchanged.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return type(batch)({k: move_to_device(v, device) for k, v in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to_device(v, device) for v in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(move_to_device(v, device) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(
            batch, **{f.name: move_to_device(getattr(batch, f.name), device)
                      for f in dataclasses.fields(batch)}
        )
    return batch
