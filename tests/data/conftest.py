"""Fixtures of the data tests: the core hierarchy, a few generated clips (built once), and
short audio files for fixture folders named as real metadata says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hacd_graph.data.synth.scene import SceneConfig, generate


@pytest.fixture(scope="session")
def ach():
    from hacd_graph.ach import build_ach

    return build_ach()


@pytest.fixture(scope="session")
def jazz_cafe():
    """(audio, record) of the seed's jazz-cafe example, clip 0 of seed 0."""
    return generate(0, 0, SceneConfig(preset="jazz_cafe"))


@pytest.fixture(scope="session")
def scenes():
    """40 random scenes of seed 11: [(audio, record)]."""
    return [generate(11, i) for i in range(40)]


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


def write_bad_files(folder: Path, names: list[str]) -> None:
    """One good clip, then a truncated, an empty, a non-audio and a NaN file, in that
    order, named ``names``."""
    good, truncated, empty, text, nan = names
    write_tone(folder / good)
    data = write_tone(folder / truncated).read_bytes()
    (folder / truncated).write_bytes(data[: len(data) // 2])
    (folder / empty).write_bytes(b"")
    (folder / text).write_text("not audio at all\n")
    sf.write(folder / nan, np.array([0.0, np.nan, 0.1], dtype=np.float32), 8000, subtype="FLOAT")


@pytest.fixture
def bad_files_writer():
    return write_bad_files
