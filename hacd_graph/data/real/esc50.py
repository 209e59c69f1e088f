"""ESC-50: ``meta/esc50.csv`` (``filename,fold,target,category,esc10,src_file,take``) and
``audio/<filename>``; the 50 classes map to ACH concepts through the hierarchy's ESC-50
vocabulary mapping.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from hacd_graph.data.audio_io import SkipReport
from hacd_graph.data.real.clips import RealClip, missing

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy


def load_esc50(
    root: str | Path,
    ach: ConceptHierarchy,
    folds: tuple[int, ...] | None = None,
    ontology: str | Path | None = None,
    skip_missing: bool = False,
) -> tuple[list[RealClip], SkipReport]:
    """ESC-50 clips with ACH labels closed under ancestors.

    Args:
        root: the ESC-50 folder (holding ``meta/esc50.csv`` and ``audio/``).
        ach: the hierarchy.
        folds: keep only these folds (1–5; default all).
        ontology: AudioSet ``ontology.json`` for classes without a curated concept.
        skip_missing: skip (and count) clips whose audio is missing instead of raising.

    Returns:
        (clips, report of skipped clips).
    """
    from hacd_graph.ach.labels import close_ids
    from hacd_graph.ach.vocabulary import map_esc50_classes

    root = Path(root)
    meta = root / "meta" / "esc50.csv"
    if not meta.exists():
        raise FileNotFoundError(f"ESC-50 metadata {meta} does not exist")
    mapping = map_esc50_classes(ach, meta, ontology)
    by_target = {c.index: c for c in mapping.classes}
    report = SkipReport()
    clips = []
    with meta.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), start=2):
            fold = int(row["fold"])
            if folds is not None and fold not in folds:
                continue
            audio = root / "audio" / row["filename"]
            if not audio.exists():
                missing(report, audio, f"{meta}:{number}", skip_missing)
                continue
            cls = by_target[int(row["target"])]
            if not cls.concepts:
                report.counts["unmapped_label"] += 1
            clips.append(
                RealClip(
                    id=row["filename"],
                    audio=str(audio),
                    labels=close_ids(ach, cls.concepts),
                    dataset="esc50",
                    split=f"fold{fold}",
                    source_labels=[row["category"]],
                )
            )
    return clips, report
