"""Human sounds: formant speech (male, female, child), babble, laughter, coughs, whistling,
clapping, applause and footsteps.

Speech is assembled from a cached bank of synthetic syllables (glottal pulse train through
vowel formants, with a noise onset for the consonant), so a sentence costs a few array
copies. Every renderer takes ``(rng, n, sr, attrs)`` and returns ``[n]`` float32 plus the
number of discrete events it placed (0 where counting makes no sense).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hacd_graph.data.synth import dsp

# (F1, F2, F3) in Hz of an adult male voice; other voices scale them.
VOWELS: tuple[tuple[float, float, float], ...] = (
    (730.0, 1090.0, 2440.0),  # a
    (530.0, 1840.0, 2480.0),  # e
    (270.0, 2290.0, 3010.0),  # i
    (570.0, 840.0, 2410.0),  # o
    (300.0, 870.0, 2240.0),  # u
)
VOICE_F0 = {"male": 110.0, "female": 205.0, "child": 290.0}
VOICE_FORMANT_SCALE = {"male": 1.0, "female": 1.15, "child": 1.3}
SYLLABLE_SECONDS = 0.19


@lru_cache(maxsize=512)
def syllable(voice: str, vowel: int, pitch_step: int, sr: int, breathy: bool = False) -> np.ndarray:
    """One cached synthetic syllable (consonant burst + vowel), ``[~0.19 s]`` float32, unit peak.

    Deterministic: the noise comes from a generator seeded by the arguments.
    """
    rng = np.random.default_rng([vowel, pitch_step + 10, int(breathy), sr, len(voice)])
    n = int(SYLLABLE_SECONDS * sr)
    f0 = VOICE_F0[voice] * 2.0 ** (pitch_step / 12.0)
    contour = f0 * dsp.ramp(1.04, 0.94, n)  # slight declination within the syllable
    src = dsp.pulse_train(dsp.phase_from_freq(contour, n, sr), sharpness=6.0)
    if breathy:
        src = 0.4 * src + 0.6 * dsp.white(rng, n) * 0.3
    scale = VOICE_FORMANT_SCALE[voice]
    f1, f2, f3 = (f * scale for f in VOWELS[vowel])
    voiced = (
        dsp.resonator(src, sr, f1, 90.0)
        + 0.6 * dsp.resonator(src, sr, f2, 110.0)
        + 0.3 * dsp.resonator(src, sr, f3, 160.0)
    )
    voiced *= dsp.adsr(n, sr, 0.03, 0.05, 0.8, 0.06)
    burst_n = int(0.04 * sr)
    burst = dsp.butter(dsp.white(rng, burst_n), sr, "high", 2500.0) * dsp.exp_decay(
        burst_n, sr, 0.012
    )
    out = dsp.silence(n + burst_n)
    out[:burst_n] += 0.15 * burst
    out[burst_n // 2 : burst_n // 2 + n] += voiced
    return (out / max(1e-6, float(np.abs(out).max()))).astype(np.float32)


def speech(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A talker: words of 1–3 syllables with pauses, filling ``n`` samples.

    attrs: ``voice`` in {"male", "female", "child"}. Returns (audio, number of words).
    """
    voice = attrs.get("voice", "male")
    out = dsp.silence(n)
    pos = int(rng.uniform(0.0, 0.15) * sr)
    words = 0
    while pos < n - int(0.2 * sr):
        for _ in range(int(rng.integers(1, 4))):
            syl = syllable(voice, int(rng.integers(0, 5)), int(rng.integers(-2, 3)), sr)
            dsp.add_at(out, syl, pos, float(rng.uniform(0.6, 1.0)))
            pos += int(syl.size * rng.uniform(0.7, 0.85))
        words += 1
        pos += int(sr * (rng.uniform(0.25, 0.6) if rng.random() < 0.2 else rng.uniform(0.03, 0.12)))
    return out, words


