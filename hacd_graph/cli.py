"""The ``hacd-graph`` command line: one sub-command group per part of the library.

Each group lives with the part it serves (``hacd_graph/<part>/cli.py``) and exposes
``register(subparsers)``. Only the group being run is imported: ``hacd-graph ach stats``
never imports the audio, kernel or LLM stacks, and ``hacd-graph --help`` lists the groups
from :data:`COMMAND_GROUPS` without importing any of them
(``benchmarks/bench_startup.py`` times both).

A user error (a bad argument, a missing or unreadable file) prints one line and exits
with status 2; ``--debug`` anywhere on the line shows the traceback
(:func:`hacd_graph.errors.run_main`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hacd_graph.errors import ArgumentParser, run_main
from hacd_graph.openmp import prefer_passive_waiting

# group name -> (module that defines ``register(subparsers) -> None``, one-line help)
COMMAND_GROUPS: dict[str, tuple[str, str]] = {
    "ach": ("hacd_graph.ach.cli", "inspect, build and render the Audio Concept Hierarchy"),
    "data": ("hacd_graph.data.cli", "synthetic scenes, shards, previews, real datasets"),
    "bench": ("hacd_graph.distill.cli", "benchmark kernels"),
    "llm": ("hacd_graph.llm.cli", "the embedded default LLM"),
    "describe": ("hacd_graph.eval.describe", "describe audio files with a trained run"),
    "report": ("hacd_graph.eval.report", "write a run's report.md and report.html"),
    "experiment": ("hacd_graph.eval.experiment",
                   "the baselines and ablations grid; the teacher's arms"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the top-level parser.

    Args:
        argv: the command line to be parsed; only the group it names is imported and
            registered in full (``None``: every group, e.g. for documentation).
    """
    parser = ArgumentParser(
        prog="hacd-graph",
        description="Hierarchical Audio Concept Distillation: inspect the hierarchy, "
        "generate data, benchmark kernels, describe audio with a trained run.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    chosen = _chosen_group(argv)
    for name, (module_name, help_text) in COMMAND_GROUPS.items():
        if argv is None or name == chosen:
            importlib.import_module(module_name).register(groups)
        else:  # listed in --help, never run: parsing never reaches it
            groups.add_parser(name, help=help_text)
    return parser


def _chosen_group(argv: Sequence[str] | None) -> str | None:
    """The first non-option argument: the group the command line runs."""
    for arg in argv or ():
        if not arg.startswith("-"):
            return arg
    return None


def _run(argv: list[str]) -> int:
    args = build_parser(argv).parse_args(argv)
    return int(args.func(args) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hacd-graph`` console script; returns the exit status."""
    prefer_passive_waiting()  # before a command imports torch (hacd_graph/openmp.py)
    return run_main("hacd-graph", _run, argv)


if __name__ == "__main__":
    sys.exit(main())
