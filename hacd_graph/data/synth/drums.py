"""Drum-kit pieces: kick, snare (sticks or brushes), hi-hat (closed, open, pedal), ride and
crash cymbals, toms and an electronic clap.

Each piece has a few cached variants (deterministic noise), so a beat costs array copies;
the brush sweep is a continuous swish rendered per bar.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hacd_graph.data.synth import dsp

PIECES = (
    "kick",
    "snare",
    "brush_tap",
    "hihat_closed",
    "hihat_open",
    "hihat_pedal",
    "ride",
    "crash",
    "tom",
    "clap",
)
VARIANTS = 4


def _metal(rng: np.random.Generator, n: int, sr: int, base: float, tau: float) -> np.ndarray:
    """Cymbal-like metallic noise: six inharmonic square-ish partials (as the TR-808) + hiss."""
    t = dsp.time_axis(n, sr)
    ratios = (1.0, 1.342, 1.2312, 1.6532, 1.9523, 2.1523)
    x = sum(np.sign(np.sin(2 * np.pi * base * r * t + rng.uniform(0, 6.28))) for r in ratios)
    x = dsp.butter(x.astype(np.float32) + 2.0 * dsp.white(rng, n), sr, "high", 3000.0)
    return x * dsp.exp_decay(n, sr, tau, 0.001)


@lru_cache(maxsize=128)
def hit(piece: str, variant: int, sr: int) -> np.ndarray:
    """One cached hit of a kit piece (``variant`` in ``range(VARIANTS)``), unit peak."""
    if piece not in PIECES:
        raise KeyError(f"unknown drum piece {piece!r}; known: {PIECES}")
    rng = np.random.default_rng([variant, sr, sum(map(ord, piece))])
    if piece == "kick":
        n = int(0.35 * sr)
        t = dsp.time_axis(n, sr)
        f = 50.0 + 100.0 * np.exp(-t / 0.03)
        x = np.sin(dsp.phase_from_freq(f, n, sr)).astype(np.float32) * dsp.exp_decay(n, sr, 0.12)
        x[: int(0.003 * sr)] += 0.3 * dsp.white(rng, int(0.003 * sr))
    elif piece == "snare":
        n = int(0.25 * sr)
        tone = np.sin(2 * np.pi * 185.0 * dsp.time_axis(n, sr)).astype(np.float32) * dsp.exp_decay(
            n, sr, 0.04
        )
        rattle = dsp.butter(dsp.white(rng, n), sr, "band", (1500.0, 7000.0)) * dsp.exp_decay(
            n, sr, 0.07
        )
        x = 0.6 * tone + dsp.normalize_rms(rattle) * 0.5
    elif piece == "brush_tap":
        n = int(0.15 * sr)
        x = dsp.butter(dsp.white(rng, n), sr, "band", (1000.0, 6000.0)) * dsp.exp_decay(
            n, sr, 0.04, 0.008
        )
    elif piece == "hihat_closed":
        n = int(0.06 * sr)
        x = _metal(rng, n, sr, 400.0 + 10 * variant, 0.015)
    elif piece == "hihat_pedal":
        n = int(0.05 * sr)
        x = 0.5 * _metal(rng, n, sr, 400.0 + 10 * variant, 0.01)
    elif piece == "hihat_open":
        n = int(0.35 * sr)
        x = _metal(rng, n, sr, 400.0 + 10 * variant, 0.12)
    elif piece == "ride":
        n = int(1.5 * sr)
        ping = np.sin(2 * np.pi * 3100.0 * dsp.time_axis(n, sr)).astype(np.float32) * dsp.exp_decay(
            n, sr, 0.3
        )
        x = 0.6 * _metal(rng, n, sr, 320.0 + 7 * variant, 0.6) + 0.3 * ping
    elif piece == "crash":
        n = int(2.0 * sr)
        x = _metal(rng, n, sr, 290.0 + 9 * variant, 0.9) + 0.5 * dsp.butter(
            dsp.white(rng, n), sr, "high", 2000.0
        ) * dsp.exp_decay(n, sr, 0.7)
    elif piece == "tom":
        n = int(0.4 * sr)
        f0 = (90.0, 110.0, 140.0, 170.0)[variant % 4]  # variant = tom size, floor tom to high tom
        f = f0 * (1.0 + 0.3 * np.exp(-dsp.time_axis(n, sr) / 0.05))
        x = np.sin(dsp.phase_from_freq(f, n, sr)).astype(np.float32) * dsp.exp_decay(n, sr, 0.18)
    else:  # clap: three quick noise bursts and a tail
        n = int(0.2 * sr)
        x = dsp.silence(n)
        burst = dsp.butter(dsp.white(rng, int(0.012 * sr)), sr, "band", (800.0, 3000.0))
        for k in range(3):
            dsp.add_at(x, burst * dsp.exp_decay(burst.size, sr, 0.004), int(k * 0.011 * sr))
        tail = dsp.butter(dsp.white(rng, n), sr, "band", (800.0, 3000.0)) * dsp.exp_decay(
            n, sr, 0.05
        )
        dsp.add_at(x, 0.5 * tail, int(0.033 * sr))
    x = x.astype(np.float32)
    x /= max(1e-6, float(np.abs(x).max()))
    x.setflags(write=False)
    return x


def brush_sweep(rng: np.random.Generator, n: int, sr: int, beat_samples: float) -> np.ndarray:
    """The continuous swish of a brush circling on the snare, pulsing once per beat."""
    phase = (np.arange(n, dtype=np.float32) / np.float32(beat_samples)) % 1.0
    pulse = 0.35 + 0.65 * np.sin(np.pi * phase) ** 2
    swish = dsp.butter(dsp.white(rng, n), sr, "band", (1500.0, 7000.0))
    return (0.25 * swish * pulse).astype(np.float32)
