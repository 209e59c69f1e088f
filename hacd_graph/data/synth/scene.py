"""The scene sampler: clip ``index`` of seed ``seed`` -> (audio, ``SceneRecord``).

A scene is 1–4 foreground components (sound sources and at most one piece of music) over
a background ambience, placed in a room (or outdoors) at a distance, then passed through a
recording chain (noise floor, bandwidth, loudness, clipping). Every random choice comes
from ``numpy.random.default_rng(SeedSequence([seed, index]))``, so any clip can be
regenerated alone, in any order, in any process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hacd_graph.data.synth import acoustics, dsp
from hacd_graph.data.synth.backgrounds import INTENSITIES, render_background
from hacd_graph.data.synth.music import MusicSpec, render_music
from hacd_graph.data.synth.places import PLACES
from hacd_graph.data.synth.presets import PRESETS, ScenePreset
from hacd_graph.data.synth.record import (
    AcousticsRecord,
    BackgroundRecord,
    BankEventRecord,
    ComponentRecord,
    SceneRecord,
    SourceRecord,
)
from hacd_graph.data.synth.sources import SOURCES, render_source


@dataclass(frozen=True)
class SceneConfig:
    """Settings of the scene generator.

    Args:
        sample_rate: Hz (default 16000).
        duration_s: clip length in seconds (default 4.0).
        min_foreground: fewest foreground components (default 1).
        max_foreground: most foreground components (default 4).
        places: place keys to draw from (default: all of ``places.PLACES``).
        preset: name of a preset in ``presets.PRESETS`` applied to every clip (default none).
        telephone_prob: probability of telephone bandwidth (default 0.07).
        am_radio_prob: probability of AM-radio bandwidth (default 0.05).
        clipping_prob: probability of clipping (default 0.08).
        noisy_prob: probability of an audible noise floor (default 0.15).
        background_intensity: force the ambience's intensity (crowd size, rain strength,
            traffic density): ``"light"``, ``"moderate"`` or ``"heavy"`` (default: sampled, or
            the preset's).
        cooccurrence: AudioSet segment CSVs; when given, each further foreground source is
            drawn with its place weight times its co-occurrence lift with the sources
            already in the scene (``cooccurrence.py``), so scenes combine sounds as real
            recordings do (default none: place weights only).
        bank: folder of a sound bank (``hacd-graph data soundbank``); when set, real
            recordings from it are placed as foreground events beside the procedural
            sources, at a random onset, level, distance, in the scene's room, and their
            labels join the clip's (default none).
        bank_packages: the bank packages clips may draw from (the training split; default
            empty: every package).
        bank_prob: probability that a clip gets bank events (default 0.5).
        bank_max_events: most bank events per clip (default 2).
        bank_balance: draw every labelling rule of the bank equally often rather than every
            clip (default ``True``: the instrument notes would otherwise dominate).
    """

    sample_rate: int = 16000
    duration_s: float = 4.0
    min_foreground: int = 1
    max_foreground: int = 4
    places: tuple[str, ...] | None = None
    preset: str | None = None
    telephone_prob: float = 0.07
    am_radio_prob: float = 0.05
    clipping_prob: float = 0.08
    noisy_prob: float = 0.15
    background_intensity: str | None = None
    cooccurrence: tuple[str, ...] = ()
    bank: str | None = None
    bank_packages: tuple[str, ...] = ()
    bank_prob: float = 0.5
    bank_max_events: int = 2
    bank_balance: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.min_foreground <= self.max_foreground <= 4:
            raise ValueError(
                f"need 1 <= min_foreground <= max_foreground <= 4, got "
                f"{self.min_foreground}, {self.max_foreground}"
            )
        if self.background_intensity not in (None, *INTENSITIES):
            raise ValueError(
                f"unknown background intensity {self.background_intensity!r}; known: {INTENSITIES}"
            )
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {sorted(PRESETS)}")
        if not 0.0 <= self.bank_prob <= 1.0 or self.bank_max_events < 1:
            raise ValueError(f"need 0 <= bank_prob <= 1 and bank_max_events >= 1, got "
                             f"{self.bank_prob}, {self.bank_max_events}")
        for p in self.places or ():
            if p not in PLACES:
                raise ValueError(f"unknown place {p!r}; known: {sorted(PLACES)}")


_BANK_FIELDS = ("bank", "bank_packages", "bank_prob", "bank_max_events", "bank_balance")


def scene_settings(config: SceneConfig) -> dict:
    """``config`` as the dict a data folder records (``export.claim_folder``): the bank
    fields only when a bank is set, so folders generated before the bank existed resume."""
    d = asdict(config)
    if config.bank is None:
        for k in _BANK_FIELDS:
            d.pop(k)
    return d


def clip_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of clip ``index`` of ``seed`` (independent of every other clip)."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got seed={seed}, index={index}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def _uniform(
    rng: np.random.Generator, bounds: tuple[float, float] | None, default: tuple[float, float]
) -> float:
    lo, hi = bounds if bounds is not None else default
    return float(rng.uniform(lo, hi))


def _weighted(rng: np.random.Generator, weights: dict[str, float], k: int) -> list[str]:
    keys = list(weights)
    p = np.array([weights[x] for x in keys], dtype=np.float64)
    k = min(k, len(keys))
    return [keys[i] for i in rng.choice(len(keys), size=k, replace=False, p=p / p.sum())]


def _cooccurring(
    rng: np.random.Generator,
    pool: dict[str, float],
    k: int,
    present: list[str],
    config: SceneConfig,
) -> list[str]:
    """Draw ``k`` sources one at a time, weighting each candidate by its place weight times
    its co-occurrence lift with everything already in the scene (background included)."""
    from hacd_graph.data.synth.cooccurrence import load_cooccurrence

    table = load_cooccurrence(tuple(str(p) for p in config.cooccurrence))
    chosen: list[str] = []
    for _ in range(min(k, len(pool))):
        weights = {
            c: w * float(np.prod([table.weight(c, p) for p in present + chosen]))
            for c, w in pool.items()
            if c not in chosen
        }
        chosen += _weighted(rng, weights, 1)
    return chosen


_BANK_STREAM = 11  # bank draws use their own stream: the procedural scene stays the same


def _bank_events(
    seed: int,
    index: int,
    config: SceneConfig,
    n: int,
    preset: ScenePreset,
    stems: list[tuple[np.ndarray, int, str, float]],
) -> list[BankEventRecord]:
    """Draw 0..``bank_max_events`` bank recordings, append their stems (cropped to the clip
    when longer, at a random onset, distance and level) and return their records."""
    from hacd_graph.data.soundbank.index import load_bank

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), _BANK_STREAM]))
    if rng.random() >= config.bank_prob:
        return []
    bank = load_bank(str(config.bank), tuple(config.bank_packages), config.bank_balance)
    sr = config.sample_rate
    events = []
    for _ in range(int(rng.integers(1, config.bank_max_events + 1))):
        entry = bank.draw(rng)
        audio = bank.audio(entry, sr)
        if audio.size > n:
            off = int(rng.integers(0, audio.size - n + 1))
            audio = audio[off : off + n]
        start = int(rng.integers(0, n - audio.size + 1))
        audio = dsp.fade(audio.astype(np.float32), sr, 0.005)
        distance = preset.distance or str(
            rng.choice(["near", "moderate", "far"], p=[0.5, 0.35, 0.15])
        )
        level = float(rng.uniform(-6.0, 0.0))
        stems.append((audio, start, distance, level))
        events.append(
            BankEventRecord(
                id=entry["id"],
                package=entry["source_package"],
                labels=list(entry["labels"]),
                audioset=list(entry.get("audioset", [])),
                caption=entry.get("caption", ""),
                distance=distance,
                level_db=round(level, 2),
                start_s=round(start / sr, 3),
                end_s=round((start + audio.size) / sr, 3),
            )
        )
    return events


def generate(
    seed: int, index: int, config: SceneConfig | None = None
) -> tuple[np.ndarray, SceneRecord]:
    """Render clip ``index`` of ``seed``.

    Args:
        seed: the data set's seed (non-negative).
        index: the clip's index (non-negative).
        config: generator settings (default ``SceneConfig()``).

    Returns:
        (audio ``[round(duration_s * sample_rate)]`` float32 in [-1, 1], its ``SceneRecord``).
    """
    config = config or SceneConfig()
    preset = PRESETS[config.preset] if config.preset else ScenePreset()
    rng = clip_rng(seed, index)
    sr = config.sample_rate
    n = int(round(config.duration_s * sr))

    place = PLACES[preset.place or str(rng.choice(sorted(config.places or PLACES)))]
    indoor = place.environment == "indoor"
    room = (preset.room_size or str(rng.choice(place.rooms))) if indoor else None
    rt60 = (
        acoustics.quantize_rt60(_uniform(rng, preset.rt60_s, acoustics.ROOM_RT60[room]))
        if room
        else 0.0
    )

    bg_kind = preset.background or str(rng.choice(place.backgrounds))
    sampled_intensity = str(rng.choice(INTENSITIES))  # drawn always: overrides keep the rest
    bg_intensity = config.background_intensity or preset.background_intensity or sampled_intensity
    background, bg_elements = render_background(
        rng, bg_kind, bg_intensity, n, sr, preset.background_elements
    )

    # Foreground: the preset's lineup, or 1-4 components drawn from the place.
    if preset.music is not None or preset.sources is not None:
        music_spec = preset.music
        source_keys = list(preset.sources or ())
    else:
        count = int(rng.integers(config.min_foreground, config.max_foreground + 1))
        has_music = rng.random() < place.music_prob
        music_spec = None
        if has_music:
            genres = place.genres
            music_spec = MusicSpec(genre=_weighted(rng, genres, 1)[0])
        pool = {k: w for k, w in place.sources.items() if k not in bg_elements}
        if config.cooccurrence:
            source_keys = _cooccurring(rng, pool, count - int(has_music), list(bg_elements), config)
        else:
            source_keys = _weighted(rng, pool, count - int(has_music))

    components: list[ComponentRecord] = []
    stems: list[tuple[np.ndarray, int, str, float]] = []  # (audio span, start, distance, level dB)
    if music_spec is not None:
        audio, mrec = render_music(rng, n, sr, music_spec)
        distance = preset.distance or str(
            rng.choice(["near", "moderate", "far"], p=[0.5, 0.35, 0.15])
        )
        level = 0.0 if not source_keys else float(rng.uniform(-3.0, 0.0))
        components.append(
            ComponentRecord(
                music=mrec, distance=distance, level_db=level, start_s=0.0, end_s=config.duration_s
            )
        )
        stems.append((audio, 0, distance, level))
    for key in source_keys:
        kind = SOURCES[key]
        span_s = (
            config.duration_s
            if kind.min_seconds >= config.duration_s
            else float(rng.uniform(min(kind.min_seconds, config.duration_s), config.duration_s))
        )
        if len(source_keys) + (music_spec is not None) == 1:
            span_s = config.duration_s
        m = int(span_s * sr)
        start = int(rng.integers(0, n - m + 1))
        audio, events, attrs = render_source(rng, key, m, sr)
        audio = dsp.fade(audio, sr, 0.005)
        distance = preset.distance or str(
            rng.choice(["near", "moderate", "far"], p=[0.5, 0.35, 0.15])
        )
        level = float(rng.uniform(-3.0, 0.0))
        components.append(
            ComponentRecord(
                source=SourceRecord(key, attrs, events),
                distance=distance,
                level_db=round(level, 2),
                start_s=round(start / sr, 3),
                end_s=round((start + m) / sr, 3),
            )
        )
        stems.append((audio, start, distance, level))

    bank_events = _bank_events(seed, index, config, n, preset, stems) if config.bank else []

    # Mix: each component's active RMS at its level (distance lowers it), background under it.
    # Components at one distance share a bus, so air absorption is one filter per distance.
    buses: dict[str, np.ndarray] = {}
    for audio, start, distance, level in stems:  # audio spans [start, start + len)
        gain = dsp.db_to_gain(level + acoustics.DISTANCE[distance][0]) / max(dsp.rms(audio), 1e-9)
        bus = buses.setdefault(distance, dsp.silence(n))
        bus[start : start + audio.size] += np.float32(gain) * audio
    dry = dsp.silence(n)
    send = dsp.silence(n)
    for distance, bus in buses.items():
        heard = acoustics.air_absorption(bus, distance, sr)
        dry += heard
        send += np.float32(acoustics.DISTANCE[distance][1]) * heard
    snr = _uniform(rng, preset.snr_db, (8.0, 20.0))
    bg = background * np.float32(dsp.db_to_gain(-snr))
    if indoor:
        variant = int(rng.integers(acoustics.RIR_VARIANTS))
        mix = dry + bg + acoustics.reverberate_in_room(send + 0.5 * bg, room, rt60, variant, sr)
    else:
        mix = dry + bg

    # Recording chain.
    if preset.bandwidth is not None:
        bandwidth = preset.bandwidth
    else:
        u = rng.random()
        bandwidth = (
            "telephone"
            if u < config.telephone_prob
            else ("am_radio" if u < config.telephone_prob + config.am_radio_prob else "full")
        )
    mix = acoustics.band_limit(mix, bandwidth, sr, rng)
    noisy = rng.random() < config.noisy_prob
    floor_db = _uniform(rng, preset.noise_floor_db, (-32.0, -18.0) if noisy else (-75.0, -50.0))
    mix = acoustics.add_noise_floor(mix, floor_db, rng)
    mix, loud_db = acoustics.set_loudness(mix, _uniform(rng, preset.loudness_dbfs, (-38.0, -14.0)))
    clip = (
        preset.clipping
        if preset.clipping is not None
        else bool(rng.random() < config.clipping_prob)
    )
    clipped = False
    if clip:
        mix, fraction = acoustics.clip_hard(mix, float(rng.uniform(95.0, 99.0)))
        clipped = fraction >= 0.005
        loud_db = 20.0 * float(np.log10(max(dsp.rms(mix), 1e-12)))
    noise_class = acoustics.classify_noise(floor_db)
    fidelity = (
        "low" if bandwidth != "full" or clipped else "medium" if noise_class == "noisy" else "high"
    )
    record = SceneRecord(
        seed=int(seed),
        index=int(index),
        sample_rate=sr,
        duration_s=config.duration_s,
        place=place.key,
        preset=config.preset,
        components=components,
        background=BackgroundRecord(bg_kind, bg_intensity, bg_elements),
        acoustics=AcousticsRecord(
            environment=place.environment,
            room_size=room,
            rt60_s=round(rt60, 3),
            reverberation=acoustics.classify_reverberation(rt60),
            snr_db=round(snr, 2),
            noise_floor_db=round(floor_db, 2),
            noise=noise_class,
            bandwidth=bandwidth,
            clipping=clipped,
            loudness_db=round(loud_db, 2),
            loudness=acoustics.classify_loudness(loud_db),
            fidelity=fidelity,
        ),
        bank_events=bank_events,
    )
    return np.clip(mix, -1.0, 1.0).astype(np.float32), record