def babble(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Indistinct crowd chatter: several overlapping talkers, muffled, over speech-shaped noise.

    attrs: ``talkers`` (int, default 6). Returns (audio, 0).
    """
    talkers = int(attrs.get("talkers", 6))
    out = dsp.silence(n)
    for _ in range(talkers):
        voice = ("male", "female", "child")[int(rng.choice(3, p=[0.47, 0.47, 0.06]))]
        x, _ = speech(rng, n, sr, {"voice": voice})
        out += np.float32(rng.uniform(0.3, 1.0)) * x
    out = dsp.butter(out, sr, "low", 2200.0)  # distant talkers: no crisp consonants
    shaped = dsp.butter(dsp.pink(rng, n), sr, "band", (200.0, 2000.0))
    out = dsp.normalize_rms(out) + 0.35 * dsp.normalize_rms(shaped)
    return dsp.normalize_rms(out), 0


def laughter(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Bouts of laughter ("ha-ha-ha": breathy /a/ pulses at ~5 Hz). Returns (audio, bouts)."""
    voice = attrs.get("voice", "female")
    bouts = int(attrs.get("count", rng.integers(1, 3)))
    out = dsp.silence(n)
    starts = np.sort(rng.uniform(0.0, max(0.01, n / sr - 1.2), bouts))
    for s in starts:
        pos = int(s * sr)
        for k in range(int(rng.integers(4, 8))):
            syl = syllable(voice, 0, int(rng.integers(2, 6)), sr, breathy=True)[: int(0.14 * sr)]
            dsp.add_at(out, syl * dsp.adsr(syl.size, sr, 0.01, 0.03, 0.6, 0.05), pos, 0.9**k)
            pos += int(sr * rng.uniform(0.17, 0.22))
    return out, bouts


def cough(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Coughs: a sharp noise burst through open-vowel formants. Returns (audio, coughs)."""
    count = int(attrs.get("count", rng.integers(1, 4)))
    out = dsp.silence(n)
    m = int(0.3 * sr)
    for s in np.sort(rng.uniform(0.0, max(0.01, n / sr - 0.35), count)):
        x = dsp.white(rng, m)
        x = dsp.resonator(x, sr, 600.0, 300.0) + 0.7 * dsp.resonator(x, sr, 1500.0, 400.0)
        dsp.add_at(out, dsp.normalize_rms(x) * dsp.exp_decay(m, sr, 0.07, 0.004), int(s * sr))
    return out, count


def whistling(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A person whistling a tune: a near-sine with vibrato and breath. Returns (audio, notes)."""
    out = dsp.silence(n)
    pos, notes = 0, 0
    base = rng.uniform(76, 86)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    while pos < n - int(0.2 * sr):
        dur = int(sr * rng.choice([0.2, 0.3, 0.45, 0.6]))
        f = dsp.midi_to_hz(base + float(rng.choice(scale)))
        t = dsp.time_axis(dur, sr)
        freq = f * (1.0 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
        tone = np.sin(dsp.phase_from_freq(freq, dur, sr)).astype(np.float32)
        breath = 0.05 * dsp.butter(dsp.white(rng, dur), sr, "band", (f * 0.8, f * 1.3))
        dsp.add_at(out, (tone + breath) * dsp.adsr(dur, sr, 0.03, 0.02, 0.9, 0.05), pos)
        pos += dur + int(sr * rng.uniform(0.0, 0.08))
        notes += 1
    return out, notes


CLAP_VARIANTS = 16


@lru_cache(maxsize=4)
def _clap_bank(sr: int) -> np.ndarray:
    """``[CLAP_VARIANTS, 50 ms]`` cached hand claps (band-passed noise bursts), read-only."""
    rng = np.random.default_rng([sr, 1234])
    m = int(0.05 * sr)
    bank = np.stack(
        [
            dsp.butter(
                dsp.white(rng, m), sr, "band", (rng.uniform(900, 1400), rng.uniform(2500, 4000))
            )
            * dsp.exp_decay(m, sr, 0.008, 0.001)
            for _ in range(CLAP_VARIANTS)
        ]
    )
    bank.setflags(write=False)
    return bank


def _clap(rng: np.random.Generator, sr: int) -> np.ndarray:
    return _clap_bank(sr)[int(rng.integers(CLAP_VARIANTS))]


def clapping(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """One person clapping in rhythm (2–4 claps a second). Returns (audio, claps)."""
    rate = rng.uniform(2.0, 4.0)
    t = rng.uniform(0.0, 0.3)
    out = dsp.silence(n)
    claps = 0
    while t < n / sr - 0.06:
        dsp.add_at(out, _clap(rng, sr), int(t * sr), rng.uniform(0.8, 1.0))
        claps += 1
        t += 1.0 / rate * rng.uniform(0.95, 1.05)
    return out, claps


def applause(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """An audience applauding: hundreds of random claps over a noise bed. Returns (audio, 0)."""
    density = int(attrs.get("claps_per_second", 60) * n / sr)
    bank = _clap_bank(sr)
    out = dsp.silence(n)
    kinds, starts = rng.integers(0, CLAP_VARIANTS, density), rng.integers(0, n, density)
    for k, start, amp in zip(kinds, starts, rng.uniform(0.3, 1.0, density), strict=True):
        dsp.add_at(out, bank[k], int(start), float(amp))
    out += 0.1 * dsp.butter(dsp.white(rng, n), sr, "band", (800.0, 5000.0))
    env = np.minimum(1.0, dsp.time_axis(n, sr) / 0.3)
    return (out * env).astype(np.float32), 0


def footsteps(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Walking footsteps on a hard floor: a low heel thud and a scuff. Returns (audio, steps)."""
    rate = float(attrs.get("steps_per_second", rng.uniform(1.6, 2.2)))
    out = dsp.silence(n)
    t = rng.uniform(0.0, 0.4)
    steps = 0
    m = int(0.12 * sr)
    while t < n / sr - 0.12:
        thud = dsp.resonator(dsp.white(rng, m), sr, rng.uniform(90, 160), 60.0) * dsp.exp_decay(
            m, sr, 0.02
        )
        scuff = dsp.butter(dsp.white(rng, m), sr, "band", (1500.0, 5000.0)) * dsp.exp_decay(
            m, sr, 0.015
        )
        dsp.add_at(out, dsp.normalize_rms(thud) + 0.4 * scuff, int(t * sr), rng.uniform(0.7, 1.0))
        steps += 1
        t += 1.0 / rate * rng.uniform(0.93, 1.07)
    return out, steps
