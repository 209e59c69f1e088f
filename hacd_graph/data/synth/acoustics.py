"""Room acoustics and recording chain: room impulse responses by RT60 and room size,
distance, noise floor, bandwidth limiting (telephone, AM radio), clipping and loudness.

The class names written into the record are derived from the values actually applied or
measured on the final clip (``classify_*``), so a label never disagrees with the audio.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft as sp_fft

from hacd_graph.data.synth import dsp

ROOM_RT60 = {"small": (0.2, 0.45), "medium": (0.5, 0.9), "large": (1.0, 2.0)}
# distance -> (level change dB, reverb send relative to the direct path, low-pass Hz or None)
DISTANCE = {"near": (0.0, 0.25, None), "moderate": (-3.0, 0.5, 6000.0), "far": (-6.0, 0.9, 3500.0)}
BANDWIDTHS = ("full", "telephone", "am_radio")


def classify_reverberation(rt60_s: float) -> str:
    """RT60 class: ``"dry"`` below 0.25 s, ``"slight"`` below 0.5 s, ``"moderate"`` up to
    1 s, else ``"strong"``."""
    if rt60_s < 0.25:
        return "dry"
    if rt60_s < 0.5:
        return "slight"
    return "moderate" if rt60_s <= 1.0 else "strong"


def classify_loudness(rms_dbfs: float) -> str:
    """``"quiet"`` below -30 dBFS RMS, ``"loud"`` above -18, otherwise ``"moderate"``."""
    return "quiet" if rms_dbfs < -30.0 else "loud" if rms_dbfs > -18.0 else "moderate"


def classify_noise(noise_floor_db: float) -> str:
    """``"noisy"`` when the hiss is within 35 dB of the clip's level, otherwise ``"clean"``."""
    return "noisy" if noise_floor_db > -35.0 else "clean"


def room_impulse_response(
    rng: np.random.Generator, rt60_s: float, room_size: str, sr: int
) -> np.ndarray:
    """A synthetic room impulse response without the direct path.

    Sparse early reflections (their spacing grows with the room) followed by an exponentially
    decaying noise tail that falls 60 dB in ``rt60_s`` seconds; the tail is darker (low-passed)
    the larger the room, as air and wall absorption eat high frequencies.

    Returns:
        ``[L]`` float32, ``L = min(rt60, 1.5 s)``, normalised to unit energy.
    """
    n = max(int(min(rt60_s, 1.5) * sr), int(0.05 * sr))
    t = dsp.time_axis(n, sr)
    tail = dsp.white(rng, n) * np.exp(-6.908 * t / max(rt60_s, 1e-3)).astype(np.float32)
    tail = dsp.one_pole_lowpass(
        tail, sr, {"small": 7000.0, "medium": 5000.0, "large": 3500.0}[room_size]
    )
    spacing = {"small": 0.003, "medium": 0.007, "large": 0.015}[room_size]
    early = rng.uniform(spacing, 8 * spacing, 8)
    for d in early:
        k = int(d * sr)
        if k < n:
            tail[k] += (
                float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.0) * np.exp(-6.908 * d / rt60_s))
                * 4.0
            )
    onset = int(spacing * sr)
    tail[:onset] = 0.0
    return (tail / max(1e-9, float(np.sqrt(np.sum(tail.astype(np.float64) ** 2))))).astype(
        np.float32
    )


RIR_VARIANTS = 4  # distinct impulse responses per (room size, RT60 step)
RT60_STEP = 0.05  # seconds


@lru_cache(maxsize=128)
def _rir_spectrum(room_size: str, rt60_s: float, variant: int, sr: int, n_fft: int) -> np.ndarray:
    rng = np.random.default_rng([variant, int(round(rt60_s * 1000)), sr, sum(map(ord, room_size))])
    h = room_impulse_response(rng, rt60_s, room_size, sr)
    spec = sp_fft.rfft(h, n_fft).astype(np.complex64)
    spec.setflags(write=False)
    return spec


def quantize_rt60(rt60_s: float) -> float:
    """RT60 rounded to the 50 ms grid the cached impulse responses are made on."""
    return round(round(rt60_s / RT60_STEP) * RT60_STEP, 3)


