"""AudioCaps: caption CSVs (``audiocap_id,youtube_id,start_time,caption``; several rows per
clip in val/test) and a local folder of the AudioSet clips they caption. Labels come from
AudioSet segment CSVs when given (AudioCaps clips are AudioSet segments), else are empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hacd_graph.data.audio_io import SkipReport
from hacd_graph.data.real.audioset import read_segments, segment_stems
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


def load_audiocaps(
    captions_csv: str | Path,
    audio_dir: str | Path,
    ach: ConceptHierarchy | None = None,
    segments_csvs: tuple[str | Path, ...] = (),
    ontology: str | Path | None = None,
    skip_missing: bool = False,
    split: str = "",
    check_audio: str = "full",
) -> tuple[list[RealClip], SkipReport]:
    """AudioCaps clips with all their captions (grouped by YouTube id and start time).

    Args:
        captions_csv: ``train.csv``, ``val.csv`` or ``test.csv``.
        audio_dir: local folder of the clips (AudioSet file naming, see ``real.audioset``).
        ach: the hierarchy; with ``segments_csvs`` gives AudioSet labels to the clips.
        segments_csvs: AudioSet segment CSVs to look the clips' labels up in.
        ontology: AudioSet ``ontology.json`` for MIDs without a concept.
        skip_missing: skip (and count, by reason) clips whose audio is missing
            or bad instead of raising.
        check_audio: ``"full"`` (decode each file), ``"header"`` or ``"none"``.
        split: split name recorded on each clip.

    Returns:
        (clips, report of skipped clips; a clip absent from ``segments_csvs`` gets empty
        labels and is counted as ``"no_labels"``; ``"unmapped_label"`` counts the loaded
        clips' MIDs that map to no concept, which are left out of their labels).
    """
    path = Path(captions_csv)
    if not path.exists():
        raise FileNotFoundError(f"AudioCaps captions file {path} does not exist")
    groups: dict[tuple[str, float], list[str]] = {}
    first_line: dict[tuple[str, float], int] = {}
    for number, row in read_csv_rows(path, {"youtube_id", "start_time", "caption"}):
        key = (row["youtube_id"], float(row["start_time"]))
        groups.setdefault(key, []).append(row["caption"].strip())
        first_line.setdefault(key, number)
    mids_of: dict[tuple[str, float], list[str]] = {}
    if segments_csvs:
        if ach is None:
            raise ValueError("segments_csvs need the hierarchy (ach) to map their labels")
        from hacd_graph.ach.labels import close_ids
        from hacd_graph.ach.vocabulary import MidResolver

        resolver = MidResolver(ach, ontology)
        for seg in segments_csvs:
            for ytid, start, _end, mids, _ in read_segments(seg):
                mids_of[(ytid, start)] = mids
    index = AudioIndex(audio_dir)
    report = SkipReport()
    clips = []
    for (ytid, start), caps in groups.items():
        audio = index.find(segment_stems(ytid, start, start + 10.0))
        if audio is None:
            missing(
                report,
                Path(audio_dir) / f"Y{ytid}_{start:.3f}_{start + 10:.3f}.wav",
                f"{path}:{first_line[(ytid, start)]}",
                skip_missing,
            )
            continue
        where = f"{path}:{first_line[(ytid, start)]}"
        if not usable(report, audio, where, skip_missing, check_audio):
            continue
        mids = mids_of.get((ytid, start), [])
        labels = close_ids(ach, concepts_for_mids(resolver, mids, report)) if mids else []
        if segments_csvs and not labels:
            report.counts["no_labels"] += 1
        clips.append(
            RealClip(
                id=f"{ytid}_{start:g}",
                audio=str(audio),
                labels=labels,
                captions=caps,
                dataset="audiocaps",
                split=split,
                start_s=start,
                end_s=start + 10.0,
            )
        )
    return clips, report
