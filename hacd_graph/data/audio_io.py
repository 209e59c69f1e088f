"""Reading audio files with soundfile: resampling, mono mix-down, pad/crop, and clear
errors for bad files (or skipping them, counted in a report).

WAV, FLAC, OGG/Vorbis and MP3 (where the installed libsndfile reads it) are supported.
``torchaudio.load`` is not used: it needs torchcodec, which this environment lacks.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from hacd_graph.errors import UserError

CROP_MODES = ("start", "center", "random")
# Why a file is skipped. Counts of other things a loader notes (labels that map to no
# concept, clips without labels) live in the same report but are not bad files.
FILE_REASONS = ("missing", "empty", "not_audio", "truncated", "corrupt", "non_finite")
# First bytes of the containers libsndfile reads (WAV, RF64, FLAC, Ogg, AIFF, MP3 with ID3).
AUDIO_SIGNATURES = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"FORM", b"ID3")


class AudioReadError(UserError):
    """An audio file that cannot be used; the message names the file and the reason.

    Attributes:
        path: the file. reason: one of :data:`FILE_REASONS` (``"not_audio"``: no audio
        container starts the file; ``"corrupt"``: one does, but it cannot be decoded).
    """

    def __init__(self, path: str | Path, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason} audio file" + (f" ({detail})" if detail else ""))


@dataclass
class SkipReport:
    """Bad files skipped instead of raised: counts by reason and the files themselves.

    ``counts`` may also hold a loader's notes that are not files (``unmapped_label``,
    ``no_labels``); :meth:`summary` reports them apart from the skipped files.
    """

    counts: Counter = field(default_factory=Counter)
    files: list[tuple[str, str]] = field(default_factory=list)

    def add(self, err: AudioReadError) -> None:
        """Record one skipped file."""
        self.counts[err.reason] += 1
        self.files.append((err.path, err.reason))

    @property
    def total(self) -> int:
        """Number of skipped files."""
        return sum(v for k, v in self.counts.items() if k in FILE_REASONS)

    def summary(self) -> str:
        """One line: ``skipped 3 bad audio files: missing 2, corrupt 1``, then the notes
        (``; noted: unmapped_label 4``)."""
        files = sorted((k, v) for k, v in self.counts.items() if k in FILE_REASONS and v)
        notes = sorted((k, v) for k, v in self.counts.items() if k not in FILE_REASONS and v)
        text = f"skipped {self.total} bad audio files"
        if files:
            text += ": " + ", ".join(f"{k} {v}" for k, v in files)
        if notes:
            text += "; noted: " + ", ".join(f"{k} {v}" for k, v in notes)
        return text


def _wav_declared_bytes(path: Path) -> tuple[int, int] | None:
    """(declared size of the WAV ``data`` chunk, bytes actually present), or None if not RIFF."""
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return None
        if head[:4] == b"RF64":
            return None  # 64-bit sizes live in a ds64 chunk; trust libsndfile
        pos = 12
        size = path.stat().st_size
        while pos + 8 <= size:
            f.seek(pos)
            chunk, length = struct.unpack("<4sI", f.read(8))
            if chunk == b"data":
                return length, size - pos - 8
            pos += 8 + length + (length & 1)
    return None


def check_header(path: str | Path) -> Any:
    """Check a file's header without decoding its samples; return libsndfile's info.

    Raises:
        AudioReadError: missing, empty (0 bytes or 0 frames), not audio, truncated (a WAV
            whose data chunk is shorter than declared) or corrupt header.
    """
    p = Path(path)
    if not p.is_file():
        raise AudioReadError(p, "missing", "no such file")
    if p.stat().st_size == 0:
        raise AudioReadError(p, "empty", "0 bytes")
    with p.open("rb") as f:
        head = f.read(4)
    if not head.startswith(AUDIO_SIGNATURES) and not (head[:1] == b"\xff"
                                                      and head[1:2] >= b"\xe0"):
        raise AudioReadError(p, "not_audio", f"starts with {head!r}, no audio container")
    declared = _wav_declared_bytes(p)
    if declared is not None and declared[1] < declared[0]:
        raise AudioReadError(
            p, "truncated", f"data chunk declares {declared[0]} bytes, {declared[1]} present"
        )
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise AudioReadError(p, "corrupt", str(e).replace(str(p), "").strip(" :'")) from e
    if info.frames == 0:
        raise AudioReadError(p, "empty", "0 samples")
    return info


def check_audio(path: str | Path, full: bool = True) -> AudioReadError | None:
    """What is wrong with an audio file, or ``None`` when it can be used.

    Args:
        path: the file.
        full: decode the samples too (finds NaN/infinite samples and truncated compressed
            files); ``False`` checks the header only (:func:`check_header`).
    """
    try:
        if full:
            read_audio(path)
        else:
            check_header(path)
    except AudioReadError as error:
        return error
    return None


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a whole file as float32 ``[S, C]`` and its rate, checking it is sound.

    Raises:
        AudioReadError: missing, empty, not audio, truncated, corrupt or non-finite file
            (names the file).
    """
    p = Path(path)
    info = check_header(p)
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise AudioReadError(p, "corrupt", str(e).replace(str(p), "").strip(" :'")) from e
    if data.shape[0] == 0:
        raise AudioReadError(p, "empty", "0 samples")
    if info.frames > 0 and data.shape[0] < info.frames and info.format != "WAV":
        raise AudioReadError(
            p, "truncated", f"header says {info.frames} frames, read {data.shape[0]}"
        )
    if not np.isfinite(data).all():
        raise AudioReadError(p, "non_finite", "NaN or infinite samples")
    return data, int(sr)


def fit_to_length(
    wave: torch.Tensor,
    num_samples: int,
    crop: str = "start",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Crop (``"start"``, ``"center"`` or ``"random"``) or zero-pad ``[S]`` to ``num_samples``."""
    if crop not in CROP_MODES:
        raise ValueError(f"crop must be one of {CROP_MODES}, got {crop!r}")
    s = wave.shape[-1]
    if s < num_samples:
        return torch.nn.functional.pad(wave, (0, num_samples - s))
    if s == num_samples:
        return wave
    if crop == "start":
        start = 0
    elif crop == "center":
        start = (s - num_samples) // 2
    else:
        start = int(torch.randint(0, s - num_samples + 1, (1,), generator=generator))
    return wave[start : start + num_samples]


def load_audio(
    path: str | Path,
    sample_rate: int = 16000,
    num_samples: int | None = None,
    crop: str = "start",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Read ``path`` as a mono float32 waveform at ``sample_rate``.

    Args:
        path: the file.
        sample_rate: target rate in Hz; other rates are resampled (torchaudio, band-limited sinc).
        num_samples: pad with zeros or crop to this length (``None`` keeps the length).
        crop: where to crop a long file: ``"start"``, ``"center"`` or ``"random"``.
        generator: random source for ``crop="random"``.

    Returns:
        ``[S]`` float32 tensor.

    Raises:
        AudioReadError: naming the file, for a missing, empty, truncated, corrupt or NaN file.
    """
    data, sr = read_audio(path)
    wave = torch.from_numpy(data.mean(axis=1))
    if sr != sample_rate:
        import torchaudio.functional as AF

        wave = AF.resample(wave, sr, sample_rate)
    if num_samples is not None:
        wave = fit_to_length(wave, num_samples, crop, generator)
    return wave.contiguous()
