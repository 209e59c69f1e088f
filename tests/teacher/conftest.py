"""A tiny synthetic data folder (train/eval manifests of half-second clips) for teacher tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_clips(tmp_path_factory):
    """``root`` with ``train/`` (12 clips, seed 1) and ``eval/`` (6 clips, seed 2)."""
    from hacd_graph.data.export import write_synthetic
    from hacd_graph.data.synth.scene import SceneConfig

    root = tmp_path_factory.mktemp("clips")
    scene = SceneConfig(duration_s=0.5)
    write_synthetic(root / "train", 12, seed=1, config=scene, progress=False)
    write_synthetic(root / "eval", 6, seed=2, config=scene, progress=False)
    return root
