"""Reading ``--seeds`` and summarising a metric over seeds."""

from __future__ import annotations

import argparse
import math

import pytest

from hacd_graph.errors import UserError
from hacd_graph.over_seeds import cell_text, seeds_and_overrides, summarize


def test_summary_and_cell_text() -> None:
    assert summarize([1.0, 3.0, None, math.nan]) == (2.0, pytest.approx(math.sqrt(2)), 2)
    assert summarize([None])[2] == 0
    assert cell_text(*summarize([0.25])) == "0.250 (1)"
    assert cell_text(*summarize([])) == "n/a"
    assert cell_text(0.001234, 0.0005, 3) == "0.001234 ± 0.0005 (3)"
    assert cell_text(0.39, 0.0076, 2) == "0.390 ± 0.008 (2)"
    assert cell_text(0.0, 0.0, 2) == "0.000 ± 0.000 (2)"


def test_overrides_after_the_seeds_are_overrides() -> None:
    args = argparse.Namespace(seeds=["0", "2", "trainer.max_steps=9", "~x.y"],
                              overrides=["a=b"])
    assert seeds_and_overrides(args) == ([0, 2], ["trainer.max_steps=9", "~x.y", "a=b"])
    with pytest.raises(UserError, match="expected integers"):
        seeds_and_overrides(argparse.Namespace(seeds=["x"], overrides=[]))
    with pytest.raises(UserError, match="at least one"):
        seeds_and_overrides(argparse.Namespace(seeds=["a=1"], overrides=[]))


def test_selected_arms_keeps_order_and_names_unknown_ones() -> None:
    from hacd_graph.over_seeds import selected_arms

    assert selected_arms(" b, a ,", ["a", "b"]) == ["b", "a"]
    with pytest.raises(UserError, match=r"unknown arm\(s\) \['z'\]; known: a, b"):
        selected_arms("a,z", ["a", "b"])
    with pytest.raises(UserError, match="none given"):
        selected_arms(",", ["a"])
