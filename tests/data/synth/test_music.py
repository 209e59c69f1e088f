import numpy as np
import pytest

from hacd_graph.data.synth.music import GENRES, MusicSpec, render_music, tempo_class

SR = 16000


@pytest.mark.parametrize("genre", GENRES)
def test_each_genre_renders_with_its_arrangement(genre):
    rng = np.random.default_rng(3)
    audio, rec = render_music(rng, 3 * SR, SR, MusicSpec(genre=genre))
    assert audio.shape == (3 * SR,) and np.isfinite(audio).all() and audio.std() > 0.1
    assert rec.genre == genre and rec.tempo_class == tempo_class(rec.tempo_bpm)
    assert all(p.events > 0 for p in rec.parts)
    instruments = rec.instruments()
    if genre == "jazz":
        assert rec.feel == "swing" and "double_bass" in instruments and "drum_kit" in instruments
    if genre == "rock":
        assert "electric_guitar" in instruments and "backbeat" in {
            t for p in rec.parts for t in p.techniques
        }
    if genre == "electronic":
        assert "four_on_the_floor" in {t for p in rec.parts for t in p.techniques}
    if genre in ("classical", "folk"):
        assert "drum_kit" not in instruments


def test_walking_bass_plays_every_beat():
    spec = MusicSpec(
        genre="jazz",
        tempo_bpm=120,
        meter="4/4",
        lineup=[("double_bass", "rhythm_section", "walking_bass")],
    )
    _, rec = render_music(np.random.default_rng(0), 4 * SR, SR, spec)
    assert rec.parts[0].events == 8  # 2 beats/s for 4 s, no note starting in the last 20 ms


def test_cymbal_technique_listed_only_when_a_cymbal_sounds():
    spec = MusicSpec(
        genre="jazz",
        tempo_bpm=120,
        lineup=[("drum_kit", "rhythm_section", "brushes")],
        cymbals="accents",
    )
    for seed in range(5):
        _, rec = render_music(np.random.default_rng(seed), int(0.4 * SR), SR, spec)
        kit = rec.parts[0]
        has_cymbal = bool({"crash", "ride"} & set(kit.pieces))
        assert has_cymbal == ("cymbal_accents" in kit.techniques)


def test_tempo_classes():
    assert [tempo_class(b) for b in (60, 100, 160)] == ["slow", "moderate", "fast"]


def test_rock_tom_fills_are_labelled_exactly_when_toms_sound():
    fills = 0
    for seed in range(8):
        _, rec = render_music(np.random.default_rng(seed), 4 * SR, SR, MusicSpec(genre="rock"))
        kit = next(p for p in rec.parts if p.instrument == "drum_kit")
        assert ("tom" in kit.pieces) == ("drum_fill" in kit.techniques)
        fills += "drum_fill" in kit.techniques
    assert 0 < fills < 8
