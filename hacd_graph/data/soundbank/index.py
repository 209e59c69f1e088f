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
        weights: draw probability of each entry (uniform, or balanced by rule).
    """

    root: Path
    entries: tuple[dict[str, Any], ...]
    weights: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """A clip's manifest entry, drawn with ``weights`` (uniform when empty)."""
        if not self.weights:
            return self.entries[int(rng.integers(len(self.entries)))]
        return self.entries[int(rng.choice(len(self.entries), p=np.asarray(self.weights)))]

    def audio(self, entry: dict[str, Any], sample_rate: int) -> np.ndarray:
        """The clip's mono float32 samples at ``sample_rate``."""
        from hacd_graph.data.audio_io import load_audio

        return load_audio(self.root / entry["audio"], sample_rate).numpy()


@lru_cache(maxsize=8)
def load_bank(folder: str, packages: tuple[str, ...] = (), balance: bool = False) -> BankIndex:
    """The bank at ``folder`` restricted to ``packages`` (empty: every package).

    With ``balance``, every labelling rule (package and rule line) is drawn equally often,
    its clips uniformly within it; otherwise every clip is (and the 1,735 instrument notes
    of the two instrument packages would make up most draws).

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
    if not balance:
        return BankIndex(root, tuple(entries))
    from collections import Counter

    def rule(e: dict[str, Any]) -> tuple[str, Any]:
        return e["source_package"], e.get("rule")

    count = Counter(rule(e) for e in entries)
    w = np.array([1.0 / count[rule(e)] for e in entries])
    return BankIndex(root, tuple(entries), tuple((w / w.sum()).tolist()))
