"""Helpers of the real-data tests: tiny fixture folders with generated audio, named as the
real metadata in ../shared/data/meta says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def write_tone(path: Path, seconds: float = 0.25, sr: int = 22050) -> Path:
    """A short stereo tone at ``sr`` (loaders must resample and mix down)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.stack([x, 0.5 * x], axis=1), sr)
    return path


@pytest.fixture
def tone_writer():
    return write_tone
