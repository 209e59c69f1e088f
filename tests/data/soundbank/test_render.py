"""Instrument rendering: the MIDI writer and the GUS patch reader (FluidSynth itself only
where it and a SoundFont are installed)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from hacd_graph.data.soundbank import render


def test_midi_file_structure():
    notes = render.note_plan((60,), "gm/program-000")
    data = render.midi_bytes(0, notes)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert struct.unpack(">I", data[18:22])[0] == len(data) - 22
    assert data.count(bytes([0x90, 60])) == len(notes) == 4  # 2 velocities x 2 durations
    assert data.endswith(b"\xff\x2f\x00")


def _gus_patch(samples: list[np.ndarray], rate: int = 22050) -> bytes:
    out = b"GF1PATCH110\x00ID#000002\x00".ljust(129, b"\x00")
    out += b"\x00" * 63
    layer = bytearray(47)
    layer[6] = len(samples)
    out += bytes(layer)
    for s in samples:
        pcm = (s * 32767).astype("<i2").tobytes()
        hdr = bytearray(96)
        struct.pack_into("<I", hdr, 8, len(pcm))
        struct.pack_into("<H", hdr, 20, rate)
        struct.pack_into("<I", hdr, 30, 261626)
        hdr[55] = 1  # 16-bit signed
        out += bytes(hdr) + pcm
    return out


def test_gus_patch_reader(tmp_path: Path):
    a = np.sin(np.linspace(0, 50, 2000)).astype(np.float32) * 0.5
    b = -a[:1000]
    p = tmp_path / "000_Piano.pat"
    p.write_bytes(_gus_patch([a, b]))
    got = render.gus_patch_samples(p)
    assert [x.size for x, _, _ in got] == [2000, 1000]
    assert got[0][1] == 22050 and abs(got[0][2] - 261.626) < 1e-3
    np.testing.assert_allclose(got[0][0], a, atol=1e-4)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_fluidsynth_renders_notes():
    sf2 = next(iter(Path("/usr/share/sounds/sf2").glob("*.sf2")), None)
    if sf2 is None:
        pytest.skip("no SoundFont installed")
    clips = list(render.render_soundfont(sf2, [0], []))
    assert len(clips) == 12 and all(c[0].startswith("gm/program-000/") for c in clips)
    assert all(np.abs(a).max() > 1e-3 for _, a, _ in clips)
