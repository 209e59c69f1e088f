"""Fingerprints of a stage's settings and inputs, and the differences between two of them.

A stage's fingerprint is the SHA-256 of its name, its code version, the settings it reads
(plain JSON: dicts, lists, numbers, strings) and the fingerprints of the stages it reads
from. Two runs with the same fingerprint produce outputs that mean the same thing, so a
finished stage may be skipped and an unfinished one resumed; any other difference shows
up in :func:`settings_diff`, which names each changed key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def fingerprint(stage: str, version: int, settings: Mapping[str, Any],
                inputs: Mapping[str, str]) -> str:
    """Hex digest (16 characters) of a stage's identity.

    Args:
        stage: the stage's name.
        version: the stage's code version (bumped when its outputs change meaning).
        settings: the JSON-serialisable settings the stage reads.
        inputs: ``{upstream stage: its fingerprint}``.
    """
    blob = json.dumps({"stage": stage, "version": version, "settings": settings,
                       "inputs": dict(inputs)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def flatten(settings: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(settings, Mapping):
        return {prefix: settings}
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def settings_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Each changed key as ``"key: old -> new"`` (``<unset>`` where a key is missing)."""
    a, b = flatten(old), flatten(new)
    missing = "<unset>"
    return [f"{key}: {a.get(key, missing)} -> {b.get(key, missing)}"
            for key in sorted(set(a) | set(b)) if a.get(key, missing) != b.get(key, missing)]


def file_digest(path: str | Path) -> str:
    """SHA-256 (16 hex characters) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]

