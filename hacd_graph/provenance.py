"""Which code produced a figure: the checkout's git revision (nothing heavy is imported, so
benchmarks and start-up measurements can call it freely)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_revision(cwd: str | Path | None = None) -> str | None:
    """The checkout's short revision (``+dirty`` when tracked files changed), or ``None``
    outside a git checkout.

    Args:
        cwd: a folder inside the checkout (default: this package's, which an editable or
            source install keeps inside the repository).
    """
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty else "")
