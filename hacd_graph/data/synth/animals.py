"""Animal calls: dog barks, cat meows, bird chirps and song, crow caws, cow moos, frog
croaks, insect (cricket) chirping, owl hoots and duck quacks.

Calls are harmonic FM tones (a pitch contour summed over a few harmonics) shaped by
formant resonators, or noise shaped by an envelope. Renderers take ``(rng, n, sr, attrs)``
and return (``[n]`` float32, number of calls).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hacd_graph.data.synth import dsp


def harmonic_call(
    contour: np.ndarray,
    sr: int,
    harmonics: int,
    tilt: float,
    noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A harmonic tone following the pitch ``contour`` (Hz per sample); ``tilt`` in dB per
    harmonic; ``noise`` adds breath/roughness relative to the tone's RMS."""
    n = contour.size
    phase = dsp.phase_from_freq(contour, n, sr)
    amps = [dsp.db_to_gain(-tilt * (k - 1)) for k in range(1, harmonics + 1)]
    out = dsp.harmonic_sum(phase, amps, float(contour.max()), sr)
    if noise > 0:
        out += noise * dsp.white(rng, n) * dsp.rms(out)
    return out


def _place(
    rng: np.random.Generator, n: int, sr: int, count: int, call_seconds: float, make
) -> tuple[np.ndarray, int]:
    """Place ``count`` calls made by ``make(rng)``, one in each of ``count`` equal time slots."""
    out = dsp.silence(n)
    slot = max(0.01, n / sr - call_seconds) / count
    for k in range(count):
        s = slot * (k + rng.uniform(0.0, 0.6))
        dsp.add_at(out, make(rng), int(s * sr), float(rng.uniform(0.75, 1.0)))
    return out, count


