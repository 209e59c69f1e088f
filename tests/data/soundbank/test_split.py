"""The data=synth_real preset: every bank package is training or held out, never both."""

from __future__ import annotations

from hacd_graph.data.soundbank import PACKAGES
from hacd_graph.pipeline import compose_config


def test_split_by_package_is_a_partition():
    data = compose_config("distill_gnn", ["data=synth_real"]).data
    train, held = set(data.bank_packages), set(data.bank_held_out)
    assert train and held and not train & held
    assert train | held == set(PACKAGES)
