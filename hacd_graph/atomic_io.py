"""Atomic file writes: to a temporary file in the same folder, then ``os.replace``.

A run killed mid-write leaves the previous file intact (or no file), never a torn one.
Every part of the library that writes results goes through these (``hacd_graph.ach``
keeps its own, since it imports nothing from the package).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a fresh temporary path beside ``path``, then move it into place.

    The file ends up readable by everyone (``0o644``), like a file written directly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (NaN and infinities become ``null``)."""
    write_text_atomic(path, json.dumps(_finite(obj), indent=2, allow_nan=False) + "\n")


def save_torch_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save(obj, path)`` atomically."""
    import torch

    atomic_write(path, lambda tmp: torch.save(obj, tmp))
