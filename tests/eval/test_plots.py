"""Report figures: axes, labels, shared time axes, level grouping, and PNG output."""

from __future__ import annotations

import numpy as np
import pytest

from hacd_graph.eval.plots import (
    attention_under_spectrogram,
    concept_attention_by_level,
    confusion_distance_bars,
    learning_curves,
    level_bars,
    png_bytes,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_attention_shares_the_spectrogram_time_axis():
    rng = np.random.default_rng(0)
    logmel, att = rng.normal(size=(16, 100)), rng.random((4, 31))  # Tf = 31 != T = 100
    fig = attention_under_spectrogram(logmel, att, duration_s=7.5, title="clip-1")
    spec, attn = fig.axes[:2]
    assert len(fig.axes) == 4  # two panels, two colour bars
    assert spec.get_xlim() == pytest.approx((0, 7.5)) and attn.get_xlim() == pytest.approx((0, 7.5))
    # both images stretch over the same seconds, whatever their frame counts
    assert spec.images[0].get_extent()[:2] == pytest.approx([0, 7.5])
    assert attn.images[0].get_extent()[:2] == pytest.approx([0, 7.5])
    assert spec.images[0].get_array().shape == (16, 100)
    assert attn.images[0].get_array().shape == (4, 31)
    assert attn.get_xlabel() == "time (s)" and spec.get_ylabel() == "mel bin"
    assert attn.get_ylabel() == "bridge query" and spec.get_title() == "clip-1"
    assert attn.get_shared_x_axes().joined(spec, attn)
    labels = {ax.get_ylabel() for ax in fig.axes[2:]}
    assert labels == {"log-mel energy", "attention weight"}


def test_concept_attention_grouped_by_level_with_boundaries_and_top_names():
    att = np.zeros((3, 7))
    att[:, 4] = 1.0  # concept 4 ("e", level 1) gets the most attention
    att[:, 1] = 0.5  # then concept 1 ("b", level 2)
    att[:, 6] = 0.25  # concept 6 ("g", level 3) the most of its level
    levels = np.array([2, 2, 3, 1, 1, 3, 3])
    names = ["a", "b", "c", "d", "e", "f", "g"]
    fig = concept_attention_by_level(att, levels, names, top=3)
    ax = fig.axes[0]
    (mesh,) = ax.collections
    # columns in level order d, e | a, b | c, f, g
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(3, 7),
                                  att[:, [3, 4, 0, 1, 2, 5, 6]])
    boundaries = sorted(line.get_xdata()[0] for line in ax.get_lines())
    assert boundaries == [1, 2]  # each level one unit wide, whatever its size
    assert ax.get_xlim() == (0, 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["e", "b", "g"]
    np.testing.assert_allclose(ax.get_xticks(), [0.75, 1.75, 2 + 2.5 / 3])
    assert {t.get_text() for t in ax.texts} == {"L1 (2)", "L2 (2)", "L3 (3)"}
    assert ax.get_ylabel() == "bridge query"
    assert fig.axes[1].get_ylabel() == "attention weight"
    two = concept_attention_by_level(att, levels, names, top=2)
    assert [t.get_text() for t in two.axes[0].get_xticklabels()] == ["e", "b"]
    att[:, 3] = 0.9  # "d" (level 1) now beats "b" overall, but "b" is the best of level 2
    firsts = concept_attention_by_level(att, levels, names, top=3)
    assert [t.get_text() for t in firsts.axes[0].get_xticklabels()] == ["e", "b", "g"]


def test_level_bars_groups_series_by_level_and_skips_missing():
    fig = level_bars({"mAP": {1: 0.5, 2: 0.25}, "F1": {1: 0.75, 2: None}}, "by level")
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [0.25, 0.5, 0.75]  # the None bar is left out
    assert [t.get_text() for t in ax.get_xticklabels()] == ["L1", "L2"]
    assert ax.get_title() == "by level" and "level" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mAP", "F1"]
    empty = level_bars({"F1": {1: None}}, "nothing scored").axes[0]
    assert len(empty.patches) == 0 and empty.get_ylim() == (0, 1)


def test_confusion_distance_bars_sorted_by_distance():
    fig = confusion_distance_bars({"10": 1, "2": 31, "1": 12})
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [12, 31, 1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "10"]
    assert ax.get_xlabel() == "hierarchy distance (edges)"


def test_learning_curves_from_long_form_rows():
    rows = [{"step": str(s), "split": "train", "name": "loss", "value": str(1.0 / s)}
            for s in (3, 1, 2)]
    rows += [{"step": 2, "split": "eval", "name": "mAP_macro", "value": 0.4},
             {"step": 2, "split": "eval", "name": "bce", "value": 0.3},
             {"step": 1, "split": "train", "name": "lr", "value": 1e-3}]
    fig = learning_curves(rows, title="teacher")
    loss_ax, eval_ax = fig.axes
    (line,) = loss_ax.get_lines()  # lr is no loss
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])  # sorted by step
    np.testing.assert_allclose(line.get_ydata(), [1, 0.5, 1 / 3])
    assert [ln.get_label() for ln in eval_ax.get_lines()] == ["mAP_macro"]
    assert loss_ax.get_xlabel() == "optimiser step" and "teacher" in loss_ax.get_title()
    only_train = learning_curves(rows[:3])
    assert len(only_train.axes) == 1


def test_png_bytes_renders_and_clears():
    fig = confusion_distance_bars({"1": 3})
    data = png_bytes(fig)
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert fig.axes == []


def test_figures_stay_out_of_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    png_bytes(level_bars({"F1": {1: 0.5}}, "t"))
    assert plt.get_fignums() == before
