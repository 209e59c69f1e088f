"""Checkpoints that survive a kill: written to a temporary folder, then renamed.

Layout inside a stage folder (``<run>/<stage>/``)::

    ckpt/step-000050/     one complete checkpoint (engine files + the loop's client state)
    ckpt/step-000050/meta.json   what wrote it: engine, ZeRO stage, world size, fingerprint
    ckpt/latest           the name of the newest complete checkpoint (one line)

A checkpoint is first written to ``ckpt/.tmp-step-000050`` by every rank; only when all
ranks have finished does rank 0 rename it and then replace ``latest`` (both atomic on
POSIX). A run killed mid-write leaves a ``.tmp-*`` folder that the next save removes, and
``latest`` still names the previous complete checkpoint.

``meta.json`` is read before any engine state is loaded, so a checkpoint written by another
engine, ZeRO stage, world size or settings fingerprint is refused with
:class:`CheckpointMismatch` instead of failing (or silently succeeding) inside the engine.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hacd_graph.atomic_io import write_json_atomic, write_text_atomic
from hacd_graph.training.distributed import DistributedContext

META_FILE = "meta.json"
RESUME_KEYS = ("fingerprint", "engine", "zero_stage", "world_size")


class CheckpointMismatch(ValueError):
    """A stage folder holds a checkpoint or result written under other conditions.

    Raised by :func:`hacd_graph.training.fit` instead of resuming (or returning a finished
    result) when the recorded settings fingerprint, engine, ZeRO stage or world size differ
    from the current run's.

    Attributes:
        path: the checkpoint folder or ``metrics.json`` that was refused.
        differences: ``key -> (recorded, current)`` for each key that differs.
        stage_dir: the stage folder (delete it to train the stage afresh).
    """

    def __init__(self, path: Path, differences: Mapping[str, tuple[Any, Any]],
                 stage_dir: Path, stage: str = ""):
        self.path = Path(path)
        self.differences = dict(differences)
        self.stage_dir = Path(stage_dir)
        what = "; ".join(f"{k} recorded {old!r}, now {new!r}"
                         for k, (old, new) in self.differences.items())
        who = f"stage '{stage}': " if stage else ""
        super().__init__(
            f"{who}{self.path} was written under other conditions ({what}); not resuming "
            f"from it. Delete {self.stage_dir} to train the stage afresh, or run again with "
            "the recorded settings"
        )


def compare_records(recorded: Mapping[str, Any], current: Mapping[str, Any],
                    keys: tuple[str, ...] = RESUME_KEYS) -> dict[str, tuple[Any, Any]]:
    """``key -> (recorded, current)`` for each of ``keys`` whose values differ."""
    return {k: (recorded.get(k), current.get(k)) for k in keys
            if recorded.get(k) != current.get(k)}


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

    @staticmethod
    def read_meta(folder: Path) -> dict[str, Any] | None:
        """The ``meta.json`` of a checkpoint folder, or ``None`` (written before it existed)."""
        path = Path(folder) / META_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def save(self, step: int, write: Any, meta: Mapping[str, Any] | None = None) -> Path:
        """Write a checkpoint for ``step``; every rank must call this.

        Args:
            step: the optimiser step the checkpoint holds.
            write: ``write(folder)`` writes this rank's files into ``folder``.
            meta: JSON-able facts about the writer, saved by rank 0 as ``meta.json``.

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
        if self.ctx.is_main and meta is not None:
            write_json_atomic(tmp / META_FILE, {"step": step, **meta})
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
