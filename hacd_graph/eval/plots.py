"""The run report's figures: pure functions from arrays and numbers to matplotlib Figures.

Every function returns a new :class:`matplotlib.figure.Figure` made on the Agg backend (no
display needed) and registered with nothing, so it is freed when dropped; :func:`png_bytes`
renders one and closes it. Dimension letters: M mel bins, T spectrogram frames, Tf feature
frames, Q bridge queries, N concepts.

    fig = attention_under_spectrogram(logmel, audio_attention, duration_s=10.0)
    png = png_bytes(fig)  # the figure is closed
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# eval series drawn by learning_curves when the caller names none (those a stage logs)
DEFAULT_EVAL_NAMES = ("mAP_macro", "hF1", "violation_rate", "loss", "lm_loss", "mse")


def _figure(**kwargs: object) -> Figure:
    """A Figure on the Agg canvas, outside pyplot's registry (nothing to leak)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def png_bytes(fig: Figure, dpi: int = 90) -> bytes:
    """Render ``fig`` as PNG bytes and release it (its axes are cleared)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    fig.clear()
    return buf.getvalue()


def level_bars(series: Mapping[str, Mapping[int, float | None]], title: str,
               ylabel: str = "score") -> Figure:
    """Grouped bars: one group per hierarchy level, one bar per series.

    Args:
        series: ``{series name: {level: value}}``, e.g. ``{"mAP": {1: .6, 2: .4}, "F1": ...}``;
            a missing or ``None`` value leaves its bar out.
        title: the figure's title.
        ylabel: the value axis' label.

    Returns:
        A Figure with one Axes whose x ticks are ``L1, L2, ...``.
    """
    fig = _figure(figsize=(6.4, 3.4))
    ax = fig.add_subplot()
    levels = sorted({lv for values in series.values() for lv in values})
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        x = [j + (i - (len(series) - 1) / 2) * width for j, lv in enumerate(levels)
             if values.get(lv) is not None]
        y = [values[lv] for lv in levels if values.get(lv) is not None]
        ax.bar(x, y, width=width, label=name)
    ax.set_xticks(range(len(levels)), [f"L{lv}" for lv in levels])
    ax.set(xlabel="hierarchy level (1 = most general)", ylabel=ylabel, title=title)
    ax.set_ylim(0, max([1.0, *(v for s in series.values() for v in s.values() if v is not None)]))
    if series:
        ax.legend(loc="upper right", fontsize="small")
    return fig


def attention_under_spectrogram(logmel: np.ndarray, audio_attention: np.ndarray,
                                duration_s: float, title: str = "") -> Figure:
    """The log-mel spectrogram with the bridge's queries x time attention drawn under it.

    Both panels span ``[0, duration_s]`` seconds on one shared time axis, so the attention's
    ``Tf`` feature frames are stretched to the spectrogram's ``T`` frames.

    Args:
        logmel: ``[M, T]`` log-mel energies.
        audio_attention: ``[Q, Tf]`` attention weights (mean over heads).
        duration_s: the clip's length in seconds.
        title: the figure's title (e.g. the clip's id).

    Returns:
        A Figure with four Axes: spectrogram, attention, and their two colour bars.
    """
    fig = _figure(figsize=(7.0, 4.6))
    from matplotlib.ticker import MaxNLocator

    spec_ax, att_ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1])
    extent = (0.0, float(duration_s))
    im = spec_ax.imshow(np.asarray(logmel), aspect="auto", origin="lower", cmap="magma",
                        extent=(*extent, 0, logmel.shape[0]), interpolation="nearest")
    fig.colorbar(im, ax=spec_ax, label="log-mel energy")
    spec_ax.set(ylabel="mel bin", title=title or "log-mel spectrogram")
    q = audio_attention.shape[0]
    im = att_ax.imshow(np.asarray(audio_attention), aspect="auto", origin="lower",
                       cmap="viridis", extent=(*extent, -0.5, q - 0.5), interpolation="nearest")
    fig.colorbar(im, ax=att_ax, label="attention weight")
    att_ax.set(xlabel="time (s)", ylabel="bridge query", title="bridge queries x audio frames")
    att_ax.set_xlim(*extent)
    att_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def concept_attention_by_level(concept_attention: np.ndarray, concept_level: np.ndarray,
                               concept_names: Sequence[str], top: int = 8,
                               title: str = "") -> Figure:
    """The bridge's queries x concepts attention, concepts grouped by hierarchy level.

    Columns are ordered by level (stably, so each level keeps the hierarchy's order) and each
    level gets the same width, so the few general concepts stay visible beside the thousands
    of specific ones: level ``g`` (the g-th present, from 0) spans ``[g, g + 1)`` on the x
    axis and its j-th of n concepts the cell ``[g + j/n, g + (j+1)/n)``. A dashed line marks
    each boundary, the level and its concept count sit above the map, and ``top`` concepts
    are named on the x axis: the most attended (summed over queries) of each level first, then
    the most attended of the rest.

    Args:
        concept_attention: ``[Q, N]`` attention weights.
        concept_level: ``[N]`` level of each concept.
        concept_names: ``[N]`` names.
        top: how many concepts to label.
        title: the figure's title.

    Returns:
        A Figure with two Axes: the map (one QuadMesh) and its colour bar.
    """
    from matplotlib.ticker import MaxNLocator

    att = np.asarray(concept_attention)
    levels = np.asarray(concept_level)
    order = np.argsort(levels, kind="stable")
    present, counts = np.unique(levels, return_counts=True)
    group = np.repeat(np.arange(len(present)), counts)  # [N] level group of each sorted column
    within = np.concatenate([np.arange(n) for n in counts])
    left = group + within / counts[group]
    edges = np.r_[left, len(present)]
    centres = group + (within + 0.5) / counts[group]
    fig = _figure(figsize=(7.0, 3.8))
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(edges, np.arange(att.shape[0] + 1) - 0.5, att[:, order],
                         cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label="attention weight")
    for g in range(1, len(present)):
        ax.axvline(g, color="white", linestyle="--", linewidth=1)
    for g, (lv, n) in enumerate(zip(present, counts, strict=True)):
        ax.text(g + 0.5, 1.01, f"L{lv} ({n})", transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize="x-small")
    score = att[:, order].sum(axis=0)
    ranked = np.argsort(-score, kind="stable")
    firsts = [int(ranked[group[ranked] == g][0]) for g in range(len(present))]
    chosen = list(dict.fromkeys([*firsts, *ranked.tolist()]))[:top]
    chosen.sort()
    ax.set_xticks(centres[chosen], [str(concept_names[order[i]]) for i in chosen],
                  rotation=60, ha="right", fontsize="x-small")
    ax.set_xlim(0, len(present))
    ax.set(xlabel=f"concept, grouped by level, each level the same width "
           f"({len(chosen)} named)", ylabel="bridge query")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or "bridge queries x concepts", pad=14)
    return fig


def confusion_distance_bars(by_distance: Mapping[str | int, int], title: str = "") -> Figure:
    """Bars of confusions (a wrong concept predicted) by hierarchy distance to the true one.

    Args:
        by_distance: ``{distance in edges: count}`` (keys may be strings, as in JSON).
        title: the figure's title.
    """
    fig = _figure(figsize=(5.6, 3.2))
    ax = fig.add_subplot()
    items = sorted((int(k), int(v)) for k, v in by_distance.items())
    ax.bar([str(d) for d, _ in items], [c for _, c in items], color="tab:red")
    ax.set(xlabel="hierarchy distance (edges)", ylabel="confusions (count)",
           title=title or "confusions by hierarchy distance")
    return fig


def learning_curves(rows: Iterable[Mapping[str, object]], title: str = "",
                    eval_names: Sequence[str] | None = None) -> Figure:
    """A stage's training loss and held-out metrics over optimiser steps.

    Args:
        rows: ``metrics.csv`` rows in long form: mappings with ``step``, ``split``
            (``train`` / ``eval``), ``name`` and ``value`` (strings or numbers).
        title: the figure's title (e.g. the stage's name).
        eval_names: eval series to draw (default: those of :data:`DEFAULT_EVAL_NAMES` that
            were logged, else the first four logged).

    Returns:
        A Figure with one Axes (train losses) or two (and the eval series).
    """
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        key = (str(row["split"]), str(row["name"]))
        series.setdefault(key, []).append((int(row["step"]), float(row["value"])))
    train = [k for k in series if k[0] == "train" and "loss" in k[1]]
    logged = [k[1] for k in series if k[0] == "eval"]
    names = list(eval_names) if eval_names is not None else (
        [n for n in DEFAULT_EVAL_NAMES if n in logged] or logged[:4])
    evals = [("eval", n) for n in names if ("eval", n) in series]
    fig = _figure(figsize=(9.0 if evals else 5.0, 3.2))
    axes = fig.subplots(1, 2 if evals else 1, squeeze=False)[0]
    for key in train:
        steps, values = zip(*sorted(series[key]), strict=True)
        axes[0].plot(steps, values, label=key[1])
    axes[0].set(xlabel="optimiser step", ylabel="loss", title=f"{title} training loss".strip())
    if train:
        axes[0].legend(fontsize="small")
    for key in evals:
        steps, values = zip(*sorted(series[key]), strict=True)
        axes[1].plot(steps, values, marker="o", label=key[1])
    if evals:
        axes[1].set(xlabel="optimiser step", ylabel="value",
                    title=f"{title} held-out evaluation".strip())
        axes[1].legend(fontsize="small")
    return fig
