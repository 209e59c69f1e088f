"""Throughput of the synthetic scene generator, in clips per second per core.

Checks correctness first (determinism, labels in the hierarchy and closed under ancestors),
warms the per-process caches (instrument note tables, ambience beds, room responses,
filter designs), then times one process generating clips: wall-clock and CPU time (CPU time
is the per-core figure on a machine shared with other work). Prints a table with the
target ratio and writes JSON and CSV.

    PYTHONPATH=. python benchmarks/bench_data.py --clips 400 --out outputs/bench_data.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from hacd_graph.provenance import git_revision

TARGET = 100.0  # clips of 4 s at 16 kHz per second per core (issue 4)


def _check(ach, config) -> None:
    from hacd_graph.data.synth.labels import scene_labels
    from hacd_graph.data.synth.scene import generate

    for i in range(5):
        a, r = generate(123, i, config)
        b, s = generate(123, i, config)
        assert np.array_equal(a, b) and r.to_dict() == s.to_dict(), "generator is not deterministic"
        present = {ach.index(x) for x in scene_labels(r, ach)}
        assert all(ach.ancestors(c) <= present for c in present), (
            "labels not closed under ancestors"
        )


def _time(fn, indices: range) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    for i in indices:
        fn(i)
    return time.perf_counter() - w, time.process_time() - c


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=400, help="clips per timed repeat (default 400)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    p.add_argument("--warmup", type=int, default=800, help="warm-up clips (default 800)")
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--out", default="outputs/bench_data.json", help="JSON results (CSV beside it)")
    args = p.parse_args(argv)

    from hacd_graph.ach import build_ach
    from hacd_graph.data.synth.scene import SceneConfig, generate
    from hacd_graph.data.synthetic import make_example

    ach = build_ach()
    config = SceneConfig(sample_rate=args.sample_rate, duration_s=args.duration)
    _check(ach, config)
    warm_wall, warm_cpu = _time(lambda i: generate(7, i, config), range(args.warmup))

    rows = []
    cases = {
        "generate (audio + record)": lambda i: generate(7, i, config),
        "make_example (+ labels, captions, QA, description)": lambda i: make_example(
            7, i, ach, config
        ),
    }
    for name, fn in cases.items():
        walls, cpus = [], []
        for rep in range(args.repeats):
            start = args.warmup + rep * args.clips
            w, c = _time(fn, range(start, start + args.clips))
            walls.append(args.clips / w)
            cpus.append(args.clips / c)
        rows.append(
            {
                "case": name,
                "clips_per_s_wall": float(np.median(walls)),
                "clips_per_cpu_s": float(np.median(cpus)),
                "target_ratio": float(np.median(cpus)) / TARGET,
            }
        )

    machine = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "numpy": np.__version__,
        "git": git_revision() or "unknown",
    }
    try:
        import scipy

        machine["scipy"] = scipy.__version__
    except ImportError:
        pass
    print(f"machine: {machine}")
    print(
        f"clips: {args.duration:g} s at {args.sample_rate} Hz; warm-up {args.warmup} clips took "
        f"{warm_wall:.1f} s wall / {warm_cpu:.1f} s CPU; {args.repeats} x {args.clips} clips timed"
    )
    print(f"{'case':<55}{'clips/s (wall)':>16}{'clips/CPU-s':>14}{'vs target 100':>15}")
    for r in rows:
        print(
            f"{r['case']:<55}{r['clips_per_s_wall']:>16.1f}{r['clips_per_cpu_s']:>14.1f}"
            f"{r['target_ratio']:>14.2f}x"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": machine,
        "warmup_clips": args.warmup,
        "warmup_wall_s": warm_wall,
        "warmup_cpu_s": warm_cpu,
        "duration_s": args.duration,
        "sample_rate": args.sample_rate,
        "rows": rows,
    }
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
    with out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
