"""Instrument clips from the sampled-instrument packages.

- ``timgm6mb-soundfont`` (a SoundFont): each General MIDI program is rendered note by note
  with FluidSynth (``fluidsynth -F``) from a small MIDI file this module writes: several
  pitches, two velocities and two durations per program, one note at a time with a gap for
  the release; drum notes likewise on channel 10. Each note becomes one clip, named
  ``gm/program-PPP/nNN-vVVV-dD.D`` (or ``gm/drum-NN/...``) so the rules can match it.
- ``freepats`` (Gravis UltraSound ``.pat`` patches, which FluidSynth does not read): the
  recorded samples inside each patch are read directly, one clip per sample at its own
  pitch and rate (loops are played once).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

_TICKS = 480  # per quarter note; at 120 bpm one tick is 1/960 s
_TEMPO_US = 500_000
VELOCITIES = (64, 112)
DURATIONS = (0.5, 1.5)
RELEASE_S = 0.8


@dataclass(frozen=True)
class Note:
    """One note to render: where it lies in the rendered file and its clip name."""

    name: str
    key: int
    velocity: int
    start_s: float
    duration_s: float


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_bytes(program: int | None, notes: list[Note]) -> bytes:
    """A format-0 MIDI file playing ``notes`` one after another (``program=None``: drums
    on channel 10)."""
    ch = 9 if program is None else 0
    events: list[tuple[int, bytes]] = [(0, b"\xff\x51\x03" + _TEMPO_US.to_bytes(3, "big"))]
    if program is not None:
        events.append((0, bytes([0xC0 | ch, program])))
    for n in notes:
        on = int(round(n.start_s * 960))
        off = int(round((n.start_s + n.duration_s) * 960))
        events.append((on, bytes([0x90 | ch, n.key, n.velocity])))
        events.append((off, bytes([0x80 | ch, n.key, 0])))
    end = max(t for t, _ in events) + int(RELEASE_S * 960)
    events.append((end, b"\xff\x2f\x00"))
    events.sort(key=lambda e: e[0])
    track, now = b"", 0
    for t, data in events:
        track += _varlen(t - now) + data
        now = t
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, _TICKS)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def program_keys(program: int) -> tuple[int, ...]:
    """Three MIDI keys in a program's comfortable range (low, middle, high)."""
    if 32 <= program <= 39 or program in (43, 58, 70):
        return (28, 36, 43)
    if program in (8, 9, 72, 73, 79, 112):
        return (72, 79, 86)
    return (48, 60, 72)


def note_plan(keys: tuple[int, ...], prefix: str) -> list[Note]:
    """Every key x velocity x duration, one after another with a release gap."""
    notes, t = [], 0.2
    for key in keys:
        for vel in VELOCITIES:
            for dur in DURATIONS:
                notes.append(Note(f"{prefix}/n{key:02d}-v{vel:03d}-d{dur:.1f}", key, vel, t, dur))
                t += dur + RELEASE_S + 0.2
    return notes


def render_soundfont(sf2: str | Path, programs: list[int], drums: list[int],
                     sample_rate: int = 16000) -> Iterator[tuple[str, np.ndarray, int]]:
    """Yield ``(virtual path, mono audio, rate)`` for each rendered note.

    Raises:
        RuntimeError: ``fluidsynth`` is not installed (one line saying how to get it).
    """
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RuntimeError("fluidsynth not found: install it (apt-get install fluidsynth) to "
                           "render timgm6mb-soundfont, or leave that package out (--skip)")
    jobs: list[tuple[int | None, list[Note]]] = [
        (p, note_plan(program_keys(p), f"gm/program-{p:03d}")) for p in programs]
    jobs += [(None, note_plan((d,), f"gm/drum-{d:02d}")) for d in drums]
    with tempfile.TemporaryDirectory(prefix="hacd-fluidsynth-") as tmp:
        for program, notes in jobs:
            mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
            mid.write_bytes(midi_bytes(program, notes))
            subprocess.run([exe, "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-F", str(wav),
                            str(sf2), str(mid)], check=True, capture_output=True)
            audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            mono = audio.mean(axis=1)
            for n in notes:
                a = int(n.start_s * sr)
                b = int((n.start_s + n.duration_s + RELEASE_S) * sr)
                yield n.name, mono[a:b].copy(), sr


def gus_patch_samples(path: str | Path) -> list[tuple[np.ndarray, int, float]]:
    """The samples of a Gravis UltraSound patch: ``(mono float32, rate, root Hz)`` each.

    Layout (GF1PATCH110): 129-byte header, 63-byte instrument, 47-byte layer, then per
    sample a 96-byte header followed by its data (8/16-bit, signed/unsigned per ``modes``).
    """
    data = Path(path).read_bytes()
    if not data.startswith(b"GF1PATCH"):
        raise ValueError(f"{path}: not a GUS patch")
    pos = 129 + 63
    num_samples = data[pos + 6]
    pos += 47
    out = []
    for _ in range(num_samples):
        hdr = data[pos : pos + 96]
        size = struct.unpack_from("<I", hdr, 8)[0]
        rate = struct.unpack_from("<H", hdr, 20)[0]
        root = struct.unpack_from("<I", hdr, 30)[0] / 1000.0
        modes = hdr[55]
        raw = data[pos + 96 : pos + 96 + size]
        pos += 96 + size
        if modes & 1:
            x = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2" if modes & 2 else "<i2")
            x = x.astype(np.float32) - (32768.0 if modes & 2 else 0.0)
            x /= 32768.0
        else:
            x = np.frombuffer(raw, dtype=np.uint8 if modes & 2 else np.int8).astype(np.float32)
            x = (x - (128.0 if modes & 2 else 0.0)) / 128.0
        if rate > 0 and x.size:
            out.append((x, int(rate), root))
    return out
