"""The registry of non-music sound sources the generator renders: key -> renderer, the
top-level category, and fixed attributes (e.g. the voice of ``"female_speech"``).

Musical instruments and drum-kit pieces are rendered through ``music.py``; their keys are
in ``instruments.RANGES`` and ``drums.PIECES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hacd_graph.data.synth import animals, machines, nature, voices
from hacd_graph.data.synth.backgrounds import INTENSITIES, bed_excerpt

Renderer = Callable[[np.random.Generator, int, int, dict], tuple[np.ndarray, int]]


@dataclass(frozen=True)
class SourceKind:
    """A renderable sound source.

    Args:
        key: the generator's name of the source.
        category: top-level category key (``"human"``, ``"animal"``, ``"nature"``,
            ``"vehicle"``, ``"machine"``, ``"household"``, ``"signal"``).
        render: ``(rng, n, sr, attrs) -> (audio [n], events)``.
        attrs: fixed attributes passed to ``render`` (merged over sampled ones).
        min_seconds: shortest span the source needs to be recognisable.
    """

    key: str
    category: str
    render: Renderer
    attrs: dict = field(default_factory=dict)
    min_seconds: float = 1.0


def _from_bed(kind: str) -> Renderer:
    """A continuous source read from its cached ambience bed (rain, wind, traffic): the same
    renderer as the background's, at a random intensity, for a fraction of the cost."""

    def render(rng: np.random.Generator, n: int, sr: int, attrs: dict) -> tuple[np.ndarray, int]:
        intensity = str(rng.choice(INTENSITIES)) if kind != "wind" else "moderate"
        return bed_excerpt(rng, kind, intensity, n, sr), 0

    render.__name__ = f"{kind}_bed"
    return render


def _kinds() -> dict[str, SourceKind]:
    k = SourceKind
    kinds = [
        k("male_speech", "human", voices.speech, {"voice": "male"}, 1.5),
        k("female_speech", "human", voices.speech, {"voice": "female"}, 1.5),
        k("child_speech", "human", voices.speech, {"voice": "child"}, 1.5),
        k("laughter", "human", voices.laughter, {}, 1.5),
        k("cough", "human", voices.cough, {}, 1.0),
        k("whistling", "human", voices.whistling, {}, 1.5),
        k("clapping", "human", voices.clapping, {}, 1.5),
        k("applause", "human", voices.applause, {}, 2.0),
        k("footsteps", "human", voices.footsteps, {}, 2.0),
        k("dog_bark", "animal", animals.dog_bark, {}, 1.0),
        k("cat_meow", "animal", animals.cat_meow, {}, 1.5),
        k("bird_chirp", "animal", animals.bird_chirp, {}, 1.5),
        k("crow_caw", "animal", animals.crow_caw, {}, 1.0),
        k("cow_moo", "animal", animals.cow_moo, {}, 2.0),
        k("frog_croak", "animal", animals.frog_croak, {}, 1.5),
        k("insect_chirp", "animal", animals.insect_chirp, {}, 1.5),
        k("owl_hoot", "animal", animals.owl_hoot, {}, 1.5),
        k("duck_quack", "animal", animals.duck_quack, {}, 1.0),
        k("rain", "nature", _from_bed("rain"), {}, 2.0),
        k("wind", "nature", _from_bed("wind"), {}, 2.0),
        k("stream", "nature", nature.stream, {}, 2.0),
        k("ocean_waves", "nature", nature.ocean_waves, {}, 3.0),
        k("thunder", "nature", nature.thunder, {}, 3.0),
        k("fire_crackle", "nature", nature.fire_crackle, {}, 2.0),
        k("car_engine", "vehicle", machines.engine, {"kind": "car"}, 2.0),
        k("truck_engine", "vehicle", machines.engine, {"kind": "truck"}, 2.0),
        k("helicopter", "vehicle", machines.helicopter, {}, 2.0),
        k("traffic", "vehicle", _from_bed("traffic"), {}, 2.0),
        k("siren", "signal", machines.siren, {}, 2.5),
        k("car_horn", "signal", machines.car_horn, {}, 1.0),
        k("alarm", "signal", machines.alarm, {}, 1.0),
        k("telephone_ring", "signal", machines.telephone_ring, {}, 2.0),
        k("doorbell", "signal", machines.doorbell, {}, 2.0),
        k("clock_tick", "machine", machines.clock_tick, {}, 2.0),
        k("drill", "machine", machines.drill, {}, 2.0),
        k("vacuum_cleaner", "machine", machines.vacuum_cleaner, {}, 2.0),
        k("knock", "household", machines.knock, {}, 1.5),
        k("typing", "household", machines.typing, {}, 1.5),
        k("glass_clink", "household", machines.glass_clink, {}, 1.0),
        k("door_slam", "household", machines.door_slam, {}, 1.0),
    ]
    return {s.key: s for s in kinds}


SOURCES: dict[str, SourceKind] = _kinds()


def render_source(
    rng: np.random.Generator, key: str, n: int, sr: int
) -> tuple[np.ndarray, int, dict]:
    """Render source ``key`` over ``n`` samples.

    Returns:
        (audio ``[n]`` float32, number of events, the attributes it was rendered with).
    """
    if key not in SOURCES:
        raise KeyError(f"unknown sound source {key!r}; known: {sorted(SOURCES)}")
    kind = SOURCES[key]
    attrs = dict(kind.attrs)
    if key in ("car_engine",):
        attrs["rpm"] = float(round(rng.uniform(700, 3000), -1))
    audio, events = kind.render(rng, n, sr, attrs)
    return audio.astype(np.float32), int(events), attrs
