"""How often the generator's sound sources co-occur in real recordings, measured from
AudioSet segment CSVs, so that scenes can be composed as real clips are.

A source key is present in an AudioSet clip when one of the clip's MIDs is a MID of the
source's concepts or of their descendants in the core hierarchy (e.g. "Police car
(siren)" counts as ``siren``). The lift of a pair is ``P(a, b) / (P(a) P(b))``: above 1 the
two occur together more often than by chance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from hacd_graph.data.synth.catalog import SOURCE_CONCEPTS

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy

MIN_CLIPS = 5  # a source seen in fewer clips has no reliable lift (treated as 1)
LIFT_RANGE = (0.25, 4.0)


@dataclass(frozen=True)
class Cooccurrence:
    """Pairwise lifts of source keys.

    Args:
        lift: ``{(a, b): lift}`` with ``a < b``.
        counts: clips containing each source.
        clips: clips measured.
    """

    lift: dict[tuple[str, str], float]
    counts: dict[str, int]
    clips: int

    def weight(self, a: str, b: str) -> float:
        """The lift of ``a`` and ``b`` clipped to ``LIFT_RANGE`` (1 when unknown or a == b)."""
        if a == b:
            return 1.0
        value = self.lift.get((a, b) if a < b else (b, a), 1.0)
        return min(max(value, LIFT_RANGE[0]), LIFT_RANGE[1])


def source_mids(ach: ConceptHierarchy) -> dict[str, set[str]]:
    """AudioSet MIDs standing for each source key: those of its concepts and their
    descendants, or, when there are none, of the nearest ancestor that has some."""
    out: dict[str, set[str]] = {}
    for key, concepts in SOURCE_CONCEPTS.items():
        mids: set[str] = set()
        for cid in concepts:
            i = ach.index(cid)
            for j in {i} | ach.descendants(i):
                mids.update(ach.concept(j).audioset)
            while not mids and ach.parents(i):  # e.g. gusty wind: use the nearest "wind"
                i = ach.parents(i)[0]
                mids.update(ach.concept(i).audioset)
        out[key] = mids
    return out


def measure(segments_csvs: list[str | Path], ach: ConceptHierarchy) -> Cooccurrence:
    """Count source co-occurrence over AudioSet segment CSVs (YTID, start, end, MIDs)."""
    from hacd_graph.data.real.audioset import read_segments

    by_mid: dict[str, set[str]] = {}
    for key, mids in source_mids(ach).items():
        for m in mids:
            by_mid.setdefault(m, set()).add(key)
    counts: Counter = Counter()
    pairs: Counter = Counter()
    clips = 0
    for path in segments_csvs:
        for _ytid, _start, _end, mids, _line in read_segments(path):
            clips += 1
            present = sorted({k for m in mids for k in by_mid.get(m, ())})
            counts.update(present)
            pairs.update(combinations(present, 2))
    if clips == 0:
        raise ValueError(f"no segments in {list(map(str, segments_csvs))}")
    # Smoothed lift (n + 1/2) / (E + 1/2), E = the count expected by chance: pairs never
    # seen together get a lift below 1 only when chance would have shown them.
    keys = sorted(k for k in SOURCE_CONCEPTS if counts[k] >= MIN_CLIPS)
    lift = {}
    for a, b in combinations(keys, 2):
        expected = counts[a] * counts[b] / clips
        lift[(a, b)] = (pairs[(a, b)] + 0.5) / (expected + 0.5)
    return Cooccurrence(lift, dict(counts), clips)


@lru_cache(maxsize=4)
def load_cooccurrence(segments_csvs: tuple[str, ...]) -> Cooccurrence:
    """``measure`` on the core hierarchy, cached per process (used by the scene sampler)."""
    from hacd_graph.ach import build_ach

    return measure(list(segments_csvs), build_ach())
