"""The bank as the scene generator reads it: clips of chosen packages, drawn at random.

``load_bank(folder, packages)`` is cached per process (like the co-occurrence table), so
generating many scenes reads the manifest once; each drawn recording is read from disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BankIndex:
    """The bank clips a scene may draw from.

    Args:
        root: the bank folder.
        entries: the manifest entries of the allowed packages (``source_package`` in
            ``packages``; all when ``packages`` is empty).
    """

    root: Path
    entries: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.entries)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """A clip's manifest entry, uniformly at random."""
        return self.entries[int(rng.integers(len(self.entries)))]

    def audio(self, entry: dict[str, Any], sample_rate: int) -> np.ndarray:
        """The clip's mono float32 samples at ``sample_rate``."""
        from hacd_graph.data.audio_io import load_audio

        return load_audio(self.root / entry["audio"], sample_rate).numpy()


@lru_cache(maxsize=8)
def load_bank(folder: str, packages: tuple[str, ...] = ()) -> BankIndex:
    """The bank at ``folder`` restricted to ``packages`` (empty: every package).

    Raises:
        FileNotFoundError: no manifest in ``folder`` (says how to build one).
        ValueError: no clip of the given packages.
    """
    from hacd_graph.data.export import read_manifest

    root = Path(folder)
    if not (root / "manifest.jsonl").exists():
        raise FileNotFoundError(f"no sound bank at {root} (build one with "
                                "'hacd-graph data soundbank --out DIR')")
    entries = [e for e in read_manifest(root)
               if not packages or e["source_package"] in packages]
    if not entries:
        raise ValueError(f"the bank at {root} has no clip of packages {list(packages)}")
    return BankIndex(root, tuple(entries))
