"""FSD50K: ground-truth CSVs (``dev.csv``: ``fname,labels,mids,split``; ``eval.csv``:
``fname,labels,mids``) and the clip folders ``FSD50K.dev_audio`` / ``FSD50K.eval_audio``
(``<fname>.wav``). Labels come from the ``mids`` column, resolved on the hierarchy.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hacd_graph.data.audio_io import SkipReport
from hacd_graph.data.real.clips import (
    AudioIndex,
    RealClip,
    concepts_for_mids,
    missing,
    read_csv_rows,
    usable,
)

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy


def load_fsd50k(
    ground_truth_csv: str | Path,
    audio_dir: str | Path,
    ach: ConceptHierarchy,
    ontology: str | Path | None = None,
    skip_missing: bool = False,
    split: str | None = None,
    check_audio: str = "full",
) -> tuple[list[RealClip], SkipReport]:
    """FSD50K clips with ACH labels closed under ancestors.

    Args:
        ground_truth_csv: ``FSD50K.ground_truth/dev.csv`` or ``eval.csv``.
        audio_dir: ``FSD50K.dev_audio`` or ``FSD50K.eval_audio``.
        ach: the hierarchy.
        ontology: AudioSet ``ontology.json`` (MIDs without a concept map to their nearest
            mapped ancestor).
        skip_missing: skip (and count, by reason) clips whose audio is missing
            or bad instead of raising.
        check_audio: ``"full"`` (decode each file), ``"header"`` or ``"none"``.
        split: keep only rows of this ``split`` (``"train"``/``"val"`` in ``dev.csv``).

    Returns:
        (clips, report of skipped clips and unmapped MIDs).
    """
    from hacd_graph.ach.labels import close_ids
    from hacd_graph.ach.vocabulary import MidResolver

    path = Path(ground_truth_csv)
    if not path.exists():
        raise FileNotFoundError(f"FSD50K ground-truth file {path} does not exist")
    resolver = MidResolver(ach, ontology)
    index = AudioIndex(audio_dir)
    report = SkipReport()
    clips = []
    for number, row in read_csv_rows(path, {"fname", "labels", "mids"}):
        row_split = row.get("split") or ("eval" if "split" not in row else "")
        if split is not None and row_split != split:
            continue
        audio = index.find([row["fname"]])
        if audio is None:
            missing(
                report,
                Path(audio_dir) / f"{row['fname']}.wav",
                f"{path}:{number}",
                skip_missing,
            )
            continue
        if not usable(report, audio, f"{path}:{number}", skip_missing, check_audio):
            continue
        mids = [m for m in row["mids"].split(",") if m]
        concepts = concepts_for_mids(resolver, mids, report)
        clips.append(
            RealClip(
                id=row["fname"],
                audio=str(audio),
                labels=close_ids(ach, concepts),
                dataset="fsd50k",
                split=row_split,
                source_labels=row["labels"].split(","),
            )
        )
    return clips, report
