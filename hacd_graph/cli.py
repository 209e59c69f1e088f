"""The ``hacd-graph`` command line: one sub-command group per part of the library.

Each group lives with the part it serves (``hacd_graph/<part>/cli.py``) and exposes
``register(subparsers)``; groups are imported only when the command line is parsed, so
``hacd-graph ach stats`` never pays for importing the audio or LLM stacks.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# group name -> module that defines ``register(subparsers) -> None``
COMMAND_GROUPS: dict[str, str] = {
    "ach": "hacd_graph.ach.cli",
    "data": "hacd_graph.data.cli",
}


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="hacd-graph",
        description="Hierarchical Audio Concept Distillation: inspect the hierarchy, "
        "generate data, benchmark kernels, describe audio with a trained run.",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for module_name in COMMAND_GROUPS.values():
        importlib.import_module(module_name).register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hacd-graph`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
