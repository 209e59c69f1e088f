"""Pitched instruments: one note of piano, guitars (Karplus–Strong), basses, organ, bowed
strings, brass, saxophone, flute, bells and synthesizer.

A note of an instrument at a MIDI pitch is rendered once per process into a cached table
(deterministic: its noise comes from a generator seeded by the arguments) and then
cropped to the note's length with a release fade, so a fast arpeggio costs array copies.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hacd_graph.data.synth import dsp

# Instrument -> (lowest, highest) MIDI pitch it plays, longest note (s), sustained?
RANGES: dict[str, tuple[int, int, float, bool]] = {
    "piano": (28, 100, 2.5, False),
    "acoustic_guitar": (40, 84, 2.0, False),
    "electric_guitar": (40, 88, 2.0, False),
    "double_bass": (28, 60, 1.5, False),
    "electric_bass": (28, 60, 1.5, False),
    "organ": (36, 96, 2.0, True),
    "violin": (55, 100, 2.0, True),
    "cello": (36, 76, 2.0, True),
    "trumpet": (54, 86, 2.0, True),
    "trombone": (40, 72, 2.0, True),
    "saxophone": (49, 81, 2.0, True),
    "flute": (60, 96, 2.0, True),
    "bells": (60, 100, 2.5, False),
    "synthesizer": (24, 96, 2.0, True),
}


def karplus_strong(
    freq: float, n: int, sr: int, rng: np.random.Generator, damping: float, brightness: float
) -> np.ndarray:
    """Plucked string by Karplus–Strong, computed one period at a time (vectorised).

    ``y[t] = x[t] + damping * (y[t-P] + y[t-P-1]) / 2`` with period ``P = sr / freq``; each
    block of P samples depends only on the previous block, so a block is one numpy op.
    ``brightness`` in (0, 1] low-passes the initial noise burst (a softer pluck).
    """
    p = max(2, int(round(sr / freq)))
    burst = rng.uniform(-1.0, 1.0, p).astype(np.float32)
    if brightness < 1.0:
        burst = dsp.one_pole_lowpass(burst, sr, 500.0 + brightness * 7000.0)
    blocks = int(np.ceil(n / p)) + 1
    out = np.zeros(blocks * p + 1, dtype=np.float32)  # out[0] is y[-1] = 0
    out[1 : p + 1] = burst
    g = np.float32(damping * 0.5)
    for b in range(1, blocks):
        t0 = b * p + 1  # offset of block b in out
        out[t0 : t0 + p] = g * (out[t0 - p : t0] + out[t0 - p - 1 : t0 - 1])
    return out[1 : n + 1]
    return out[:n]


def _additive(
    freq: float,
    n: int,
    sr: int,
    amps: list[float],
    decays: list[float] | None,
    inharmonicity: float = 0.0,
    detune_cents: float = 0.0,
) -> np.ndarray:
    t = dsp.time_axis(n, sr).astype(np.float64)
    out = np.zeros(n, dtype=np.float64)
    for k, a in enumerate(amps, start=1):
        fk = freq * k * np.sqrt(1.0 + inharmonicity * k * k)
        if fk >= 0.45 * sr:
            break
        partial = np.sin(2 * np.pi * fk * t)
        if detune_cents:
            partial = 0.5 * (partial + np.sin(2 * np.pi * fk * 2 ** (detune_cents / 1200) * t))
        if decays is not None:
            partial *= np.exp(-t / decays[k - 1])
        out += a * partial
    return out.astype(np.float32)


def _vibrato_saw(
    freq: float,
    n: int,
    sr: int,
    rate: float,
    depth_semitones: float,
    harmonics: int,
    tilt_db: float,
) -> np.ndarray:
    t = dsp.time_axis(n, sr)
    onset = np.minimum(1.0, t / 0.3)  # vibrato fades in after the attack
    track = freq * 2 ** (depth_semitones / 12 * onset * np.sin(2 * np.pi * rate * t))
    phase = dsp.phase_from_freq(track, n, sr)
    out = np.zeros(n, dtype=np.float32)
    for k in range(1, harmonics + 1):
        if freq * k >= 0.45 * sr:
            break
        out += np.float32(dsp.db_to_gain(-tilt_db * (k - 1)) / k**0.5) * np.sin(k * phase).astype(
            np.float32
        )
    return out


@lru_cache(maxsize=1024)
def note_table(instrument: str, midi: int, sr: int) -> np.ndarray:
    """The cached full-length note of ``instrument`` at MIDI pitch ``midi``, unit peak."""
    if instrument not in RANGES:
        raise KeyError(f"unknown instrument {instrument!r}; known: {sorted(RANGES)}")
    lo, hi, seconds, _ = RANGES[instrument]
    midi = int(min(max(midi, lo), hi))
    rng = np.random.default_rng([midi, sr, sum(map(ord, instrument))])
    f = dsp.midi_to_hz(midi)
    n = int(seconds * sr)
    if instrument == "piano":
        k = np.arange(1, 13)
        base_tau = 1.8 * (261.6 / f) ** 0.5
        x = _additive(f, n, sr, list(1.0 / k**1.3), list(base_tau / (1 + 0.35 * k)), 1e-4, 1.5)
        hammer = dsp.butter(dsp.white(rng, int(0.01 * sr)), sr, "low", 3000.0)
        x[: hammer.size] += 0.2 * hammer
        x *= dsp.exp_decay(n, sr, 10.0, 0.002)
    elif instrument in ("acoustic_guitar", "electric_guitar"):
        electric = instrument == "electric_guitar"
        x = karplus_strong(f, n, sr, rng, 0.996 if electric else 0.993, 0.9 if electric else 0.6)
        if not electric:
            x = (
                x
                + 0.4 * dsp.resonator(x, sr, 110.0, 40.0)
                + 0.3 * dsp.resonator(x, sr, 220.0, 60.0)
            )
    elif instrument in ("double_bass", "electric_bass"):
        upright = instrument == "double_bass"
        x = karplus_strong(f, n, sr, rng, 0.995 if upright else 0.998, 0.35 if upright else 0.6)
        x = dsp.butter(x, sr, "low", 900.0 if upright else 1500.0)
        if upright:
            x += 0.5 * dsp.resonator(x, sr, 90.0, 50.0)
    elif instrument == "organ":
        x = _additive(f, n, sr, [1.0, 0.8, 0.5, 0.6, 0.0, 0.4, 0.0, 0.3], None)
        x += 0.6 * _additive(f / 2, n, sr, [1.0], None)
        x *= dsp.adsr(n, sr, 0.01, 0.0, 1.0, 0.0)
    elif instrument in ("violin", "cello"):
        x = _vibrato_saw(f, n, sr, 5.5, 0.25, 20, 0.8)
        body = (1.0, 0.5) if instrument == "violin" else (0.6, 0.3)
        x = x + body[0] * dsp.resonator(x, sr, 2500.0 if instrument == "violin" else 700.0, 600.0)
        x += body[1] * dsp.resonator(x, sr, 450.0 if instrument == "violin" else 200.0, 150.0)
        x += 0.05 * dsp.butter(dsp.white(rng, n), sr, "band", (f, 4 * f))  # bow noise
        x *= dsp.adsr(n, sr, 0.08, 0.1, 0.85, 0.0)
    elif instrument in ("trumpet", "trombone"):
        amps = [1.0, 0.9, 0.8, 0.7, 0.55, 0.4, 0.3, 0.2, 0.15, 0.1]
        x = _additive(f, n, sr, amps, None)
        x = dsp.butter(x, sr, "low", 3500.0 if instrument == "trumpet" else 1800.0)
        x *= dsp.adsr(n, sr, 0.04, 0.08, 0.8, 0.0)
    elif instrument == "saxophone":
        x = _vibrato_saw(f, n, sr, 5.0, 0.12, 16, 0.6)
        x = 0.6 * x + dsp.resonator(x, sr, 1300.0, 400.0)
        x += 0.08 * dsp.butter(dsp.white(rng, n), sr, "band", (1500.0, 4000.0))
        x *= dsp.adsr(n, sr, 0.03, 0.08, 0.85, 0.0)
    elif instrument == "flute":
        x = _vibrato_saw(f, n, sr, 5.0, 0.1, 3, 12.0)
        x += 0.12 * dsp.butter(dsp.white(rng, n), sr, "band", (f * 0.9, f * 1.2))
        x *= dsp.adsr(n, sr, 0.06, 0.05, 0.9, 0.0)
    elif instrument == "bells":
        ratios = [1.0, 2.76, 5.40, 8.93]
        t = dsp.time_axis(n, sr)
        x = sum(
            np.sin(2 * np.pi * min(f * r, 0.45 * sr) * t) * np.exp(-t / (1.5 / r)) / r**0.5
            for r in ratios
        ).astype(np.float32)
    else:  # synthesizer: two detuned band-limited saws through a low-pass
        saw = [1.0 / k for k in range(1, 25)]
        x = _additive(f, n, sr, saw, None, detune_cents=9.0)
        x = dsp.butter(x, sr, "low", min(6.0 * f + 400.0, 5000.0))
        x *= dsp.adsr(n, sr, 0.01, 0.2, 0.7, 0.0)
    x = x.astype(np.float32)
    x /= max(1e-6, float(np.abs(x).max()))
    x.setflags(write=False)
    return x


def note(instrument: str, midi: int, seconds: float, sr: int, release: float = 0.05) -> np.ndarray:
    """One note of ``seconds`` plus a ``release`` fade, from the instrument's cached table."""
    table = note_table(instrument, int(midi), sr)
    n = min(table.size, int((seconds + release) * sr))
    x = table[:n].copy()
    r = min(int(release * sr), n)
    if r > 0:
        x[-r:] *= dsp.ramp(1.0, 0.0, r)
    return x


def clamp_pitch(instrument: str, midi: int) -> int:
    """``midi`` moved by octaves into the instrument's playable range."""
    lo, hi, _, _ = RANGES[instrument]
    while midi < lo:
        midi += 12
    while midi > hi:
        midi -= 12
    return midi
