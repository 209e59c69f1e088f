"""Signal primitives the synthesizers share: envelopes, coloured noise, resonators, mixing.

Everything works on float32 numpy arrays at a sample rate ``sr`` and is vectorised
(no per-sample Python loops): a 4 s clip at 16 kHz must render in a few milliseconds.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import signal

Array = np.ndarray


def ramp(start: float, stop: float, n: int, endpoint: bool = True) -> Array:
    """``n`` evenly spaced float32 values from ``start`` to ``stop`` (``np.linspace`` without
    its per-call overhead, which dominates for the thousands of short envelopes of a clip)."""
    n = int(n)
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    div = (n - 1) if endpoint else n
    step = (stop - start) / div if div > 0 else 0.0
    return (np.arange(n, dtype=np.float32) * np.float32(step) + np.float32(start)).astype(
        np.float32, copy=False
    )


def silence(n: int) -> Array:
    """``n`` zero samples (float32)."""
    return np.zeros(max(0, int(n)), dtype=np.float32)


def time_axis(n: int, sr: int) -> Array:
    """Sample times in seconds, ``[n]`` float32."""
    return np.arange(int(n), dtype=np.float32) / np.float32(sr)


def adsr(n: int, sr: int, attack: float, decay: float, sustain: float, release: float) -> Array:
    """Piecewise-linear attack/decay/sustain/release envelope of exactly ``n`` samples.

    The release occupies the last ``release`` seconds; attack and decay are shortened when
    the note is too short for them.
    """
    n = int(n)
    a = min(int(attack * sr), n)
    r = min(int(release * sr), n - a)
    d = min(int(decay * sr), n - a - r)
    s = n - a - r - d
    parts = [
        ramp(0.0, 1.0, a, endpoint=False),
        ramp(1.0, sustain, d, endpoint=False),
        np.full(s, sustain, dtype=np.float32),
        ramp(sustain if (d or s) else 1.0, 0.0, r),
    ]
    return np.concatenate(parts)[:n]


def exp_decay(n: int, sr: int, tau: float, attack: float = 0.002) -> Array:
    """Exponential decay ``exp(-t / tau)`` with a short linear attack, ``[n]`` float32."""
    env = np.exp(time_axis(n, sr) * np.float32(-1.0 / max(tau, 1e-4)))
    a = min(int(attack * sr), int(n))
    if a > 0:
        env[:a] *= ramp(0.0, 1.0, a)
    return env


NOISE_BANK_SECONDS = 2**20  # samples in each cached noise bank (65 s at 16 kHz)


@lru_cache(maxsize=4)
def _noise_bank(colour: str) -> Array:
    """A long, fixed (seeded) buffer of noise of one colour, unit RMS, read-only.

    Noise is read from it at a random offset: generating fresh Gaussian noise and filtering
    it for every call would cost more than everything else in a clip together.
    """
    bank_rng = np.random.default_rng(20240601)
    x = bank_rng.standard_normal(NOISE_BANK_SECONDS + 4096).astype(np.float64)
    if colour == "pink":  # Kellet's three-pole approximation of 1/f
        x = signal.lfilter(
            [0.049922035, -0.095993537, 0.050612699, -0.004408786],
            [1.0, -2.494956002, 2.017265875, -0.522189400],
            x,
        )
    elif colour == "brown":  # leaky integrator: 1/f^2 above a few Hz
        x = signal.lfilter([1.0], [1.0, -0.995], x)
    x = x[4096:]  # drop the filters' start-up
    x = (x - x.mean()) / x.std()
    out = x.astype(np.float32)
    out.setflags(write=False)
    return out


def _read_bank(colour: str, rng: np.random.Generator, n: int) -> Array:
    bank = _noise_bank(colour)
    n = int(n)
    if n > bank.size:
        return np.concatenate(
            [_read_bank(colour, rng, bank.size), _read_bank(colour, rng, n - bank.size)]
        )
    start = int(rng.integers(0, bank.size - n + 1))
    sign = np.float32(1.0 if rng.random() < 0.5 else -1.0)
    return bank[start : start + n] * sign


def white(rng: np.random.Generator, n: int) -> Array:
    """White noise, ``[n]`` float32, unit variance (a random excerpt of a cached bank)."""
    return _read_bank("white", rng, n)


def pink(rng: np.random.Generator, n: int) -> Array:
    """Approximately 1/f noise, ``[n]`` float32, unit RMS (from a cached bank)."""
    return _read_bank("pink", rng, n)


def brown(rng: np.random.Generator, n: int) -> Array:
    """Brownian (1/f^2) noise, ``[n]`` float32, unit RMS (from a cached bank)."""
    return _read_bank("brown", rng, n)


def rms(x: Array) -> float:
    """Root mean square of ``x`` (0 for an empty array)."""
    if not x.size:
        return 0.0
    x = np.ascontiguousarray(x, dtype=np.float32)
    return float(np.sqrt(max(float(np.dot(x, x)), 0.0) / x.size))


def normalize_rms(x: Array, target: float = 1.0) -> Array:
    """Scale ``x`` to RMS ``target`` (unchanged if silent)."""
    r = rms(x)
    return (x * np.float32(target / r)).astype(np.float32) if r > 1e-12 else x


def db_to_gain(db: float) -> float:
    """Amplitude gain of ``db`` decibels."""
    return float(10.0 ** (db / 20.0))


def butter(
    x: Array, sr: int, kind: str, freq: float | tuple[float, float], order: int = 2
) -> Array:
    """Butterworth low/high/band-pass filter (second-order sections), float32 out.

    Frequencies are clipped to (10 Hz, 0.95 Nyquist) so that any request is realisable.
    """
    nyq = sr / 2.0
    if isinstance(freq, tuple):
        lo, hi = (min(max(f, 10.0), 0.95 * nyq) for f in freq)
        if hi <= lo * 1.01:
            hi = min(lo * 1.2, 0.99 * nyq)
        wn: float | tuple[float, float] = (_quantize(lo / nyq), _quantize(hi / nyq))
    else:
        wn = _quantize(min(max(freq, 10.0), 0.95 * nyq) / nyq)
    if order <= 2:  # direct form is well conditioned at these orders and several times faster
        b, a = _butter_ba(order, wn, kind)
        return signal.lfilter(b, a, np.asarray(x, dtype=np.float32)).astype(np.float32, copy=False)
    return signal.sosfilt(_butter_sos(order, wn, kind), x).astype(np.float32)


def _quantize(w: float) -> float:
    """Round a normalised frequency to 2 % steps on a log scale, so designs can be cached."""
    return math.exp(round(math.log(w) * 50.0) / 50.0)


@lru_cache(maxsize=4096)
def _butter_ba(order: int, wn: float | tuple[float, float], kind: str) -> tuple[Array, Array]:
    b, a = signal.butter(order, list(wn) if isinstance(wn, tuple) else wn, btype=kind)
    return b.astype(np.float32), a.astype(np.float32)


@lru_cache(maxsize=4096)
def _butter_sos(order: int, wn: float | tuple[float, float], kind: str) -> Array:
    return signal.butter(order, list(wn) if isinstance(wn, tuple) else wn, btype=kind, output="sos")


def resonator(x: Array, sr: int, freq: float, bandwidth: float) -> Array:
    """Two-pole resonator (a formant or a body mode) at ``freq`` Hz, unit gain at the peak."""
    r = np.exp(-np.pi * bandwidth / sr)
    theta = 2.0 * np.pi * min(freq, 0.45 * sr) / sr
    a = [1.0, -2.0 * r * np.cos(theta), r * r]
    return signal.lfilter([1.0 - r], a, x).astype(np.float32)


def one_pole_lowpass(x: Array, sr: int, cutoff: float) -> Array:
    """Cheap one-pole low-pass (a brightness control)."""
    p = float(np.exp(-2.0 * np.pi * min(cutoff, 0.45 * sr) / sr))
    return signal.lfilter([1.0 - p], [1.0, -p], x).astype(np.float32)


def phase_from_freq(freq: Array | float, n: int, sr: int, phase0: float = 0.0) -> Array:
    """Instantaneous phase (radians) of a frequency track (Hz, scalar or ``[n]``)."""
    f = np.broadcast_to(np.asarray(freq, dtype=np.float64), (int(n),))
    return (phase0 + 2.0 * np.pi * np.cumsum(f) / sr).astype(np.float64)


def harmonic_sum(phase: Array, amps: Array | list[float], fundamental_max: float, sr: int) -> Array:
    """``sum_k amps[k-1] * sin(k * phase)`` over harmonics below 0.45 ``sr`` (float32).

    Uses the Chebyshev recursion ``sin(k t) = 2 cos(t) sin((k-1) t) - sin((k-2) t)``: one
    sine and one cosine for all harmonics instead of one sine each.
    """
    theta = np.mod(phase, 2.0 * np.pi).astype(np.float32)
    s_cur = np.sin(theta)
    c2 = np.float32(2.0) * np.cos(theta)
    s_prev = np.zeros_like(s_cur)
    out = np.zeros_like(s_cur)
    for k, a in enumerate(amps, start=1):
        if fundamental_max * k >= 0.45 * sr:
            break
        if a:
            out += np.float32(a) * s_cur
        s_prev, s_cur = s_cur, c2 * s_cur - s_prev
    return out


def sawtooth_from_phase(phase: Array) -> Array:
    """Naive sawtooth in [-1, 1] from a phase track (band-limit afterwards if needed)."""
    return (2.0 * ((phase / (2.0 * np.pi)) % 1.0) - 1.0).astype(np.float32)


def pulse_train(phase: Array, sharpness: float = 8.0) -> Array:
    """Glottal-like pulse train from a phase track: a raised cosine to a power, zero mean."""
    p = ((1.0 - np.cos(phase)) * 0.5) ** sharpness
    return (p - p.mean()).astype(np.float32)


def add_at(out: Array, x: Array, start: int, gain: float = 1.0) -> None:
    """Add ``gain * x`` into ``out`` at sample ``start``, cropping at both ends."""
    start = int(start)
    if start >= out.size or start + x.size <= 0:
        return
    s0 = max(0, -start)
    s1 = min(x.size, out.size - start)
    out[start + s0 : start + s1] += np.float32(gain) * x[s0:s1]


def fit_length(x: Array, n: int) -> Array:
    """Crop or zero-pad ``x`` to exactly ``n`` samples."""
    if x.size >= n:
        return x[:n]
    return np.concatenate([x, silence(n - x.size)])


def fade(x: Array, sr: int, seconds: float = 0.01) -> Array:
    """Apply short linear fades at both ends (in place) and return ``x``."""
    k = min(int(seconds * sr), x.size // 2)
    if k > 0:
        up = ramp(0.0, 1.0, k)
        x[:k] *= up
        x[-k:] *= up[::-1]
    return x


def slow_modulation(rng: np.random.Generator, n: int, sr: int, rate: float, depth: float) -> Array:
    """A smooth random gain curve ``1 + depth * m(t)`` with ``m`` band-limited below ``rate`` Hz."""
    k = max(2, int(n / sr * rate) + 2)
    knots = rng.standard_normal(k).astype(np.float32)
    curve = np.interp(np.linspace(0, k - 1, int(n)), np.arange(k), knots).astype(np.float32)
    return np.clip(1.0 + depth * curve, 0.0, None).astype(np.float32)


def midi_to_hz(m: float) -> float:
    """Frequency of MIDI note ``m`` (A4 = 69 = 440 Hz)."""
    return float(440.0 * 2.0 ** ((m - 69.0) / 12.0))
