import numpy as np
import pytest

from hacd_graph.data.synth.presets import PRESETS
from hacd_graph.data.synth.scene import SceneConfig, generate


def test_clip_is_deterministic_and_independent_of_order(scenes):
    audio, record = generate(11, 7)
    assert np.array_equal(audio, scenes[7][0])
    assert record.to_dict() == scenes[7][1].to_dict()
    other, _ = generate(12, 7)
    assert not np.array_equal(audio, other)


def test_format_and_range(scenes):
    for audio, record in scenes:
        assert audio.shape == (64000,) and audio.dtype == np.float32
        assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
        assert np.abs(audio).max() > 1e-3
        assert 1 <= len(record.components) <= 4


def test_scene_variety(scenes):
    places = {r.place for _, r in scenes}
    kinds = {c.kind for _, r in scenes for c in r.components}
    assert len(places) >= 5 and len(kinds) >= 20
    assert any(r.music() for _, r in scenes)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_render(name):
    audio, record = generate(0, 1, SceneConfig(preset=name, duration_s=2.0))
    assert audio.shape == (32000,) and record.preset == name


def test_jazz_cafe_matches_the_seed_example(jazz_cafe):
    _, r = jazz_cafe
    (m,) = r.music()
    assert (m.genre, m.style, m.tempo_class, m.feel, m.meter) == (
        "jazz",
        "bebop",
        "moderate",
        "swing",
        "4/4",
    )
    parts = {p.instrument: p for p in m.parts}
    assert parts["piano"].role == "solo" and "fast_arpeggios" in parts["piano"].techniques
    assert "walking_bass" in parts["double_bass"].techniques
    assert (
        "brushes" in parts["drum_kit"].techniques
        and "cymbal_accents" in parts["drum_kit"].techniques
    )
    assert r.place == "cafe" and r.background.intensity == "moderate"
    assert set(r.background.elements) == {"crowd_chatter", "laughter", "glass_clink"}
    a = r.acoustics
    assert (a.environment, a.room_size, a.reverberation, a.fidelity) == (
        "indoor",
        "medium",
        "moderate",
        "high",
    )


def test_config_validation():
    with pytest.raises(ValueError, match="preset"):
        SceneConfig(preset="nope")
    with pytest.raises(ValueError, match="place"):
        SceneConfig(places=("moon",))
    with pytest.raises(ValueError, match="foreground"):
        SceneConfig(min_foreground=3, max_foreground=2)
    with pytest.raises(ValueError, match="non-negative"):
        generate(-1, 0)


def test_places_restrict_sampling():
    cfg = SceneConfig(places=("farm",), duration_s=1.0)
    assert {generate(5, i, cfg)[1].place for i in range(5)} == {"farm"}


def test_crowd_intensity_is_controllable(ach):
    from hacd_graph.data.synth.labels import scene_labels

    for level, concept in (("light", "hacd:sparse_crowd"), ("heavy", "hacd:busy_crowd")):
        cfg = SceneConfig(places=("cafe",), background_intensity=level, duration_s=1.0)
        _, r = generate(2, 0, cfg)
        assert r.background.intensity == level and concept in scene_labels(r, ach)
    with pytest.raises(ValueError, match="intensity"):
        SceneConfig(background_intensity="deafening")
