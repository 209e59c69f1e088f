"""Arrangements: the parts a genre's band plays, and the notes and drum hits of each part
over a chord progression, on a (possibly swung) beat grid.

Used by ``music.render_music``; every function draws from the clip's generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hacd_graph.data.synth import instruments

GENRES = ("jazz", "rock", "electronic", "classical", "folk")
CHORD_TONES = {
    "maj": (0, 4, 7),
    "m": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "m7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "5": (0, 7, 12),
}
PROGRESSIONS = {
    "jazz": [(2, "m7"), (7, "7"), (0, "maj7"), (9, "7")],
    "rock": [(0, "5"), (7, "5"), (9, "5"), (5, "5")],
    "electronic": [(0, "m"), (8, "maj"), (3, "maj"), (10, "maj")],
    "classical": [(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")],
    "folk": [(0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")],
}
MAJOR = (0, 2, 4, 5, 7, 9, 11)


@dataclass
class Grid:
    """Timing of the piece: beats, bars, swing."""

    beat_s: float
    beats_per_bar: int
    subdivision: int  # 2 simple, 3 compound meter
    swing: float  # position of the off-beat eighth as a fraction of the beat (0.5 straight)

    @property
    def bar_s(self) -> float:
        return self.beat_s * self.beats_per_bar

    def t(self, bar: int, beat: float) -> float:
        """Time of a beat position (fractional beats; off-beat eighths are swung)."""
        whole = int(np.floor(beat))
        frac = beat - whole
        if self.subdivision == 2 and abs(frac - 0.5) < 1e-6:
            frac = self.swing
        return bar * self.bar_s + (whole + frac) * self.beat_s


def sample_lineup(rng: np.random.Generator, genre: str) -> tuple[list[tuple[str, str, str]], str]:
    """(instrument, role, technique) parts characteristic of ``genre``, and cymbal mode."""
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    if genre == "jazz":
        solo = pick(["piano", "saxophone", "trumpet", "electric_guitar", "trombone"])
        solo_tech = (
            pick(["fast_arpeggios", "scalar_runs"])
            if solo in ("piano", "electric_guitar")
            else pick(["scalar_runs", "legato"])
        )
        parts = [(solo, "solo", solo_tech)]
        if solo != "piano" and rng.random() < 0.7:
            parts.append(("piano", "accompaniment", "comping"))
        parts.append(("double_bass", "rhythm_section", "walking_bass"))
        parts.append(("drum_kit", "rhythm_section", pick(["brushes", "sticks"])))
        return parts, pick(["ride_pattern", "accents"])
    if genre == "rock":
        parts = [
            ("electric_guitar", "accompaniment", "power_chords"),
            ("electric_bass", "rhythm_section", "root_notes"),
            ("drum_kit", "rhythm_section", "backbeat"),
        ]
        if rng.random() < 0.4:
            parts.insert(0, ("electric_guitar", "solo", "scalar_runs"))
        elif rng.random() < 0.3:
            parts.append(("organ", "accompaniment", "sustained_chords"))
        return parts, "crash"
    if genre == "electronic":
        parts = [
            ("synthesizer", "accompaniment", "sustained_chords"),
            ("synthesizer", "rhythm_section", "offbeat_bass"),
            ("drum_machine", "rhythm_section", "four_on_the_floor"),
        ]
        if rng.random() < 0.6:
            parts.insert(0, (pick(["synthesizer", "bells"]), "melody", "arpeggios"))
        return parts, "none"
    if genre == "classical":
        return pick(
            [
                [("violin", "melody", "legato"), ("cello", "accompaniment", "legato")],
                [("piano", "solo", "arpeggios")],
                [("flute", "melody", "legato"), ("piano", "accompaniment", "arpeggios")],
                [("organ", "accompaniment", "sustained_chords"), ("bells", "melody", "legato")],
                [
                    ("trumpet", "melody", "legato"),
                    ("trombone", "accompaniment", "sustained_chords"),
                ],
            ]
        ), "none"
    if genre == "folk":
        melody = pick(["violin", "flute", "acoustic_guitar"])
        parts = [
            (melody, "melody", "fingerpicking" if melody == "acoustic_guitar" else "legato"),
            ("acoustic_guitar", "accompaniment", "strumming"),
        ]
        if rng.random() < 0.5:
            parts.append(("double_bass", "rhythm_section", "root_notes"))
        return parts, "none"
    raise ValueError(f"unknown genre {genre!r}; known: {GENRES}")


Note = tuple[float, int, float, float]  # onset s, midi, duration s, velocity
Hit = tuple[float, str, float]  # onset s, piece, velocity


def chord(key: int, bar: int, genre: str) -> tuple[int, tuple[int, ...]]:
    """(root pitch class + key, chord tones) of ``bar`` in ``genre``'s 4-bar progression."""
    degree, quality = PROGRESSIONS[genre][bar % 4]
    return key + degree, CHORD_TONES[quality]