def reverberate_in_room(
    x: np.ndarray, room_size: str, rt60_s: float, variant: int, sr: int
) -> np.ndarray:
    """Convolve ``x`` with impulse response ``variant`` of a room (cached, with its FFT).

    ``rt60_s`` must be on the ``quantize_rt60`` grid; responses are deterministic in
    (room size, RT60, variant, sr), so a clip's reverberation depends only on its record.
    """
    if not 0 <= variant < RIR_VARIANTS:
        raise ValueError(f"variant must be in [0, {RIR_VARIANTS}), got {variant}")
    rir_len = max(int(min(rt60_s, 1.5) * sr), int(0.05 * sr))  # as room_impulse_response
    n = sp_fft.next_fast_len(x.size + rir_len - 1, real=True)
    spec = sp_fft.rfft(x.astype(np.float32), n) * _rir_spectrum(room_size, rt60_s, variant, sr, n)
    return sp_fft.irfft(spec, n)[: x.size].astype(np.float32)


def air_absorption(x: np.ndarray, distance: str, sr: int) -> np.ndarray:
    """``x`` as heard from ``distance``: farther sources lose high frequencies to the air.

    (Their level change and reverb send are ``DISTANCE[distance][:2]``, applied by the mixer.)
    """
    cutoff = DISTANCE[distance][2]
    return x if cutoff is None else dsp.butter(x, sr, "low", cutoff)


def band_limit(x: np.ndarray, bandwidth: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Simulate a transmission channel.

    ``"telephone"``: 300–3400 Hz band-pass and 8-bit mu-law companding; ``"am_radio"``:
    100–4500 Hz band-pass with mild static; ``"full"``: unchanged.
    """
    if bandwidth == "full":
        return x
    if bandwidth == "telephone":
        y = dsp.butter(x, sr, "band", (300.0, 3400.0), order=4)
        peak = max(1e-9, float(np.abs(y).max()))
        mu = 255.0
        c = np.sign(y) * np.log1p(mu * np.abs(y / peak)) / np.log1p(mu)
        c = np.round(c * 127.0) / 127.0
        return (np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu * peak).astype(np.float32)
    if bandwidth == "am_radio":
        y = dsp.butter(x, sr, "band", (100.0, 4500.0), order=4)
        static = dsp.butter(dsp.white(rng, x.size), sr, "band", (100.0, 4500.0))
        return (y + 0.03 * dsp.rms(y) * static).astype(np.float32)
    raise ValueError(f"unknown bandwidth {bandwidth!r}; known: {BANDWIDTHS}")


def add_noise_floor(x: np.ndarray, noise_floor_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white recorder hiss ``noise_floor_db`` dB below (or above) the RMS of ``x``."""
    return (
        x + dsp.white(rng, x.size) * np.float32(dsp.rms(x) * dsp.db_to_gain(noise_floor_db))
    ).astype(np.float32)


def clip_hard(x: np.ndarray, percentile: float) -> tuple[np.ndarray, float]:
    """Hard-clip ``x`` at its ``percentile``-th absolute value, rescaled to peak 0.99.

    Returns:
        (clipped audio, fraction of samples that were clipped).
    """
    c = max(1e-9, float(np.percentile(np.abs(x), percentile)))
    y = np.clip(x, -c, c) * np.float32(0.99 / c)
    return y.astype(np.float32), float(np.mean(np.abs(x) >= c))


def set_loudness(x: np.ndarray, target_dbfs: float) -> tuple[np.ndarray, float]:
    """Scale to RMS ``target_dbfs``, then lower it if needed so the peak stays under 0.99.

    Returns:
        (scaled audio, the measured RMS level in dBFS).
    """
    r = dsp.rms(x)
    if r < 1e-12:
        return x, -120.0
    y = x * np.float32(dsp.db_to_gain(target_dbfs) / r)
    peak = float(np.abs(y).max())
    if peak > 0.99:
        y *= np.float32(0.99 / peak)
    return y.astype(np.float32), float(20.0 * np.log10(max(dsp.rms(y), 1e-12)))
