"""``hacd-graph data soundbank``: build the bank and print its size table."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``soundbank`` under ``hacd-graph data``."""
    from hacd_graph.data.soundbank.packages import DEFAULT_CACHE, PACKAGES

    p = sub.add_parser("soundbank", help="labelled real recordings from openly licensed "
                       "Debian packages (WAV + manifest.jsonl; resumable)")
    p.add_argument("--out", required=True, help="bank folder")
    p.add_argument("--debs", default=str(DEFAULT_CACHE), help=f"the .deb cache (default "
                   f"{DEFAULT_CACHE})")
    p.add_argument("--packages", nargs="+", default=list(PACKAGES), metavar="NAME",
                   help="packages to include (default: all)")
    p.add_argument("--skip", nargs="+", default=[], metavar="NAME", help="packages to leave out")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    p.add_argument("--max-seconds", type=float, default=10.0, help="longest clip (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hacd_graph.data.export import read_manifest
    from hacd_graph.data.soundbank.build import REPORT, SoundbankConfig, build_soundbank
    from hacd_graph.data.soundbank.packages import PackageClientMissing
    from hacd_graph.data.soundbank.summary import bank_table

    config = SoundbankConfig(
        sample_rate=args.sample_rate, max_seconds=args.max_seconds,
        packages=tuple(p for p in args.packages if p not in args.skip))
    try:
        path = build_soundbank(args.out, config, debs=args.debs)
    except PackageClientMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table, _ = bank_table(read_manifest(path))
    report = json.loads((path.parent / REPORT).read_text(encoding="utf-8"))
    print(f"wrote {path}")
    print(table)
    left = report["left_out"]
    print("left out (files): " + ", ".join(f"{k} {v}" for k, v in left.items()))
    return 0
