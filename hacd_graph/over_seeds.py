"""What the experiment commands share about arms and seeds: reading ``--arms`` and
``--seeds``, and summarising a metric over seeds (mean ± std, the table cell).

``--seeds 0 1 trainer.max_steps=600`` is read by argparse as three seeds (``nargs="+"``
takes every word up to the next option); :func:`seeds_and_overrides` separates them.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from hacd_graph.errors import UserError


def selected_arms(text: str, known: Iterable[str]) -> list[str]:
    """The arms of a comma list such as ``--arms graph,flat``, in order.

    Raises:
        UserError: an arm is not in ``known``, or none is given (names the known ones).
    """
    known = list(known)
    arms = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in arms if a not in known]
    if unknown or not arms:
        raise UserError(f"--arms: unknown arm(s) {unknown or 'none given'}; known: "
                        f"{', '.join(known)}")
    return arms


def seeds_and_overrides(args: argparse.Namespace) -> tuple[list[int], list[str]]:
    """``args.seeds`` as integers, and every override (those left among the seeds first,
    then ``args.overrides``).

    Raises:
        UserError: a seed is not an integer, or none is given.
    """
    def is_override(word: str) -> bool:
        return "=" in word or word.startswith("~")  # key=value, or Hydra's ~key deletion

    overrides = [v for v in args.seeds if is_override(v)] + list(args.overrides)
    try:
        seeds = [int(v) for v in args.seeds if not is_override(v)]
    except ValueError:
        raise UserError(f"--seeds {' '.join(args.seeds)}: expected integers") from None
    if not seeds:
        raise UserError("--seeds: give at least one integer seed")
    return seeds, overrides


def summarize(values: Sequence[float | None]) -> tuple[float, float, int]:
    """Mean, standard deviation (ddof=1; NaN for one value) and count of the finite values;
    ``(nan, nan, 0)`` when there are none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan, 0
    std = statistics.stdev(finite) if len(finite) > 1 else math.nan
    return statistics.fmean(finite), std, len(finite)


def cell_text(mean: float, std: float, n: int) -> str:
    """``mean ± std (n)`` with three decimals (four significant digits for a mean below
    0.01); ``mean (1)`` for one seed; ``n/a`` for none."""
    if n == 0:
        return "n/a"
    form = ".4g" if 0 < abs(mean) < 0.01 else ".3f"
    return f"{mean:{form}} ({n})" if n == 1 else f"{mean:{form}} ± {std:{form}} ({n})"


def write_summary_csv(path: Path, group: str,
                      values: Mapping[tuple[str, str], Sequence[float | None]]) -> None:
    """One row per (group, metric): its :func:`summarize` and every seed's value (``;``
    joined, empty for a missing one), under the header ``group,metric,mean,std,n,values``."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([group, "metric", "mean", "std", "n", "values"])
        for (name, key), seeds in values.items():
            writer.writerow([name, key, *summarize(seeds),
                             ";".join("" if v is None else repr(v) for v in seeds)])
