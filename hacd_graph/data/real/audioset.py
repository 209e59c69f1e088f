"""AudioSet: segment CSVs (``YTID, start_seconds, end_seconds, positive_labels``) and a
local folder of downloaded clips; labels are MIDs mapped to ACH concepts.

Accepted file names for a segment (any of ``.wav .flac .ogg .mp3``, searched recursively):
``Y<ytid>_<start>_<end>`` (the common downloader naming, times with 3 decimals),
``<ytid>_<start>_<end>``, ``<ytid>_<start>`` (integer or 3-decimal start), ``Y<ytid>``,
``<ytid>``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hacd_graph.data.audio_io import SkipReport
from hacd_graph.data.real.clips import (
    AudioIndex,
    RealClip,
    concepts_for_mids,
    missing,
    usable,
)

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy


def read_segments(path: str | Path) -> Iterator[tuple[str, float, float, list[str], int]]:
    """Rows of an AudioSet segments CSV: (ytid, start s, end s, MIDs, line number).

    Comment lines (``#``) are skipped; spaces after commas and quoted label lists are
    accepted, as in Google's files and their re-saved copies.

    Raises:
        FileNotFoundError / ValueError: naming the file (and line) that is missing or malformed.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"AudioSet segments file {path} does not exist")
    with path.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.reader(f, skipinitialspace=True), start=1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 4:
                raise ValueError(f"{path}:{number}: expected YTID,start,end,labels; got {row}")
            try:
                start, end = float(row[1]), float(row[2])
            except ValueError as e:
                raise ValueError(f"{path}:{number}: bad start/end times {row[1:3]}") from e
            mids = [m.strip() for m in ",".join(row[3:]).split(",") if m.strip()]
            yield row[0], start, end, mids, number


def segment_stems(ytid: str, start: float, end: float) -> list[str]:
    """File stems a downloaded segment may have (see the module docstring)."""
    return [
        f"Y{ytid}_{start:.3f}_{end:.3f}",
        f"{ytid}_{start:.3f}_{end:.3f}",
        f"{ytid}_{int(start)}",
        f"{ytid}_{start:.3f}",
        f"Y{ytid}",
        ytid,
    ]


def load_audioset(
    segments_csv: str | Path,
    audio_dir: str | Path,
    ach: ConceptHierarchy,
    ontology: str | Path | None = None,
    skip_missing: bool = False,
    split: str = "",
    check_audio: str = "full",
) -> tuple[list[RealClip], SkipReport]:
    """AudioSet clips with ACH labels (MIDs resolved on ``ach``, closed under ancestors).

    Args:
        segments_csv: ``eval_segments.csv``, ``balanced_train_segments.csv``, ...
        audio_dir: local folder of downloaded clips.
        ach: the hierarchy.
        ontology: AudioSet ``ontology.json``, so MIDs without a concept map to their nearest
            mapped AudioSet ancestor (without it such MIDs are reported unmapped).
        skip_missing: skip (and count, by reason) segments whose audio is missing
            or bad instead of raising.
        check_audio: ``"full"`` (decode each file), ``"header"`` or ``"none"``.
        split: split name recorded on each clip.

    Returns:
        (clips, report of skipped clips; ``report.counts["unmapped_label"]`` counts MIDs
        that map to no concept, which are left out of the labels).
    """
    from hacd_graph.ach.labels import close_ids
    from hacd_graph.ach.vocabulary import MidResolver

    resolver = MidResolver(ach, ontology)
    index = AudioIndex(audio_dir)
    report = SkipReport()
    clips = []
    for ytid, start, end, mids, number in read_segments(segments_csv):
        path = index.find(segment_stems(ytid, start, end))
        if path is None:
            missing(
                report,
                Path(audio_dir) / f"Y{ytid}_{start:.3f}_{end:.3f}.wav",
                f"{segments_csv}:{number}",
                skip_missing,
            )
            continue
        if not usable(report, path, f"{segments_csv}:{number}", skip_missing, check_audio):
            continue
        concepts = concepts_for_mids(resolver, mids, report)
        clips.append(
            RealClip(
                id=f"{ytid}_{start:g}",
                audio=str(path),
                labels=close_ids(ach, concepts),
                dataset="audioset",
                split=split,
                source_labels=mids,
                start_s=start,
                end_s=end,
            )
        )
    return clips, report
