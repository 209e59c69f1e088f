"""Background ambiences: cafe, street, crowd, rain, park and quiet room tone.

Each ambience is a mix of source renderers; the returned dict names the elements that are
audible in it with their event counts (0 for continuous elements), so that labels and text
mention only what is there.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hacd_graph.data.synth import animals, dsp, machines, nature, voices

BACKGROUNDS = ("cafe", "street", "crowd", "rain", "park", "room_tone")
INTENSITIES = ("light", "moderate", "heavy")
_TALKERS = {"light": 3, "moderate": 6, "heavy": 12}
BED_SECONDS = 20.0


@lru_cache(maxsize=32)
def _bed(kind: str, intensity: str, sr: int) -> np.ndarray:
    """A cached 20 s render of a continuous ambience bed (fixed seed), read-only.

    Clips take random excerpts of it, like excerpts of a long field recording; countable
    events (laughter, clinks, footsteps, birds) are rendered per clip on top, not in the bed.
    """
    rng = np.random.default_rng([sum(map(ord, kind)), INTENSITIES.index(intensity), sr])
    n = int(BED_SECONDS * sr)
    if kind == "babble":
        x, _ = voices.babble(rng, n, sr, {"talkers": _TALKERS[intensity]})
    elif kind == "traffic":
        x, _ = machines.traffic(rng, n, sr, {})
    elif kind == "rain":
        x, _ = nature.rain(rng, n, sr, {"intensity": (0.3, 0.6, 1.0)[INTENSITIES.index(intensity)]})
    elif kind == "wind":
        x, _ = nature.wind(rng, n, sr, {})
    else:  # room tone: ventilation hum and air
        t = dsp.time_axis(n, sr)
        hum = (np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
        x = 0.3 * hum + dsp.normalize_rms(dsp.butter(dsp.pink(rng, n), sr, "low", 800.0))
    x = dsp.normalize_rms(x.astype(np.float32))
    x.setflags(write=False)
    return x


def bed_excerpt(rng: np.random.Generator, kind: str, intensity: str, n: int, sr: int) -> np.ndarray:
    """A random ``n``-sample excerpt (a copy) of the cached ``kind`` bed at ``intensity``."""
    bed = _bed(kind, intensity, sr)
    if n > bed.size:
        reps = int(np.ceil(n / bed.size))
        return np.tile(bed, reps)[:n].copy()
    start = int(rng.integers(0, bed.size - n + 1))
    return bed[start : start + n].copy()


def render_background(
    rng: np.random.Generator,
    kind: str,
    intensity: str,
    n: int,
    sr: int,
    elements: dict[str, int] | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Render an ambience.

    Args:
        rng: the clip's random generator.
        kind: one of ``BACKGROUNDS``.
        intensity: one of ``INTENSITIES`` (crowd size, rain strength, traffic density).
        n, sr: length in samples and sample rate.
        elements: for ``"cafe"``, force event counts (``{"laughter": 1, "glass_clink": 2}``);
            ``None`` samples them.

    Returns:
        (audio ``[n]`` at unit RMS, ``{element: events}`` of what is audible).
    """
    if kind not in BACKGROUNDS:
        raise ValueError(f"unknown background {kind!r}; known: {BACKGROUNDS}")
    if intensity not in INTENSITIES:
        raise ValueError(f"unknown intensity {intensity!r}; known: {INTENSITIES}")
    found: dict[str, int] = {}
    if kind in ("cafe", "crowd"):
        out = bed_excerpt(rng, "babble", intensity, n, sr)
        found["crowd_chatter"] = 0
        if kind == "cafe":
            want = dict(elements or {})
            if elements is None:
                if rng.random() < 0.6:
                    want["laughter"] = int(rng.integers(1, 3))
                if rng.random() < 0.8:
                    want["glass_clink"] = int(rng.integers(1, 4))
            if want.get("laughter"):
                x, k = voices.laughter(rng, n, sr, {"count": want["laughter"]})
                out = out + 0.6 * dsp.normalize_rms(x)
                found["laughter"] = k
            if want.get("glass_clink"):
                x, k = machines.glass_clink(rng, n, sr, {"count": want["glass_clink"]})
                out = out + 0.7 * dsp.normalize_rms(x)
                found["glass_clink"] = k
    elif kind == "street":
        out = bed_excerpt(rng, "traffic", intensity, n, sr)
        found["traffic"] = 0
        if rng.random() < 0.5:
            steps, k = voices.footsteps(rng, n, sr, {})
            out = dsp.normalize_rms(out) + 0.4 * dsp.normalize_rms(steps)
            found["footsteps"] = k
    elif kind == "rain":
        out = bed_excerpt(rng, "rain", intensity, n, sr)
        found["rain"] = 0
    elif kind == "park":
        w = bed_excerpt(rng, "wind", "moderate", n, sr)
        birds, k = animals.bird_chirp(rng, n, sr, {"count": int(rng.integers(2, 5))})
        out = 0.5 * dsp.normalize_rms(w) + dsp.normalize_rms(birds)
        found.update(wind=0, bird_chirp=k)
    else:
        out = bed_excerpt(rng, "room_tone", "moderate", n, sr)
        found["hum"] = 0
    return dsp.normalize_rms(out.astype(np.float32)), found
