"""A run directory that never lies: what each stage was made with, and what to do next.

Beside the stages' outputs a run directory holds::

    records/<stage>.json       fingerprint, settings and inputs that made the stage's
                               outputs; status (running | complete); the engine and rank
                               count of its checkpoints; timings; git revision
    configs/<UTC time>.yaml    the composed config of every invocation (never overwritten)
    config.yaml                the config that every existing output agrees with
    train.log                  the console's messages of every invocation, timestamped
    summary.json               the last invocation: each stage's status, time, key numbers

Before any work, :meth:`RunDirectory.plan` decides per stage: ``run`` (nothing there yet),
``skip`` (complete, same fingerprint), ``resume`` (interrupted, same fingerprint and the
same engine and rank count), or it refuses with one line naming what changed, so results
from other settings are never reported as new and nothing is overwritten.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hacd_graph.atomic_io import write_json_atomic, write_text_atomic
from hacd_graph.errors import UserError
from hacd_graph.pipeline.fingerprint import settings_diff

LOG_NAME = "train.log"
SUMMARY_SCHEMA = "hacd_graph.run_summary/v1"


class RunDirectoryError(UserError):
    """The run directory cannot be used as asked (one line: what and what to do)."""


@dataclass
class StagePlan:
    """What one stage is and what the run will do with it.

    Args:
        name: the stage.
        fingerprint: of its settings and inputs (``fingerprint.fingerprint``).
        settings: the settings that went into the fingerprint.
        inputs: ``{upstream stage: fingerprint}``.
        outputs: paths (relative to the run directory) that exist once it has run.
        resume_key: what its checkpoints depend on (engine, ranks, DeepSpeed settings);
            ``None`` for stages without checkpoints.
        action: ``run``, ``skip`` or ``resume`` (set by :meth:`RunDirectory.plan`).
    """

    name: str
    fingerprint: str
    settings: dict[str, Any]
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    resume_key: dict[str, Any] | None = None
    action: str = "run"


def _utc(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _describe_engine(key: Mapping[str, Any]) -> str:
    ranks = key.get("world_size", 1)
    return f"{key.get('engine')} on {ranks} rank{'s' if ranks != 1 else ''}"


class RunDirectory:
    """One run directory (see the module docstring).

    Args:
        path: the folder (``run.dir``).
        is_main: this process writes (rank 0); the others only read.
    """

    def __init__(self, path: str | Path, is_main: bool = True):
        self.path = Path(path)
        self.is_main = is_main
        self._log_handler: logging.Handler | None = None
        self._check_location()

    def _check_location(self) -> None:
        for parent in [self.path, *self.path.parents]:
            if parent.exists():
                if not parent.is_dir():
                    where = ("is a file" if parent == self.path
                             else f"lies below the file {parent}")
                    raise RunDirectoryError(f"run.dir={self.path} {where}; give a folder")
                break

    @property
    def writable(self) -> bool:
        """Whether this process can create or change files in the folder."""
        for parent in [self.path, *self.path.parents]:
            if parent.exists():
                return os.access(parent, os.W_OK | os.X_OK)
        return False

    def suggest(self) -> Path:
        """A sibling folder that does not exist yet (``<dir>-2``, ``<dir>-3``, ...)."""
        n = 2
        while (candidate := self.path.with_name(f"{self.path.name}-{n}")).exists():
            n += 1
        return candidate

    # --- records ------------------------------------------------------------------------

    def record(self, stage: str) -> dict[str, Any] | None:
        """The stage's record, or ``None`` when it never started here."""
        path = self.path / "records" / f"{stage}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def write_record(self, plan: StagePlan, status: str, **extra: Any) -> None:
        """Record ``plan`` with ``status`` (rank 0; the earlier record's start is kept)."""
        if not self.is_main:
            return
        old = self.record(plan.name) or {}
        record = {
            "stage": plan.name, "fingerprint": plan.fingerprint, "status": status,
            "settings": plan.settings, "inputs": plan.inputs, "resume_key": plan.resume_key,
            "started_at": old.get("started_at") if old.get("fingerprint") == plan.fingerprint
            else _utc(), **extra,
        }
        write_json_atomic(self.path / "records" / f"{plan.name}.json", record)

    # --- planning -----------------------------------------------------------------------

    def plan(self, plans: Sequence[StagePlan]) -> list[StagePlan]:
        """Set each stage's ``action``, or refuse (:class:`RunDirectoryError`) before any
        work when a stage's outputs were made with other settings or another engine, or
        when the folder is read-only and work remains."""
        for plan in plans:
            plan.action = self._decide(plan)
        todo = [p.name for p in plans if p.action != "skip"]
        if todo and not self.writable:
            raise RunDirectoryError(
                f"run.dir={self.path} is read-only and stage(s) {', '.join(todo)} still need "
                "to run; make it writable or give another run.dir")
        return list(plans)

    def _decide(self, plan: StagePlan) -> str:
        record = self.record(plan.name)
        hint = f"nothing was changed; use a new run.dir (e.g. run.dir={self.suggest()})"
        if record is None:
            present = [p for p in plan.outputs if (self.path / p).exists()]
            if present:
                raise RunDirectoryError(
                    f"stage {plan.name}: {self.path / present[0]} exists but {self.path} has "
                    "no record of the settings that made it (an older hacd_graph?); " + hint)
            return "run"
        if record["fingerprint"] != plan.fingerprint:
            changes = settings_diff(record.get("settings", {}), plan.settings)
            changes += [f"stage {name} changed" for name, fp in plan.inputs.items()
                        if record.get("inputs", {}).get(name) != fp]
            shown = "; ".join(changes[:4]) + (f"; and {len(changes) - 4} more"
                                              if len(changes) > 4 else "")
            raise RunDirectoryError(
                f"stage {plan.name} in {self.path} was made with other settings "
                f"({shown or 'code version changed'}); " + hint)
        if record["status"] == "complete":
            return "skip"
        old_key = record.get("resume_key")
        if old_key is not None and plan.resume_key is not None and old_key != plan.resume_key:
            raise RunDirectoryError(
                f"stage {plan.name} in {self.path} was interrupted with checkpoints from "
                f"{_describe_engine(old_key)}; this run uses {_describe_engine(plan.resume_key)}"
                f" (or other DeepSpeed settings). Resume with the same launcher and settings, "
                f"or use a new run.dir (e.g. run.dir={self.suggest()})")
        return "resume"

    # --- configs, log, summary ----------------------------------------------------------

    def save_config(self, config_yaml: str) -> Path | None:
        """Keep this invocation's config under ``configs/`` and make it ``config.yaml``.

        Called after :meth:`plan` accepted the run, so every existing output agrees with
        it; the earlier ``config.yaml`` is kept under ``configs/`` from its invocation.
        """
        if not self.is_main or not self.writable:
            return None
        self.path.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**6:06d}"
        kept = self.path / "configs" / f"{stamp}.yaml"
        write_text_atomic(kept, config_yaml)
        write_text_atomic(self.path / "config.yaml", config_yaml)
        return kept

    def open_log(self, logger: logging.Logger) -> None:
        """Copy ``logger``'s messages into ``train.log`` (appending; rank 0, writable)."""
        if not self.is_main or not self.writable:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.path / LOG_NAME, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        self._log_handler = handler

    def close_log(self, logger: logging.Logger) -> None:
        """Detach the file handler added by :meth:`open_log`."""
        if self._log_handler is not None:
            logger.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """Write ``summary.json`` (rank 0, when writable)."""
        if self.is_main and self.writable:
            write_json_atomic(self.path / "summary.json",
                              {"schema": SUMMARY_SCHEMA, "written_at": _utc(), **summary})
