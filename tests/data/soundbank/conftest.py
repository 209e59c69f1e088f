"""A tiny bank made from a fake Debian package built in the test (no network)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def _tone(path: Path, freq: float, seconds: float, sr: int = 22050, noise: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    if noise:
        x = x + 0.1 * np.random.default_rng(0).standard_normal(t.size)
    sf.write(path, np.stack([x, x], axis=1).astype(np.float32), sr)


@pytest.fixture(scope="session")
def ach_audioset():
    from hacd_graph.ach import build_ach

    return build_ach(("core", "audioset"))


@pytest.fixture
def fake_debs(tmp_path: Path) -> Path:
    """A cache folder holding ``pingus-data_0.0-1_all.deb`` with: a chink (kept), the
    same chink again under another name (duplicate), a cartoon voice (excluded by rule) and
    a 23-second ``tick`` recording (cut into segments)."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not installed")
    root = tmp_path / "pkg"
    snd = root / "usr/share/games/pingus/data/sounds"
    _tone(snd / "chink.wav", 300, 0.5, noise=True)
    shutil.copy(snd / "chink.wav", snd / "chink2.wav")
    _tone(snd / "ohno.wav", 500, 0.4)
    _tone(snd / "tick.wav", 2000, 23.0, noise=True)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: pingus-data\nVersion: 0.0-1\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: fixture\n")
    cache = tmp_path / "debs"
    cache.mkdir()
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(root),
                    str(cache / "pingus-data_0.0-1_all.deb")], check=True, capture_output=True)
    return cache
