"""What every real-data loader returns: ``RealClip`` records (audio path, ACH labels closed
under ancestors, captions), plus finding audio files and writing a manifest.

Users bring their own audio; loaders read the official metadata formats and look the
clips up in a local folder. Each file found is checked (``check_audio``: ``"full"`` decodes
it, ``"header"`` reads its header only, ``"none"`` trusts it). A clip whose file is missing
raises ``FileNotFoundError`` and one whose file is empty, not audio, truncated, corrupt or
holds NaN samples raises ``AudioReadError``, both naming the file and the metadata row; with
``skip_missing=True`` the clip is skipped instead and counted by reason in the
``SkipReport`` the loader returns. Labels are never guessed: a class that maps to no concept
is reported, and caption-only datasets (Clotho, AudioCaps without AudioSet segments) carry
empty label lists.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hacd_graph.atomic_io import write_bytes_atomic
from hacd_graph.data.audio_io import AudioReadError, SkipReport, check_audio

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
AUDIO_CHECKS = ("full", "header", "none")


@dataclass
class RealClip:
    """One clip of a real dataset.

    Args:
        id: the dataset's clip id (file name, YouTube id, ...).
        audio: path of the audio file.
        labels: ACH concept ids, closed under ancestors (empty if the dataset has none).
        captions: the dataset's captions (empty if none).
        dataset: ``"audioset"``, ``"fsd50k"``, ``"esc50"``, ``"clotho"`` or ``"audiocaps"``.
        split: the dataset's split or fold name.
        source_labels: the dataset's own labels (MIDs or class names), for reference.
        start_s, end_s: the segment within the file's source video, when the dataset says.
    """

    id: str
    audio: str
    labels: list[str]
    captions: list[str] = field(default_factory=list)
    dataset: str = ""
    split: str = ""
    source_labels: list[str] = field(default_factory=list)
    start_s: float | None = None
    end_s: float | None = None

    def manifest_entry(self) -> dict[str, Any]:
        """The clip as a manifest entry readable by ``ManifestDataset``."""
        entry = asdict(self)
        entry["caption"] = self.captions[0] if self.captions else ""
        return entry


class AudioIndex:
    """The audio files under a folder, found by stem (``name`` without extension).

    Args:
        root: folder searched recursively for ``AUDIO_EXTENSIONS`` files.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"audio folder {self.root} does not exist")
        self.by_stem: dict[str, Path] = {}
        for p in sorted(self.root.rglob("*")):
            if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file():
                self.by_stem.setdefault(p.stem, p)

    def find(self, stems: Iterable[str]) -> Path | None:
        """The first file whose stem is in ``stems`` (in order), or ``None``."""
        for s in stems:
            if s in self.by_stem:
                return self.by_stem[s]
        return None


def missing(report: SkipReport | None, path: str | Path, where: str, skip_missing: bool) -> None:
    """Raise for a missing clip, or count it when skipping."""
    err = AudioReadError(path, "missing", where)
    if not skip_missing:
        raise FileNotFoundError(str(err))
    if report is not None:
        report.add(err)


def usable(report: SkipReport, path: str | Path, where: str, skip_bad: bool,
           check: str = "full") -> bool:
    """Whether the audio file of a clip can be used; a bad one raises or is counted.

    Args:
        report: where a skipped file is counted (by reason).
        path: the clip's audio file.
        where: the metadata row that lists it (``"esc50.csv:12"``).
        skip_bad: count and skip a bad file instead of raising.
        check: ``"full"``, ``"header"`` or ``"none"`` (see the module docstring).

    Raises:
        AudioReadError: naming the file, why it is bad and the row (unless ``skip_bad``).
    """
    if check not in AUDIO_CHECKS:
        raise ValueError(f"check_audio={check!r}; expected one of {AUDIO_CHECKS}")
    if check == "none":
        return True
    error = check_audio(path, full=check == "full")
    if error is None:
        return True
    if not skip_bad:
        raise AudioReadError(path, error.reason, f"{error.detail}; listed at {where}; "
                             "--skip-bad (skip_missing=True) skips and counts bad files")
    report.add(error)
    return False


def read_csv_rows(path: Path, need: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` of a CSV file with a header (the first row is line 2).

    Raises:
        ValueError: the header lacks one of the ``need`` columns, or a row is short of
            one (names the file and line).
    """
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        lacking = sorted(need - set(reader.fieldnames or []))
        if lacking:
            raise ValueError(f"{path}: no column {', '.join(map(repr, lacking))}; expected "
                             f"columns {', '.join(sorted(need))}, got "
                             f"{', '.join(reader.fieldnames or []) or 'an empty file'}")
        for number, row in enumerate(reader, start=2):
            short = sorted(k for k in need if row.get(k) is None)
            if short:
                raise ValueError(f"{path}:{number}: row has no value for {', '.join(short)}")
            yield number, row


def concepts_for_mids(resolver: Any, mids: Iterable[str], report: SkipReport) -> set[int]:
    """The concept indices that AudioSet ``mids`` map to through ``resolver`` (an
    :class:`hacd_graph.ach.vocabulary.MidResolver`); each MID that maps to nothing is counted
    in ``report`` as ``unmapped_label``, never dropped silently."""
    concepts: set[int] = set()
    for mid in mids:
        found, _ = resolver.resolve(mid)
        if not found:
            report.counts["unmapped_label"] += 1
        concepts.update(found)
    return concepts


def write_manifest(clips: Iterable[RealClip], path: str | Path) -> Path:
    """Write clips as ``manifest.jsonl`` (atomically); audio paths are kept as given."""
    text = "".join(json.dumps(c.manifest_entry()) + "\n" for c in clips)
    path = Path(path)
    write_bytes_atomic(path, text.encode("utf-8"))
    return path
