"""ESC-50: ``meta/esc50.csv`` (``filename,fold,target,category,esc10,src_file,take``) and
``audio/<filename>``; the 50 classes map to ACH concepts through the hierarchy's ESC-50
vocabulary mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hacd_graph.data.audio_io import SkipReport
from hacd_graph.data.real.clips import RealClip, missing, read_csv_rows, usable

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy

ESC50_COLUMNS = {"filename", "fold", "target", "category"}


def load_esc50(
    root: str | Path,
    ach: ConceptHierarchy,
    folds: tuple[int, ...] | None = None,
    ontology: str | Path | None = None,
    skip_missing: bool = False,
    check_audio: str = "full",
) -> tuple[list[RealClip], SkipReport]:
    """ESC-50 clips with ACH labels closed under ancestors.

    Args:
        root: the ESC-50 folder (holding ``meta/esc50.csv`` and ``audio/``).
        ach: the hierarchy.
        folds: keep only these folds (1–5; default all).
        ontology: AudioSet ``ontology.json`` for classes without a curated concept.
        skip_missing: skip (and count, by reason) clips whose audio is missing
            or bad instead of raising.
        check_audio: ``"full"`` (decode each file), ``"header"`` or ``"none"``.

    Returns:
        (clips, report of skipped clips).
    """
    from hacd_graph.ach.labels import close_ids
    from hacd_graph.ach.vocabulary import map_esc50_classes

    root = Path(root)
    meta = root / "meta" / "esc50.csv"
    if not meta.exists():
        raise FileNotFoundError(f"ESC-50 metadata {meta} does not exist")
    rows = list(read_csv_rows(meta, ESC50_COLUMNS))  # checks the header first
    mapping = map_esc50_classes(ach, meta, ontology)
    by_target = {c.index: c for c in mapping.classes}
    report = SkipReport()
    clips = []
    for number, row in rows:
        try:
            fold, target = int(row["fold"]), int(row["target"])
        except ValueError as error:
            raise ValueError(f"{meta}:{number}: fold and target must be integers, got "
                             f"{row['fold']!r}, {row['target']!r}") from error
        if folds is not None and fold not in folds:
            continue
        audio = root / "audio" / row["filename"]
        if not audio.exists():
            missing(report, audio, f"{meta}:{number}", skip_missing)
            continue
        if not usable(report, audio, f"{meta}:{number}", skip_missing, check_audio):
            continue
        cls = by_target[target]
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
