"""Music with structure: genre-characteristic arrangements over a chord progression, with
tempo, meter, swing or straight feel, instrument roles and playing techniques.

``render_music`` arranges note and drum events for each part, renders them from the
cached instrument and drum tables, and returns the audio with a ``MusicRecord`` that lists
exactly what was played inside the clip (techniques and drum pieces that did not sound
are not listed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hacd_graph.data.synth import drums, dsp, instruments
from hacd_graph.data.synth.arrangement import GENRES, Grid, drum_part, pitched_part, sample_lineup
from hacd_graph.data.synth.record import MusicRecord, PartRecord

__all__ = ["GENRES", "MusicSpec", "render_music", "tempo_class"]
_PIECE_NAMES = {"brush_tap": "snare"}  # drum events -> the kit piece that sounds
TEMPO = {
    "jazz": (90, 200),
    "rock": (100, 150),
    "electronic": (118, 132),
    "classical": (60, 120),
    "folk": (80, 130),
}
PITCH_NAMES = ("C", "D flat", "D", "E flat", "E", "F", "F sharp", "G", "A flat", "A", "B flat", "B")


def tempo_class(bpm: float) -> str:
    """``"slow"`` below 80 bpm, ``"fast"`` above 140, otherwise ``"moderate"``."""
    return "slow" if bpm < 80 else "fast" if bpm > 140 else "moderate"


@dataclass
class MusicSpec:
    """Optional overrides of the sampled arrangement (presets use them; ``None`` = sample).

    Args:
        genre: one of ``GENRES``.
        tempo_bpm: tempo in beats per minute.
        meter: ``"4/4"``, ``"3/4"`` or ``"6/8"``.
        lineup: ``[(instrument, role, technique), ...]`` in the genre's vocabulary, e.g.
            ``[("piano", "solo", "fast_arpeggios"), ("double_bass", "rhythm_section",
            "walking_bass"), ("drum_kit", "rhythm_section", "brushes")]``.
        cymbals: ``"ride_pattern"`` or ``"accents"`` (jazz drums).
        style: a style label to record when the arrangement supports it (``"bebop"``).
    """

    genre: str | None = None
    tempo_bpm: float | None = None
    meter: str | None = None
    lineup: list[tuple[str, str, str]] | None = None
    cymbals: str | None = None
    style: str | None = None
    extra: dict = field(default_factory=dict)


def render_music(
    rng: np.random.Generator, n: int, sr: int, spec: MusicSpec | None = None
) -> tuple[np.ndarray, MusicRecord]:
    """Arrange and render ``n`` samples of music; the record lists what sounds in the clip.

    Args:
        rng: the clip's random generator.
        n: length in samples; sr: sample rate.
        spec: overrides (genre, tempo, meter, lineup, ...); ``None`` samples everything.

    Returns:
        (audio ``[n]`` float32 at unit RMS, the ``MusicRecord``).
    """
    spec = spec or MusicSpec()
    genre = spec.genre or GENRES[int(rng.integers(len(GENRES)))]
    lo, hi = spec.extra.get("tempo_range", TEMPO[genre])
    bpm = float(spec.tempo_bpm or round(rng.uniform(lo, hi)))
    if spec.meter:
        meter = spec.meter
    elif genre in ("classical", "folk"):
        meter = str(rng.choice(["4/4", "3/4", "6/8"] if genre == "folk" else ["4/4", "3/4"]))
    elif genre == "jazz":
        meter = "3/4" if rng.random() < 0.15 else "4/4"
    else:
        meter = "4/4"
    swing = genre == "jazz"
    beats, subdiv = {"4/4": (4, 2), "3/4": (3, 2), "6/8": (2, 3)}[meter]
    beat_s = 60.0 / bpm * (1.5 if meter == "6/8" else 1.0)  # 6/8: bpm counts eighths in threes
    g = Grid(beat_s, beats, subdiv, float(rng.uniform(0.62, 0.68)) if swing else 0.5)
    bars = int(np.ceil(n / sr / g.bar_s)) + 1
    key = int(rng.integers(0, 12))
    lineup, cymbal_mode = (
        (spec.lineup, spec.cymbals or "accents") if spec.lineup else sample_lineup(rng, genre)
    )
    if spec.lineup is None and spec.cymbals:
        cymbal_mode = spec.cymbals

    out = dsp.silence(n)
    parts: list[PartRecord] = []
    clip_s = n / sr
    for instrument, role, technique in lineup:
        stem = dsp.silence(n)
        techniques = [technique]
        pieces: list[str] = []
        if instrument in ("drum_kit", "drum_machine"):
            hits = [
                h
                for h in drum_part(rng, g, bars, genre, technique, cymbal_mode, clip_s)
                if h[0] < clip_s - 0.02
            ]
            for onset, piece, vel in hits:
                if piece.startswith("tom"):  # "tom<k>": tom k of the kit, high (3) to low (0)
                    hit = drums.hit("tom", int(piece[3:]), sr)
                else:
                    hit = drums.hit(piece, int(rng.integers(drums.VARIANTS)), sr)
                dsp.add_at(stem, hit, int(onset * sr), vel)
            if technique == "brushes":
                stem += drums.brush_sweep(rng, n, sr, g.beat_s * sr)
            pieces = sorted(
                {_PIECE_NAMES.get(p, p.split("_")[0].rstrip("0123456789")) for _, p, _ in hits}
                | ({"snare"} if technique == "brushes" else set())
            )
            events = len(hits)
            if genre == "jazz" and any(p in ("crash", "ride") for _, p, _ in hits):
                techniques.append(
                    "swing_ride" if cymbal_mode == "ride_pattern" else "cymbal_accents"
                )
            if any(p.startswith("tom") for _, p, _ in hits):
                techniques.append("drum_fill")
        else:
            notes = [
                x
                for x in pitched_part(rng, g, bars, key, genre, instrument, technique)
                if x[0] < clip_s - 0.02
            ]
            for onset, midi, dur, vel in notes:
                dsp.add_at(stem, instruments.note(instrument, midi, dur, sr), int(onset * sr), vel)
            events = len(notes)
            if instrument == "electric_guitar" and technique == "power_chords":
                stem = np.tanh(4.0 * stem / max(1e-6, float(np.abs(stem).max()))).astype(np.float32)
                techniques.append("distortion")
            if instrument in ("violin", "cello", "saxophone", "flute") and technique == "legato":
                techniques.append("vibrato")
        prominent = role in ("solo", "melody")
        gain = 1.6 if prominent else (0.8 if role == "accompaniment" else 1.0)
        out += np.float32(gain) * dsp.normalize_rms(stem)
        parts.append(
            PartRecord(
                instrument,
                role,
                techniques,
                "prominent" if prominent else "supporting",
                pieces,
                events,
            )
        )
    style = spec.style
    if (
        style is None
        and genre == "jazz"
        and any(
            p.role == "solo" and {"fast_arpeggios", "scalar_runs"} & set(p.techniques)
            for p in parts
        )
        and bpm >= 110
    ):
        style = "bebop"
    record = MusicRecord(
        genre,
        style,
        bpm,
        tempo_class(bpm),
        meter,
        "swing" if swing else "straight",
        f"{PITCH_NAMES[key]} {'minor' if genre == 'electronic' else 'major'}",
        parts,
    )
    return dsp.normalize_rms(out), record
