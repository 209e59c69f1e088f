"""The structured scene record: what a synthetic clip contains, from which its labels and
all its text (captions, QA, hierarchical description) are made.

Vocabulary keys (source kinds, instruments, techniques, ...) are the generator's own
names; ``hacd_graph.data.synth.catalog`` maps each to a concept id of the core ACH.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PartRecord:
    """One instrument part of a piece of music.

    Args:
        instrument: instrument key (``"piano"``, ``"double_bass"``, ``"drum_kit"``, ...).
        role: ``"solo"``, ``"melody"``, ``"accompaniment"`` or ``"rhythm_section"``.
        techniques: playing-technique keys heard in the clip (``"fast_arpeggios"``, ...).
        prominence: ``"prominent"`` or ``"supporting"``.
        pieces: drum-kit pieces heard (drums only), e.g. ``["snare", "ride"]``.
        events: notes or hits played inside the clip.
    """

    instrument: str
    role: str
    techniques: list[str] = field(default_factory=list)
    prominence: str = "supporting"
    pieces: list[str] = field(default_factory=list)
    events: int = 0


@dataclass
class MusicRecord:
    """A piece of music: genre, style, tempo, meter, feel, key and its parts."""

    genre: str
    style: str | None
    tempo_bpm: float
    tempo_class: str  # "slow" | "moderate" | "fast"
    meter: str  # "4/4" | "3/4" | "6/8"
    feel: str  # "swing" | "straight"
    key: str  # e.g. "F major"
    parts: list[PartRecord] = field(default_factory=list)

    def instruments(self) -> list[str]:
        """Instrument keys in part order, without repeats."""
        return list(dict.fromkeys(p.instrument for p in self.parts))


@dataclass
class SourceRecord:
    """One non-music foreground sound source.

    Args:
        kind: source key (``"dog_bark"``, ``"siren"``, ...).
        attrs: its sampled attributes (e.g. ``{"voice": "female"}``).
        events: number of discrete events (barks, knocks, ...); 0 for continuous sounds.
    """

    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)
    events: int = 0


@dataclass
class ComponentRecord:
    """A foreground component: a sound source or a piece of music, placed in the scene.

    Args:
        source: set for a sound source.
        music: set for music.
        distance: ``"near"``, ``"moderate"`` or ``"far"``.
        level_db: level relative to the other foreground components.
        start_s, end_s: when it sounds within the clip.
    """

    source: SourceRecord | None = None
    music: MusicRecord | None = None
    distance: str = "near"
    level_db: float = 0.0
    start_s: float = 0.0
    end_s: float = 0.0

    @property
    def kind(self) -> str:
        """``"music"`` or the source's kind."""
        return "music" if self.music is not None else self.source.kind  # type: ignore[union-attr]


@dataclass
class BackgroundRecord:
    """The ambience under the foreground.

    Args:
        kind: ``"cafe"``, ``"street"``, ``"crowd"``, ``"rain"``, ``"park"``, ``"room_tone"``...
        intensity: ``"light"``, ``"moderate"`` or ``"heavy"``.
        elements: source keys audible in the background with their event counts.
    """

    kind: str
    intensity: str = "moderate"
    elements: dict[str, int] = field(default_factory=dict)


@dataclass
class AcousticsRecord:
    """Acoustic and recording properties applied to the clip (all measured or set)."""

    environment: str  # "indoor" | "outdoor"
    room_size: str | None  # "small" | "medium" | "large" | None outdoors
    rt60_s: float
    reverberation: str  # "dry" | "slight" | "moderate" | "strong"
    snr_db: float  # foreground to background
    noise_floor_db: float  # recorder hiss relative to the clip (dB)
    noise: str  # "clean" | "noisy"
    bandwidth: str  # "full" | "telephone" | "am_radio"
    clipping: bool
    loudness_db: float  # RMS dBFS of the final clip
    loudness: str  # "quiet" | "moderate" | "loud"
    fidelity: str  # "high" | "low"


@dataclass
class BankEventRecord:
    """A real recording from the sound bank placed in the scene as a foreground event.

    Args:
        id: the bank clip's id. package: its source package.
        labels: its ACH labels (as the bank wrote them). audioset: its AudioSet MIDs.
        caption: the bank's caption of it.
        distance, level_db, start_s, end_s: as for :class:`ComponentRecord`.
    """

    id: str
    package: str
    labels: list[str]
    audioset: list[str]
    caption: str
    distance: str = "near"
    level_db: float = 0.0
    start_s: float = 0.0
    end_s: float = 0.0


@dataclass
class SceneRecord:
    """Everything a synthetic clip contains.

    Args:
        seed, index: the clip is ``generate(seed, index)``.
        sample_rate, duration_s: the audio format.
        place: the scene's setting (``"cafe"``, ``"street"``, ...).
        preset: name of the preset it was made from, if any.
        components: foreground components (1–4).
        background: the ambience.
        acoustics: the applied acoustic properties.
        bank_events: real recordings from the sound bank placed as foreground events
            (empty unless ``SceneConfig.bank`` is set).
    """

    seed: int
    index: int
    sample_rate: int
    duration_s: float
    place: str
    preset: str | None
    components: list[ComponentRecord]
    background: BackgroundRecord
    acoustics: AcousticsRecord
    bank_events: list[BankEventRecord] = field(default_factory=list)

    def music(self) -> list[MusicRecord]:
        """The music components' records."""
        return [c.music for c in self.components if c.music is not None]

    def sources(self) -> list[SourceRecord]:
        """The non-music foreground sources' records."""
        return [c.source for c in self.components if c.source is not None]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``SceneRecord.from_dict`` inverts it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneRecord:
        """Rebuild a record from ``to_dict`` output."""
        comps = []
        for c in d["components"]:
            music = None
            if c.get("music") is not None:
                m = dict(c["music"])
                m["parts"] = [PartRecord(**p) for p in m["parts"]]
                music = MusicRecord(**m)
            source = SourceRecord(**c["source"]) if c.get("source") is not None else None
            rest = {k: v for k, v in c.items() if k not in ("music", "source")}
            comps.append(ComponentRecord(source=source, music=music, **rest))
        skip = ("components", "background", "acoustics", "bank_events")
        return cls(
            **{k: v for k, v in d.items() if k not in skip},
            bank_events=[BankEventRecord(**e) for e in d.get("bank_events", [])],
            components=comps,
            background=BackgroundRecord(**d["background"]),
            acoustics=AcousticsRecord(**d["acoustics"]),
        )
