"""Fixtures of the data tests: the core hierarchy and a few generated clips (built once)."""

from __future__ import annotations

import pytest

from hacd_graph.data.synth.scene import SceneConfig, generate


@pytest.fixture(scope="session")
def ach():
    from hacd_graph.ach import build_ach

    return build_ach()


@pytest.fixture(scope="session")
def jazz_cafe():
    """(audio, record) of the seed's jazz-cafe example, clip 0 of seed 0."""
    return generate(0, 0, SceneConfig(preset="jazz_cafe"))


@pytest.fixture(scope="session")
def scenes():
    """40 random scenes of seed 11: [(audio, record)]."""
    return [generate(11, i) for i in range(40)]
