import numpy as np
import pytest

from hacd_graph.data.synth.backgrounds import BACKGROUNDS, render_background
from hacd_graph.data.synth.sources import SOURCES, render_source

SR = 16000


@pytest.mark.parametrize("key", sorted(SOURCES))
def test_every_source_renders(key):
    audio, events, attrs = render_source(np.random.default_rng(4), key, 2 * SR, SR)
    assert audio.shape == (2 * SR,) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-3
    assert events >= 0


def test_event_counts_are_exact():
    from hacd_graph.data.synth import animals, machines

    for count in (1, 3):
        _, k = animals.dog_bark(np.random.default_rng(0), 3 * SR, SR, {"count": count})
        assert k == count
        _, k = machines.knock(np.random.default_rng(0), 3 * SR, SR, {"count": count + 1})
        assert k == count + 1


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_backgrounds(kind):
    audio, elements = render_background(np.random.default_rng(0), kind, "moderate", SR, SR)
    assert audio.shape == (SR,) and np.isfinite(audio).all() and elements


def test_unknown_names_are_reported():
    with pytest.raises(KeyError, match="unicorn"):
        render_source(np.random.default_rng(0), "unicorn", 10, SR)
    with pytest.raises(ValueError, match="intensity"):
        render_background(np.random.default_rng(0), "cafe", "deafening", 10, SR)


def test_every_source_can_occur_in_some_scene():
    from hacd_graph.data.synth.places import PLACES

    in_pools = {k for p in PLACES.values() for k in p.sources}
    background_elements = {
        "traffic",
        "rain",
        "wind",
        "bird_chirp",
        "laughter",
        "glass_clink",
        "footsteps",
    }
    assert set(SOURCES) <= in_pools | background_elements, (
        set(SOURCES) - in_pools - background_elements
    )
    assert in_pools <= set(SOURCES)
