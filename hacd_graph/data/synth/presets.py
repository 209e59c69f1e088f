"""Named scene presets: partial scene specifications; whatever a preset leaves unset is
sampled as usual, so every clip of a preset is a different take of the same scene.

``jazz_cafe`` is the project's seed example: a jazz band (piano solo with fast arpeggios,
walking double bass, drums with brushes and occasional cymbals, moderate swinging tempo,
bebop-influenced) in a busy cafe (indistinct chatter, laughter, clinking glasses; moderate
crowd; indoor, medium room with moderate reverberation; high fidelity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hacd_graph.data.synth.music import MusicSpec


@dataclass(frozen=True)
class ScenePreset:
    """A partial scene specification (``None`` fields are sampled).

    Args:
        place: place key (see ``places.PLACES``).
        room_size: ``"small"``, ``"medium"`` or ``"large"``.
        rt60_s: (low, high) reverberation time range in seconds.
        background: ambience kind; background_intensity: its intensity.
        background_elements: forced background elements with event counts.
        music: the music to play (``None`` = no music unless sampled).
        sources: foreground source keys besides the music (``()`` = none).
        distance: distance of every foreground component.
        snr_db: (low, high) foreground-to-background ratio.
        noise_floor_db: (low, high) recorder hiss relative to the clip.
        bandwidth: ``"full"``, ``"telephone"`` or ``"am_radio"``.
        clipping: whether to clip.
        loudness_dbfs: (low, high) target RMS level.
    """

    place: str | None = None
    room_size: str | None = None
    rt60_s: tuple[float, float] | None = None
    background: str | None = None
    background_intensity: str | None = None
    background_elements: dict[str, int] | None = None
    music: MusicSpec | None = None
    sources: tuple[str, ...] | None = None
    distance: str | None = None
    snr_db: tuple[float, float] | None = None
    noise_floor_db: tuple[float, float] | None = None
    bandwidth: str | None = None
    clipping: bool | None = None
    loudness_dbfs: tuple[float, float] | None = None
    extra: dict = field(default_factory=dict)


PRESETS: dict[str, ScenePreset] = {
    "jazz_cafe": ScenePreset(
        place="cafe",
        room_size="medium",
        rt60_s=(0.6, 0.8),
        background="cafe",
        background_intensity="moderate",
        background_elements={"laughter": 1, "glass_clink": 2},
        music=MusicSpec(
            genre="jazz",
            tempo_bpm=None,
            meter="4/4",
            lineup=[
                ("piano", "solo", "fast_arpeggios"),
                ("double_bass", "rhythm_section", "walking_bass"),
                ("drum_kit", "rhythm_section", "brushes"),
            ],
            cymbals="accents",
            style="bebop",
            extra={"tempo_range": (112, 132)},
        ),
        sources=(),
        distance="near",
        snr_db=(8.0, 11.0),
        noise_floor_db=(-70.0, -60.0),
        bandwidth="full",
        clipping=False,
        loudness_dbfs=(-24.0, -20.0),
    ),
    "street_siren": ScenePreset(
        place="street",
        background="street",
        sources=("siren", "car_horn"),
        bandwidth="full",
        clipping=False,
    ),
    "phone_call": ScenePreset(place="office", sources=("female_speech",), bandwidth="telephone"),
    "am_radio_rock": ScenePreset(
        place="home", music=MusicSpec(genre="rock"), sources=(), bandwidth="am_radio"
    ),
    "rainy_park": ScenePreset(place="park", background="rain", background_intensity="heavy"),
}
