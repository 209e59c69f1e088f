"""The register of real audio captions, measured from AudioCaps / Clotho caption CSVs.

Captions made from scene records join their clauses with the connectors real captioners
use ("followed by", "as", "while", "and", "with ... in the background"), in about the same
proportions, and mirror their casing and final punctuation. ``CaptionRegister.from_csvs``
measures those proportions from files the user points at; the defaults were measured from
AudioCaps v1 train (49,838 captions).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CONNECTORS = (
    "followed by",
    "while",
    "as",
    "and",
    "with",
    "then",
    "in the background",
    "nearby",
    "in the distance",
)
_PATTERNS = {c: re.compile(rf"\b{re.escape(c)}\b") for c in CONNECTORS}


@dataclass
class CaptionRegister:
    """Connector frequencies and surface style of a caption corpus.

    Args:
        connector_rate: fraction of captions using each connector.
        lowercase_rate: fraction of captions that start in lower case.
        period_rate: fraction of captions that end with a full stop.
        mean_words: mean caption length in words.
        captions: how many captions were measured.
    """

    connector_rate: dict[str, float] = field(
        default_factory=lambda: {
            "followed by": 0.149,
            "while": 0.077,
            "as": 0.100,
            "and": 0.487,
            "with": 0.126,
            "then": 0.104,
            "in the background": 0.066,
            "nearby": 0.036,
            "in the distance": 0.028,
        }
    )
    lowercase_rate: float = 0.0002
    period_rate: float = 0.004
    mean_words: float = 8.68
    captions: int = 0

    @classmethod
    def from_captions(cls, captions: Iterable[str]) -> CaptionRegister:
        """Measure a register from caption strings."""
        counts = dict.fromkeys(CONNECTORS, 0)
        total = lower = period = words = 0
        for cap in captions:
            cap = cap.strip()
            if not cap:
                continue
            total += 1
            lower += cap[0].islower()
            period += cap.endswith(".")
            words += len(cap.split())
            low = cap.lower()
            for c, pat in _PATTERNS.items():
                counts[c] += bool(pat.search(low))
        if total == 0:
            raise ValueError("no captions to measure a register from")
        return cls(
            {c: k / total for c, k in counts.items()},
            lower / total,
            period / total,
            words / total,
            total,
        )

    @classmethod
    def from_csvs(cls, paths: Iterable[str | Path]) -> CaptionRegister:
        """Measure a register from AudioCaps (``caption`` column) or Clotho (``caption_1..5``) CSVs.

        Raises:
            FileNotFoundError: naming a missing file.
            ValueError: naming a file without a caption column.
        """
        caps: list[str] = []
        for path in paths:
            path = Path(path)
            if not path.exists():
                raise FileNotFoundError(f"caption file {path} does not exist")
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                cols = [
                    c for c in reader.fieldnames or [] if c == "caption" or c.startswith("caption_")
                ]
                if not cols:
                    raise ValueError(
                        f"{path}: no 'caption' or 'caption_N' column in {reader.fieldnames}"
                    )
                for row in reader:
                    caps.extend(row[c] for c in cols if row.get(c))
        return cls.from_captions(caps)
