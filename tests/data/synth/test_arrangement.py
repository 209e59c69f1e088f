import numpy as np
import pytest

from hacd_graph.data.synth.arrangement import Grid, chord, drum_part, pitched_part


def test_swing_moves_only_the_offbeat_eighth():
    g = Grid(beat_s=0.5, beats_per_bar=4, subdivision=2, swing=2 / 3)
    assert g.t(1, 2.0) == pytest.approx(2.0 + 1.0)
    assert g.t(0, 1.5) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert g.t(0, 1.25) == pytest.approx(0.625)  # sixteenths are not swung


def test_walking_bass_lands_on_the_root_each_bar():
    g = Grid(0.5, 4, 2, 0.5)
    notes = pitched_part(np.random.default_rng(0), g, 4, 5, "jazz", "double_bass", "walking_bass")
    assert len(notes) == 16
    for bar in range(4):
        root, _ = chord(5, bar, "jazz")
        assert notes[4 * bar][1] % 12 == root % 12
        assert notes[4 * bar][0] == pytest.approx(bar * 2.0)


def test_four_on_the_floor_kicks_every_beat():
    g = Grid(0.5, 4, 2, 0.5)
    hits = drum_part(np.random.default_rng(0), g, 2, "electronic", "four_on_the_floor", "none", 4.0)
    kicks = sorted(t for t, piece, _ in hits if piece == "kick")
    assert kicks == pytest.approx([0.5 * k for k in range(8)])
