"""Machines, vehicles, signals and household impacts: engines, siren, horn, alarm, clock,
knocking, telephone, doorbell, typing, clinking glass, door slam, drill, vacuum cleaner,
helicopter.

Renderers take ``(rng, n, sr, attrs)`` and return (``[n]`` float32, number of events; 0
for continuous sounds).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from hacd_graph.data.synth import dsp
from hacd_graph.data.synth.animals import harmonic_call


def _harmonic_drone(freq: float | np.ndarray, n: int, sr: int, amps: list[float]) -> np.ndarray:
    phase = dsp.phase_from_freq(freq, n, sr)
    return dsp.harmonic_sum(phase, amps, float(np.max(freq)), sr)


def engine(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A combustion engine idling or revving: firing-rate harmonics plus rumble.

    attrs: ``rpm`` (default 700–3000), ``kind`` in {"car", "truck"}.
    """
    truck = attrs.get("kind", "car") == "truck"
    rpm = float(attrs.get("rpm", rng.uniform(600, 900) if truck else rng.uniform(800, 3000)))
    cylinders = 6 if truck else 4
    fire = rpm / 60.0 * cylinders / 2.0
    track = fire * dsp.slow_modulation(rng, n, sr, rate=0.5, depth=0.08)
    tone = _harmonic_drone(track, n, sr, [1.0, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1])
    rumble = dsp.butter(dsp.brown(rng, n), sr, "low", 250.0 if truck else 400.0)
    out = dsp.normalize_rms(tone) + 0.6 * dsp.normalize_rms(rumble)
    return dsp.butter(out, sr, "low", 1500.0 if truck else 2500.0), 0


def siren(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """An emergency siren: a wail (slow 600–1400 Hz sweep) or a yelp (fast sweep)."""
    mode = attrs.get("mode", rng.choice(["wail", "yelp"]))
    rate = rng.uniform(0.2, 0.35) if mode == "wail" else rng.uniform(3.0, 4.0)
    t = dsp.time_axis(n, sr)
    contour = 1000.0 + 400.0 * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.28))
    return harmonic_call(contour, sr, 5, 6.0, 0.0, rng), 0


