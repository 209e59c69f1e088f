"""Natural sounds: rain, wind, a flowing stream, ocean waves, thunder and a crackling fire.

All are shaped noise: coloured noise, slow random modulation, scattered droplets or
crackles. Renderers take ``(rng, n, sr, attrs)`` and return (``[n]`` float32, events).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from hacd_graph.data.synth import dsp


def _scatter(rng: np.random.Generator, n: int, rate: float, amp_lo: float = 0.2) -> np.ndarray:
    """An impulse train of Poisson-distributed clicks at ``rate`` per sample, random amplitudes."""
    k = rng.poisson(rate * n)
    imp = np.zeros(n, dtype=np.float32)
    np.add.at(imp, rng.integers(0, n, k), rng.uniform(amp_lo, 1.0, k).astype(np.float32))
    return imp


def rain(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Rain: a hiss bed plus thousands of droplet ticks. attrs: ``intensity`` in (0, 1]."""
    intensity = float(attrs.get("intensity", rng.uniform(0.3, 1.0)))
    bed = dsp.butter(dsp.pink(rng, n), sr, "band", (400.0, 7000.0))
    drops = _scatter(rng, n, intensity * 600.0 / sr)
    drop_shape = dsp.butter(dsp.white(rng, int(0.004 * sr)), sr, "high", 2000.0)
    drops = signal.oaconvolve(drops, drop_shape)[:n].astype(np.float32)
    return dsp.normalize_rms(bed) + 0.6 * dsp.normalize_rms(drops), 0


def wind(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Wind: low-passed noise with slow gusts and a faint whistling resonance."""
    base = dsp.butter(dsp.brown(rng, n) + 0.3 * dsp.pink(rng, n), sr, "low", rng.uniform(500, 1200))
    gusts = dsp.slow_modulation(rng, n, sr, rate=0.8, depth=0.6)
    whistle = dsp.resonator(dsp.white(rng, n), sr, rng.uniform(600, 1200), 40.0)
    out = dsp.normalize_rms(base) * gusts + 0.15 * dsp.normalize_rms(whistle) * gusts**2
    return out.astype(np.float32), 0


def stream(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A flowing stream: band-passed noise plus bubbles (short rising sine blips)."""
    bed = dsp.butter(dsp.pink(rng, n), sr, "band", (300.0, 4000.0))
    bed *= dsp.slow_modulation(rng, n, sr, rate=4.0, depth=0.3)
    out = dsp.normalize_rms(bed)
    # Bubbles: ~40 a second, short rising sine blips from a cached bank.
    blips = _bubble_bank(sr)
    count = int(40 * n / sr)
    kinds, starts = rng.integers(0, len(blips), count), rng.integers(0, n, count)
    for k, start, amp in zip(kinds, starts, rng.uniform(0.2, 0.7, count), strict=True):
        dsp.add_at(out, blips[k], int(start), float(amp))
    return out, 0


@lru_cache(maxsize=4)
def _bubble_bank(sr: int) -> np.ndarray:
    """``[8, 20 ms]`` bubble blips (rising sines, 400–1500 Hz), read-only."""
    m = int(0.02 * sr)
    t = dsp.time_axis(m, sr)
    bank = np.stack(
        [
            np.sin(2 * np.pi * f * t * (1 + 8 * t)).astype(np.float32) * dsp.exp_decay(m, sr, 0.005)
            for f in np.linspace(400.0, 1500.0, 8)
        ]
    )
    bank.setflags(write=False)
    return bank


def ocean_waves(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Waves on a shore: broadband surf swelling every 3–6 s. Returns (audio, 0)."""
    period = rng.uniform(3.0, 6.0)
    t = dsp.time_axis(n, sr)
    swell = (0.5 - 0.5 * np.cos(2 * np.pi * (t / period + rng.uniform()))) ** 2
    surf = dsp.butter(dsp.pink(rng, n), sr, "band", (150.0, 6000.0))
    return (dsp.normalize_rms(surf) * (0.15 + swell)).astype(np.float32), 0


def thunder(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A thunderclap: a crack followed by a long low rumble (brown noise, slow decay)."""
    out = dsp.silence(n)
    start = int(rng.uniform(0.0, 0.4) * n)
    m = n - start
    rumble = dsp.butter(dsp.brown(rng, m), sr, "low", 300.0) * dsp.exp_decay(
        m, sr, rng.uniform(0.8, 1.5), 0.15
    )
    rumble *= dsp.slow_modulation(rng, m, sr, rate=6.0, depth=0.5)
    c = int(0.08 * sr)
    crack = dsp.butter(dsp.white(rng, c), sr, "high", 800.0) * dsp.exp_decay(c, sr, 0.02)
    dsp.add_at(out, dsp.normalize_rms(rumble), start)
    dsp.add_at(out, crack, start, 2.0)
    return out, 1


def fire_crackle(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A crackling fire: low roar plus sharp random crackles."""
    roar = dsp.butter(dsp.brown(rng, n), sr, "low", 400.0)
    crackles = _scatter(rng, n, 25.0 / sr, amp_lo=0.3)
    shape = dsp.butter(dsp.white(rng, int(0.006 * sr)), sr, "high", 1500.0)
    crackles = signal.oaconvolve(crackles, shape)[:n].astype(np.float32)
    return 0.4 * dsp.normalize_rms(roar) + dsp.normalize_rms(crackles), 0
