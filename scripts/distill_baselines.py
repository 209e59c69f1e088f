"""HACD against its baselines, and the lambda sweep, through the main command.

Every arm is ``python train.py --config distill_gnn <overrides>`` with the same data and
budgets, so the numbers are what a user of the main command gets:

- ``hacd``: the default (graph teacher, hierarchical bridge, HDL + lambda x LM loss);
- ``flat``: (a) ``teacher=flat gnn=none`` (flat teacher, per-concept KL on marginals);
- ``mlp``: (b) ``bridge=mlp`` (plain audio-encoder bridge, LM loss only; the concept head
  is a probe on detached hidden states);
- ``no_probs``: (c) ``bridge.teacher_probs=false`` (concept embeddings without the
  teacher's probabilities);
- ``lambda_X``: the default with ``distill.lm_weight=X`` (the sweep that chose lambda).

Arms that share a teacher reuse it: the arm's run directory starts as a copy of the first
run with that teacher, without its distill stage (the teacher's record then matches and it
is skipped). Writes ``distill_baselines.{md,csv,json}`` under ``--out`` with the git
revision; exits non-zero when an arm fails or a metric is missing.

    python scripts/distill_baselines.py --out outputs/distill_baselines
    python scripts/distill_baselines.py --out OUT --arms hacd --lambdas 0.3 1 3
    python scripts/distill_baselines.py --out OUT experiment=tiny     # a smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hacd_graph.provenance import git_revision  # noqa: E402

ARMS = {
    "hacd": [],
    "flat": ["teacher=flat", "gnn=none"],
    "mlp": ["bridge=mlp"],
    "no_probs": ["bridge.teacher_probs=false"],
}
TEACHER_KEYS = ("teacher=", "gnn=")  # overrides that change the teacher stage


def _teacher_of(overrides: list[str]) -> tuple[str, ...]:
    return tuple(o for o in overrides if o.startswith(TEACHER_KEYS))


def run_arm(name: str, overrides: list[str], common: list[str], out: Path,
            teachers: dict[tuple[str, ...], Path]) -> dict:
    """Run one arm (reusing a finished teacher when one matches); return its metrics."""
    run_dir = out / name
    key = _teacher_of(overrides)
    if not run_dir.exists() and key in teachers:
        shutil.copytree(teachers[key], run_dir,
                        ignore=shutil.ignore_patterns("distill", "distill.json", "summary.json",
                                                      "train.log", "configs"))
    cmd = [sys.executable, str(ROOT / "train.py"), "--config", "distill_gnn", *common,
           *overrides, f"run.dir={run_dir}"]
    print("$", " ".join(cmd[1:]), flush=True)
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"arm {name} failed (exit {done.returncode}); see {run_dir}/train.log")
    teachers.setdefault(key, run_dir)
    metrics = json.loads((run_dir / "distill" / "metrics.json").read_text())
    return {"arm": name, "overrides": overrides, "seconds": time.perf_counter() - t,
            "eval": metrics["eval"], "examples_per_s": metrics["train"]["examples_per_s"]}


def table_rows(results: list[dict]) -> list[tuple[str, list[float | None]]]:
    """(metric, value per arm) for the per-level and hierarchical metrics."""
    first = results[0]["eval"]
    levels = sorted({int(k[5:].split("/")[0]) for k in first if k.startswith("level")})
    keys = [f"level{lv}/{m}" for lv in levels for m in ("mAP", "F1")]
    keys += ["mAP_macro", "hP", "hR", "hF1", "violation_rate", "agreement/kl",
             "agreement/top3", "lm_loss"]
    rows = []
    for key in keys:
        values = [r["eval"].get(key) for r in results]
        if key in first:
            rows.append((key, values))
    rows.append(("examples/s (train)", [r["examples_per_s"] for r in results]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arms", default="hacd,flat,mlp,no_probs",
                        help=f"comma list of {sorted(ARMS)}")
    parser.add_argument("--lambdas", type=float, nargs="*", default=[],
                        help="also run the default with distill.lm_weight=X for each X")
    parser.add_argument("--render", action="store_true",
                        help="only write the tables again from OUT/distill_baselines.json")
    args, common = parser.parse_known_args()
    if args.render:
        saved = json.loads((args.out / "distill_baselines.json").read_text())
        return write_tables(saved["results"], saved["common_overrides"], args.out,
                            saved["git_revision"])
    arms = [(a, ARMS[a]) for a in args.arms.split(",") if a]
    arms += [(f"lambda_{x:g}", [f"distill.lm_weight={x}"]) for x in args.lambdas]
    args.out.mkdir(parents=True, exist_ok=True)
    teachers: dict[tuple[str, ...], Path] = {}
    results = [run_arm(name, overrides, common, args.out, teachers)
               for name, overrides in arms]
    return write_tables(results, common, args.out, git_revision(ROOT))


def write_tables(results: list[dict], common: list[str], out: Path, revision: str | None
                 ) -> int:
    """Write ``distill_baselines.{md,csv,json}``; 1 when a metric is missing."""
    rows = table_rows(results)
    missing = [k for k, vs in rows if any(v is None for v in vs) and "mAP" not in k]
    # marginals from a graph teacher's conditional logits cannot violate the hierarchy
    wrong = [r["arm"] for r in results
             if not any(o.startswith("teacher=flat") for o in r["overrides"])
             and r["eval"].get("violation_rate") != 0]
    header = ["metric", *[r["arm"] for r in results]]
    lines = [f"Distillation metrics on the held-out split (git {revision}; "
             f"overrides: {' '.join(common) or 'none'}).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, values in rows:
        cells = ["n/a" if v is None else f"{v:.4g}" if abs(v) < 0.01 else f"{v:.3f}"
                 for v in values]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "distill_baselines.md").write_text(text)
    with open(out / "distill_baselines.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([k, *v] for k, v in rows)
    (out / "distill_baselines.json").write_text(json.dumps(
        {"git_revision": revision, "common_overrides": common, "results": results}, indent=2))
    print(text)
    if missing or wrong:
        print(f"missing metrics: {missing}; hierarchy violations in {wrong}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