def dog_bark(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Barks: a short harsh harmonic burst (f0 300–700 Hz) through a muzzle formant."""
    size = attrs.get("size", rng.choice(["small", "large"]))
    f0 = rng.uniform(500, 750) if size == "small" else rng.uniform(280, 420)

    def bark(r: np.random.Generator) -> np.ndarray:
        m = int(r.uniform(0.12, 0.2) * sr)
        t = dsp.ramp(0.0, 1.0, m)
        contour = f0 * (1.0 + 0.35 * np.sin(np.pi * t)) * r.uniform(0.9, 1.1)
        x = harmonic_call(contour, sr, 12, 1.5, 0.4, r)
        x = dsp.resonator(x, sr, f0 * 2.2, 400.0) + 0.5 * x
        return dsp.normalize_rms(x) * dsp.adsr(m, sr, 0.005, 0.04, 0.6, 0.05)

    return _place(rng, n, sr, int(attrs.get("count", rng.integers(1, 5))), 0.2, bark)


def cat_meow(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Meows: a rising-falling f0 contour (450–900 Hz) with an opening vowel (/i/ to /a/)."""

    def meow(r: np.random.Generator) -> np.ndarray:
        m = int(r.uniform(0.5, 0.9) * sr)
        t = dsp.ramp(0.0, 1.0, m)
        contour = r.uniform(450, 600) * (1.0 + 0.5 * np.sin(np.pi * t**0.7))
        x = harmonic_call(contour, sr, 8, 3.0, 0.05, r)
        x = dsp.resonator(x, sr, 1200.0, 500.0) + 0.3 * x
        return dsp.normalize_rms(x) * dsp.adsr(m, sr, 0.05, 0.1, 0.8, 0.2)

    return _place(rng, n, sr, int(attrs.get("count", rng.integers(1, 3))), 0.9, meow)


BIRD_PHRASES = 48


@lru_cache(maxsize=4)
def _bird_phrases(sr: int) -> tuple[np.ndarray, ...]:
    """A cached bank of songbird phrases: 3–7 fast FM sweeps (2–6.5 kHz) with short gaps."""
    rng = np.random.default_rng([sr, 77])
    hi = min(6500.0, 0.45 * sr)
    bank = []
    for _ in range(BIRD_PHRASES):
        parts = []
        for _ in range(int(rng.integers(3, 8))):
            m = int(rng.uniform(0.03, 0.08) * sr)
            f_a, f_b = rng.uniform(2000, hi, 2)
            note = harmonic_call(dsp.ramp(f_a, f_b, m), sr, 2, 12.0, 0.0, rng)
            parts.append(note * dsp.adsr(m, sr, 0.005, 0.01, 0.8, 0.01))
            parts.append(dsp.silence(int(rng.uniform(0.02, 0.06) * sr)))
        phrase = np.concatenate(parts)
        phrase.setflags(write=False)
        bank.append(phrase)
    return tuple(bank)


def bird_chirp(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Songbird chirps: phrases of fast downward and upward FM sweeps between 2 and 6 kHz
    (drawn from a cached bank of phrases), one per time slot. Returns (audio, phrases)."""
    bank = _bird_phrases(sr)
    return _place(
        rng,
        n,
        sr,
        int(attrs.get("count", rng.integers(2, 5))),
        0.6,
        lambda r: bank[int(r.integers(len(bank)))],
    )


def crow_caw(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Caws: a hoarse, noisy harmonic tone (f0 ~ 500 Hz) with a nasal formant."""

    def caw(r: np.random.Generator) -> np.ndarray:
        m = int(r.uniform(0.25, 0.4) * sr)
        contour = r.uniform(450, 600) * dsp.ramp(1.05, 0.9, m)
        x = harmonic_call(contour, sr, 10, 1.0, 1.2, r)
        x = dsp.resonator(x, sr, 1400.0, 500.0) + 0.2 * x
        return dsp.normalize_rms(x) * dsp.adsr(m, sr, 0.02, 0.05, 0.8, 0.08)

    return _place(rng, n, sr, int(attrs.get("count", rng.integers(1, 4))), 0.45, caw)


def cow_moo(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Moos: a long low harmonic call (f0 100–160 Hz) with a slowly opening vowel."""

    def moo(r: np.random.Generator) -> np.ndarray:
        m = int(r.uniform(1.0, 1.6) * sr)
        t = dsp.ramp(0.0, 1.0, m)
        contour = r.uniform(100, 150) * (1.0 + 0.25 * np.sin(np.pi * t))
        x = harmonic_call(contour, sr, 20, 1.2, 0.05, r)
        x = dsp.resonator(x, sr, 400.0, 150.0) + 0.5 * dsp.resonator(x, sr, 900.0, 200.0)
        return dsp.normalize_rms(x) * dsp.adsr(m, sr, 0.15, 0.1, 0.9, 0.3)

    return _place(rng, n, sr, 1, 1.6, moo)


def frog_croak(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Croaks: trains of low glottal pulses (~30 pulses/s) under a 300–600 Hz formant."""

    def croak(r: np.random.Generator) -> np.ndarray:
        m = int(r.uniform(0.2, 0.35) * sr)
        pulses = dsp.pulse_train(dsp.phase_from_freq(r.uniform(25, 40), m, sr), 30.0)
        x = dsp.resonator(pulses, sr, r.uniform(300, 600), 120.0)
        return dsp.normalize_rms(x) * dsp.adsr(m, sr, 0.01, 0.05, 0.8, 0.05)

    return _place(rng, n, sr, int(attrs.get("count", rng.integers(2, 6))), 0.35, croak)


def insect_chirp(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Crickets: a 4–5 kHz carrier gated into fast pulse groups, continuous. Returns (audio, 0)."""
    carrier = min(rng.uniform(3800, 5000), 0.4 * sr)
    t = dsp.time_axis(n, sr)
    tone = np.sin(2 * np.pi * carrier * t).astype(np.float32)
    pulses = (np.sin(2 * np.pi * rng.uniform(25, 35) * t) > 0.3).astype(np.float32)
    groups = (np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * t) > 0.0).astype(np.float32)
    gate = dsp.one_pole_lowpass(pulses * groups, sr, 300.0)
    return tone * gate, 0


def owl_hoot(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Hoots: soft low near-sine calls (300–400 Hz) with a slight pitch drop."""

    def hoot(r: np.random.Generator) -> np.ndarray:
        m = int(r.uniform(0.35, 0.6) * sr)
        contour = r.uniform(300, 400) * dsp.ramp(1.0, 0.93, m)
        x = harmonic_call(contour, sr, 3, 14.0, 0.08, r)
        return x * dsp.adsr(m, sr, 0.06, 0.1, 0.8, 0.15)

    return _place(rng, n, sr, int(attrs.get("count", rng.integers(1, 4))), 0.65, hoot)


def duck_quack(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Quacks: a buzzy nasal call (f0 ~ 250 Hz, many harmonics, 1 kHz formant)."""

    def quack(r: np.random.Generator) -> np.ndarray:
        m = int(r.uniform(0.15, 0.25) * sr)
        contour = r.uniform(220, 300) * dsp.ramp(1.1, 0.85, m)
        x = harmonic_call(contour, sr, 25, 0.6, 0.3, r)
        x = dsp.resonator(x, sr, 1000.0, 250.0) + 0.6 * dsp.resonator(x, sr, 2300.0, 300.0)
        return dsp.normalize_rms(x) * dsp.adsr(m, sr, 0.01, 0.05, 0.7, 0.05)

    return _place(rng, n, sr, int(attrs.get("count", rng.integers(1, 5))), 0.3, quack)
