"""Benchmark the hierarchical distillation loss: ``python benchmarks/bench_hdl.py --headline``.

A thin script over :mod:`hacd_graph.distill.benchmark` (the same as ``hacd-graph bench hdl``);
see ``--help`` for the sweep, backends, device and output options.
"""

from __future__ import annotations

import sys

from hacd_graph.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "hdl", *sys.argv[1:]]))