def car_horn(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Car horn honks: two detuned buzzy tones (~400 and ~500 Hz). Returns (audio, honks)."""
    count = int(attrs.get("count", rng.integers(1, 4)))
    out = dsp.silence(n)
    slot = max(0.01, n / sr - 0.7) / count
    for k in range(count):
        m = int(rng.uniform(0.2, 0.6) * sr)
        x = _harmonic_drone(405.0, m, sr, [1, 0.8, 0.6, 0.5, 0.4]) + _harmonic_drone(
            510.0, m, sr, [1, 0.8, 0.6, 0.5, 0.4]
        )
        dsp.add_at(
            out,
            x * dsp.adsr(m, sr, 0.01, 0.02, 0.9, 0.03),
            int(slot * (k + rng.uniform(0, 0.5)) * sr),
        )
    return out, count


def alarm(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """An electronic alarm: square-ish beeps at 2–3 kHz, 3–5 per second. Returns (audio, beeps)."""
    f = min(rng.uniform(2000, 3200), 0.4 * sr)
    rate = rng.uniform(3.0, 5.0)
    t = dsp.time_axis(n, sr)
    gate = (((t * rate) % 1.0) < 0.5).astype(np.float32)
    gate = dsp.one_pole_lowpass(gate, sr, 200.0)
    tone = _harmonic_drone(f, n, sr, [1.0, 0.0, 0.3])
    return tone * gate, int(np.floor(n / sr * rate))


def clock_tick(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A mechanical clock ticking twice a second (tick and slightly different tock)."""
    out = dsp.silence(n)
    m = int(0.02 * sr)
    tick = dsp.resonator(dsp.white(rng, m), sr, 3000.0, 300.0) * dsp.exp_decay(m, sr, 0.003)
    tock = dsp.resonator(dsp.white(rng, m), sr, 2300.0, 300.0) * dsp.exp_decay(m, sr, 0.003)
    t0 = rng.uniform(0.0, 0.5)
    ticks = 0
    while t0 < n / sr - 0.02:
        dsp.add_at(out, tick if ticks % 2 == 0 else tock, int(t0 * sr))
        ticks += 1
        t0 += 0.5
    return dsp.normalize_rms(out), ticks


def knock(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Knocking on a wooden door: groups of 2–4 damped wood-resonance knocks."""
    count = int(attrs.get("count", rng.integers(2, 5)))
    out = dsp.silence(n)
    m = int(0.08 * sr)
    t0 = rng.uniform(0.1, max(0.11, n / sr - count * 0.25 - 0.1))
    for _ in range(count):
        x = dsp.white(rng, m)
        body = dsp.resonator(x, sr, rng.uniform(180, 260), 40.0) + 0.5 * dsp.resonator(
            x, sr, 620.0, 80.0
        )
        dsp.add_at(out, dsp.normalize_rms(body) * dsp.exp_decay(m, sr, 0.015), int(t0 * sr))
        t0 += rng.uniform(0.18, 0.26)
    return out, count


def telephone_ring(
    rng: np.random.Generator, n: int, sr: int, attrs: dict
) -> tuple[np.ndarray, int]:
    """A telephone ringing: 440+480 Hz dual tone, 2 s on / 4 s off cadence (or 0.4 s bursts)."""
    t = dsp.time_axis(n, sr)
    tone = (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)).astype(np.float32)
    start = rng.uniform(0.0, 0.5)
    on = ((t >= start) & (((t - start) % 3.0) < 1.2)).astype(np.float32)
    rings = int(np.ceil((n / sr - start) / 3.0))
    return tone * dsp.one_pole_lowpass(on, sr, 100.0), rings


def doorbell(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A two-note ding-dong chime (a major third apart), bell-like partials."""
    out = dsp.silence(n)
    root = rng.uniform(600, 800)
    m = int(1.2 * sr)
    t = dsp.time_axis(m, sr)
    start = int(rng.uniform(0.0, max(0.01, n / sr - 1.8)) * sr)
    for i, f in enumerate((root * 1.26, root)):
        tone = sum(np.sin(2 * np.pi * f * r * t) * a for r, a in ((1, 1.0), (2.0, 0.4), (3.0, 0.2)))
        dsp.add_at(
            out, tone.astype(np.float32) * dsp.exp_decay(m, sr, 0.5), start + i * int(0.5 * sr)
        )
    return out, 1


def typing(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Typing on a keyboard: irregular key clicks, 5–9 a second, in word-like bursts."""
    out = dsp.silence(n)
    m = int(0.015 * sr)
    t0 = rng.uniform(0.0, 0.3)
    keys = 0
    while t0 < n / sr - 0.02:
        click = dsp.resonator(dsp.white(rng, m), sr, rng.uniform(2000, 4000), 800.0)
        dsp.add_at(out, click * dsp.exp_decay(m, sr, 0.003), int(t0 * sr), rng.uniform(0.5, 1.0))
        keys += 1
        t0 += rng.uniform(0.08, 0.18) + (rng.uniform(0.2, 0.4) if rng.random() < 0.15 else 0.0)
    return dsp.normalize_rms(out), keys


def glass_clink(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Glasses clinking: short inharmonic high partials (2.5–6 kHz), ringing ~0.3 s."""
    count = int(attrs.get("count", rng.integers(1, 4)))
    out = dsp.silence(n)
    m = int(0.5 * sr)
    t = dsp.time_axis(m, sr)
    slot = max(0.01, n / sr - 0.5) / count
    top = 0.45 * sr
    for k in range(count):
        f = rng.uniform(2500, 4000)
        x = sum(
            np.sin(2 * np.pi * min(f * r, top) * t) * a * np.exp(-t / (0.25 / r))
            for r, a in ((1.0, 1.0), (1.58, 0.5), (2.31, 0.3))
        ).astype(np.float32)
        dsp.add_at(
            out, x * dsp.exp_decay(m, sr, 1.0, 0.0005), int(slot * (k + rng.uniform(0, 0.6)) * sr)
        )
    return out, count


def door_slam(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A door slamming: a loud low thud with a rattle."""
    out = dsp.silence(n)
    m = int(0.4 * sr)
    x = dsp.white(rng, m)
    thud = dsp.resonator(x, sr, rng.uniform(70, 110), 30.0) * dsp.exp_decay(m, sr, 0.08)
    rattle = dsp.butter(x, sr, "band", (800.0, 3000.0)) * dsp.exp_decay(m, sr, 0.03)
    dsp.add_at(
        out,
        dsp.normalize_rms(thud) + 0.3 * dsp.normalize_rms(rattle),
        int(rng.uniform(0.1, 0.6) * n),
    )
    return out, 1


def drill(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A power drill: a motor whine (harmonics of ~200–300 Hz) in bursts, with grinding noise."""
    t = dsp.time_axis(n, sr)
    f = rng.uniform(180, 300) * (1.0 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    whine = _harmonic_drone(f, n, sr, [1.0, 0.8, 0.7, 0.5, 0.4, 0.3, 0.2, 0.2])
    grind = dsp.butter(dsp.white(rng, n), sr, "band", (1000.0, 5000.0))
    on = dsp.one_pole_lowpass(
        (np.sin(2 * np.pi * rng.uniform(0.3, 0.6) * t + 1.0) > -0.4).astype(np.float32), sr, 20.0
    )
    return (dsp.normalize_rms(whine) + 0.3 * dsp.normalize_rms(grind)) * on, 0


def vacuum_cleaner(
    rng: np.random.Generator, n: int, sr: int, attrs: dict
) -> tuple[np.ndarray, int]:
    """A vacuum cleaner: loud broadband airflow noise with a high motor whine."""
    air = dsp.butter(dsp.pink(rng, n), sr, "band", (200.0, 6000.0))
    whine = _harmonic_drone(rng.uniform(600, 900), n, sr, [1.0, 0.4])
    return dsp.normalize_rms(air) + 0.3 * dsp.normalize_rms(whine), 0


def helicopter(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """A helicopter: blade slap (noise pulses at 15–25 Hz) over turbine rumble."""
    t = dsp.time_axis(n, sr)
    rate = rng.uniform(15, 25)
    slap = np.maximum(0.0, np.sin(2 * np.pi * rate * t)) ** 8
    noise = dsp.butter(dsp.white(rng, n), sr, "low", 1200.0)
    rumble = dsp.butter(dsp.brown(rng, n), sr, "low", 200.0)
    out = dsp.normalize_rms(noise * slap.astype(np.float32)) + 0.5 * dsp.normalize_rms(rumble)
    return out.astype(np.float32), 0


def traffic(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
    """Distant road traffic: a low broadband roar with passing vehicles (slow swells)."""
    roar = dsp.butter(dsp.pink(rng, n) + dsp.brown(rng, n), sr, "low", 1500.0)
    passes = dsp.slow_modulation(rng, n, sr, rate=0.6, depth=0.5)
    engines = [engine(rng, n, sr, {"rpm": rng.uniform(1200, 2500)})[0] for _ in range(2)]
    out = dsp.normalize_rms(roar) * passes + 0.3 * dsp.normalize_rms(sum(engines))
    return signal.sosfilt(signal.butter(2, 3000 / (sr / 2), output="sos"), out).astype(
        np.float32
    ), 0