def pitched_part(
    rng: np.random.Generator,
    g: Grid,
    bars: int,
    key: int,
    genre: str,
    instrument: str,
    technique: str,
) -> list[Note]:
    """Note events ``(onset s, MIDI pitch, duration s, velocity)`` of one pitched part
    playing ``technique`` for ``bars`` bars of ``genre``'s progression in ``key``."""
    notes: list[Note] = []
    spb = g.subdivision
    for bar in range(bars):
        root, tones = chord(key, bar, genre)
        beats = [(b, s) for b in range(g.beats_per_bar) for s in range(spb)]
        if technique in ("fast_arpeggios", "arpeggios"):
            # fast: sixteenths, or eighth-note triplets in a swing feel (the jazz idiom)
            fast = 3 if (spb == 3 or g.swing > 0.5) else 4
            per_beat = fast if technique == "fast_arpeggios" else spb
            seq = [root + 12 * o + tone for o in (0, 1) for tone in tones]
            seq = seq + seq[-2:0:-1]
            base = 60 if instrument != "piano" or technique == "fast_arpeggios" else 48
            k = int(rng.integers(len(seq)))
            for b in range(g.beats_per_bar):
                for s in range(per_beat):
                    m = instruments.clamp_pitch(
                        instrument, base + seq[k % len(seq)] % 24 + (root % 12 > 6) * -12
                    )
                    notes.append(
                        (g.t(bar, b + s / per_beat), m, g.beat_s / per_beat, rng.uniform(0.6, 0.9))
                    )
                    k += 1
        elif (
            technique == "scalar_runs"
        ):  # eighth-note lines: scale steps with chromatic passing tones
            m = 62 + int(rng.integers(0, 7))
            for b, s in beats:
                step = int(rng.choice([-2, -1, 1, 2, 3]))
                m = int(np.clip(m + step, 55, 84))
                notes.append(
                    (
                        g.t(bar, b + s / spb),
                        instruments.clamp_pitch(instrument, m),
                        g.beat_s / spb * 0.9,
                        rng.uniform(0.6, 0.95),
                    )
                )
        elif technique in ("legato", "fingerpicking"):
            per = 1 if technique == "legato" else spb
            for b in range(g.beats_per_bar):
                for s in range(per):
                    if technique == "legato" and b % 2 == 1 and rng.random() < 0.5:
                        continue  # some half notes
                    deg = MAJOR[int(rng.integers(7))]
                    m = instruments.clamp_pitch(
                        instrument, 72 + key % 12 + deg - 12 * (instrument == "cello")
                    )
                    dur = g.beat_s * (2.0 if technique == "legato" and b % 2 == 0 else 1.0 / per)
                    notes.append((g.t(bar, b + s / per), m, dur, rng.uniform(0.6, 0.85)))
        elif technique == "walking_bass":
            nxt_root = chord(key, bar + 1, genre)[0]
            line = [root, root + tones[1], root + tones[2], nxt_root + int(rng.choice([-1, 1]))]
            for b in range(g.beats_per_bar):
                m = instruments.clamp_pitch(instrument, 36 + line[b % 4] % 12)
                notes.append((g.t(bar, b), m, g.beat_s * 0.95, rng.uniform(0.75, 0.95)))
        elif technique in ("root_notes", "offbeat_bass"):
            for b, s in beats:
                if technique == "offbeat_bass" and s == 0:
                    continue
                if technique == "root_notes" and genre != "rock" and s != 0:
                    continue
                m = instruments.clamp_pitch(instrument, 36 + root % 12)
                dur = (
                    g.beat_s / spb * 0.9
                    if technique != "root_notes" or genre == "rock"
                    else g.beat_s * 0.9
                )
                notes.append((g.t(bar, b + s / spb), m, dur, rng.uniform(0.75, 0.95)))
        elif technique == "power_chords":
            for b, s in beats:
                for iv in CHORD_TONES["5"]:
                    notes.append(
                        (
                            g.t(bar, b + s / spb),
                            instruments.clamp_pitch(instrument, 40 + root % 12 + iv),
                            g.beat_s / spb * 0.95,
                            0.8,
                        )
                    )
        elif technique == "comping":  # syncopated shell voicings
            for pos in sorted(
                rng.choice([0.5, 1.5, 2.0, 2.5, 3.5][: 2 * g.beats_per_bar - 3], 2, replace=False)
            ):
                for tone in tones[1:]:
                    notes.append(
                        (
                            g.t(bar, float(pos)),
                            instruments.clamp_pitch(instrument, 52 + (root + tone) % 12),
                            g.beat_s * 0.6,
                            rng.uniform(0.45, 0.6),
                        )
                    )
        elif technique == "strumming":
            for b, s in beats:
                if s and rng.random() < 0.4:
                    continue
                for j, tone in enumerate(tones + (12,) if len(tones) < 4 else tones):
                    t = g.t(bar, b + s / spb) + 0.012 * j  # strings struck one after another
                    notes.append(
                        (
                            t,
                            instruments.clamp_pitch(instrument, 52 + (root + tone) % 12),
                            g.beat_s,
                            0.55,
                        )
                    )
        elif technique == "sustained_chords":
            for tone in tones:
                base = 48 if instrument in ("organ", "trombone") else 60
                notes.append(
                    (
                        g.t(bar, 0),
                        instruments.clamp_pitch(instrument, base + (root + tone) % 12),
                        min(g.bar_s, 1.9),
                        0.5,
                    )
                )
        else:
            raise ValueError(f"unknown technique {technique!r} for {instrument}")
    return notes


