"""Checkpoints that survive a kill: written to a temporary folder, then renamed.

Layout inside a stage folder (``<run>/<stage>/``)::

    ckpt/step-000050/     one complete checkpoint (engine files + the loop's client state)
    ckpt/latest           the name of the newest complete checkpoint (one line)

A checkpoint is first written to ``ckpt/.tmp-step-000050`` by every rank; only when all
ranks have finished does rank 0 rename it and then replace ``latest`` (both atomic on
POSIX). A run killed mid-write leaves a ``.tmp-*`` folder that the next save removes, and
``latest`` still names the previous complete checkpoint.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from hacd_graph.atomic_io import write_text_atomic
from hacd_graph.training.distributed import DistributedContext


class CheckpointManager:
    """Saves, finds and prunes the checkpoints of one stage.

    Args:
        stage_dir: the stage folder; checkpoints go to ``stage_dir/ckpt``.
        ctx: this process's place among the ranks (rank 0 renames and prunes).
        keep_last: how many complete checkpoints to keep.
    """

    def __init__(self, stage_dir: Path, ctx: DistributedContext, keep_last: int = 2):
        self.root = Path(stage_dir) / "ckpt"
        self.ctx = ctx
        self.keep_last = keep_last

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or ``None`` when there is none."""
        pointer = self.root / "latest"
        if not pointer.exists():
            return None
        folder = self.root / pointer.read_text().strip()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{pointer} names {folder.name}, which does not exist; delete {pointer} "
                "to start the stage afresh"
            )
        return folder

    def save(self, step: int, write: Any) -> Path:
        """Write a checkpoint for ``step``; every rank must call this.

        Args:
            step: the optimiser step the checkpoint holds.
            write: ``write(folder)`` writes this rank's files into ``folder``.

        Returns:
            The final checkpoint folder.
        """
        name = f"step-{step:07d}"
        tmp, final = self.root / f".tmp-{name}", self.root / name
        if self.ctx.is_main:
            self.root.mkdir(parents=True, exist_ok=True)
            for stale in self.root.glob(".tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            tmp.mkdir()
        self.ctx.barrier()
        write(tmp)
        self.ctx.barrier()
        if self.ctx.is_main:
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            write_text_atomic(self.root / "latest", name + "\n")
            self._prune(keep=name)
        self.ctx.barrier()
        return final

    def _prune(self, keep: str) -> None:
        done = sorted(p for p in self.root.glob("step-*") if p.is_dir())
        for old in done[: max(0, len(done) - self.keep_last)]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)
