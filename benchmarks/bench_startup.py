"""Start-up time of the ``hacd-graph`` console script (target: under 2 s).

Checks first that each command succeeds and prints what it should, then runs each one
``--repeats`` times in a fresh interpreter and reports the median wall-clock time beside
the target, with the load average (a loaded machine inflates every figure), the
interpreter, the git revision and, for each command, the heavy libraries it imported
(``python -X importtime``): ``hacd-graph --help`` and ``hacd-graph ach stats`` must not
import torch, transformers or torch_geometric. Exits with status 1 when a median is over
the target or a heavy library is imported.

    python benchmarks/bench_startup.py [--repeats 7] [--out outputs/bench_startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hacd_graph.provenance import git_revision  # noqa: E402  (imports nothing heavy)

TARGET_S = 2.0
HEAVY = ("torch", "transformers", "torch_geometric", "peft", "deepspeed", "torchaudio")
# (command, text its output must contain)
COMMANDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("--help",), "GROUP"),
    (("ach", "stats"), "concepts"),
)


def _command(args: tuple[str, ...]) -> list[str]:
    """The installed console script beside this interpreter, run by it (its entry point
    read the same way when the script is absent)."""
    script = Path(sys.executable).parent / "hacd-graph"
    if script.is_file():
        return [sys.executable, str(script), *args]
    return [sys.executable, "-c", "import sys; from hacd_graph.cli import main; "
            "sys.exit(main())", *args]


def _check(args: tuple[str, ...], expect: str) -> list[str]:
    """Run once: the command works; return the heavy libraries it imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *_command(args)[1:]],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0 or expect not in proc.stdout:
        raise SystemExit(f"hacd-graph {' '.join(args)} failed (status {proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    return sorted(h for h in HEAVY if h in imported)


def _time(args: tuple[str, ...], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(_command(args), capture_output=True, check=True, cwd=REPO)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=7, help="runs per command (median reported)")
    p.add_argument("--target", type=float, default=TARGET_S, help="seconds (default 2)")
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = p.parse_args(argv)

    meta = {"revision": git_revision(REPO) or "unknown", "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_before": os.getloadavg()}
    rows = []
    for command, expect in COMMANDS:
        heavy = _check(command, expect)
        _time(command, 1)  # warm the file cache
        times = _time(command, args.repeats)
        rows.append({"command": "hacd-graph " + " ".join(command),
                     "median_s": statistics.median(times), "min_s": min(times),
                     "max_s": max(times), "heavy_imports": heavy})
    meta["load_after"] = os.getloadavg()

    print(f"revision {meta['revision']}  python {meta['python']}  {meta['cpus']} cpus  "
          f"load average before {' '.join(f'{x:.2f}' for x in meta['load_before'])}, "
          f"after {' '.join(f'{x:.2f}' for x in meta['load_after'])}")
    print(f"{'command':<24} {'median s':>9} {'min s':>7} {'max s':>7} {'target':>7} "
          f"{'ratio':>6}  heavy imports")
    failed = False
    for row in rows:
        ratio = row["median_s"] / args.target
        bad = ratio > 1 or row["heavy_imports"]
        failed |= bool(bad)
        print(f"{row['command']:<24} {row['median_s']:>9.3f} {row['min_s']:>7.3f} "
              f"{row['max_s']:>7.3f} {args.target:>7.1f} {ratio:>6.2f}  "
              f"{', '.join(row['heavy_imports']) or 'none'}{'  OVER' if bad else ''}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "target_s": args.target, "rows": rows},
                                       indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