def drum_part(
    rng: np.random.Generator,
    g: Grid,
    bars: int,
    genre: str,
    technique: str,
    cymbals: str,
    clip_s: float,
) -> list[Hit]:
    """Drum events ``(onset s, piece, velocity)`` of ``genre``'s groove (``technique``:
    brushes / sticks / backbeat / four_on_the_floor; ``cymbals``: jazz ride pattern or
    accents). Accents and fills fall on bars that start before ``clip_s``."""
    hits: list[Hit] = []
    spb = g.subdivision
    # Occasional accents and fills fall on bars that start inside the clip, so they sound.
    heard = max(1, min(bars, int(np.ceil((clip_s - 0.02) / g.bar_s))))
    accent_bars = set(rng.choice(heard, size=max(1, heard // 2), replace=False).tolist())
    fill_bar = int(rng.integers(0, heard)) if genre == "rock" and rng.random() < 0.5 else -1
    for bar in range(bars):
        for b in range(g.beats_per_bar):
            if genre == "jazz":
                back = b % 2 == 1
                if technique == "brushes":
                    if back:  # taps on 2 and 4 with a swung pickup, like the ride's skip note
                        hits.append((g.t(bar, b), "brush_tap", 0.8))
                        hits.append((g.t(bar, b + 0.5), "brush_tap", 0.45))
                else:
                    if back and rng.random() < 0.5:
                        hits.append((g.t(bar, b + 0.5), "snare", 0.35))  # ghost notes
                if back:
                    hits.append((g.t(bar, b), "hihat_pedal", 0.6))
                if cymbals == "ride_pattern":
                    hits.append((g.t(bar, b), "ride", 0.55))
                    if back:
                        hits.append((g.t(bar, b + 0.5), "ride", 0.4))
                elif b == 0 and bar in accent_bars:
                    hits.append((g.t(bar, b), rng.choice(["crash", "ride"]), 0.55))
                if b == 0 and rng.random() < 0.5:
                    hits.append((g.t(bar, b), "kick", 0.35))
            elif genre == "rock":
                if bar == fill_bar and b >= g.beats_per_bar - 2:  # a tom fill into the next bar
                    for s16 in range(4):
                        tom = "tom" + str(3 - (2 * (b - g.beats_per_bar + 2) + s16 // 2))
                        hits.append((g.t(bar, b + s16 / 4), tom, 0.8))
                    continue
                hits.append((g.t(bar, b), "kick" if b % 2 == 0 else "snare", 0.9))
                for s in range(spb):
                    hits.append((g.t(bar, b + s / spb), "hihat_closed", 0.5))
                if (bar == 0 or bar == fill_bar + 1) and b == 0:
                    hits.append((g.t(bar, b), "crash", 0.7))
            else:  # electronic drum machine: four on the floor
                hits.append((g.t(bar, b), "kick", 1.0))
                if b % 2 == 1:
                    hits.append((g.t(bar, b), "clap", 0.8))
                hits.append((g.t(bar, b + 0.5), "hihat_open", 0.5))
                hits.append((g.t(bar, b + 0.25), "hihat_closed", 0.3))
    return hits
