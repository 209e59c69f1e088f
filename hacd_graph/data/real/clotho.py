"""Clotho: caption CSVs (``file_name,caption_1..caption_5``) and the audio folder of the
split (``development/``, ``evaluation/``). Clotho has captions and no class labels, so
clips carry empty label lists.
"""

from __future__ import annotations

import csv
from pathlib import Path

from hacd_graph.data.audio_io import SkipReport
from hacd_graph.data.real.clips import RealClip, missing, usable


def load_clotho(
    captions_csv: str | Path,
    audio_dir: str | Path,
    skip_missing: bool = False,
    split: str = "",
    check_audio: str = "full",
) -> tuple[list[RealClip], SkipReport]:
    """Clotho clips with their five captions.

    Args:
        captions_csv: ``clotho_captions_development.csv`` (or evaluation/validation).
        audio_dir: the folder of that split's audio files (named as ``file_name``).
        skip_missing: skip (and count, by reason) clips whose audio is missing
            or bad instead of raising.
        check_audio: ``"full"`` (decode each file), ``"header"`` or ``"none"``.
        split: split name recorded on each clip.

    Returns:
        (clips, report of skipped clips).
    """
    path = Path(captions_csv)
    if not path.exists():
        raise FileNotFoundError(f"Clotho captions file {path} does not exist")
    report = SkipReport()
    clips = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        cols = [c for c in reader.fieldnames or [] if c.startswith("caption_")]
        if "file_name" not in (reader.fieldnames or []) or not cols:
            raise ValueError(
                f"{path}: expected file_name,caption_1..caption_5; got {reader.fieldnames}"
            )
        for number, row in enumerate(reader, start=2):
            audio = Path(audio_dir) / row["file_name"]
            if not audio.exists():
                missing(report, audio, f"{path}:{number}", skip_missing)
                continue
            if not usable(report, audio, f"{path}:{number}", skip_missing, check_audio):
                continue
            caps = [row[c].strip() for c in cols if row.get(c, "").strip()]
            clips.append(
                RealClip(
                    id=row["file_name"],
                    audio=str(audio),
                    labels=[],
                    captions=caps,
                    dataset="clotho",
                    split=split,
                )
            )
    return clips, report
