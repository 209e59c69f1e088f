"""The graph-conditioned teacher vs the flat baseline, same data and budget, side by side.

Composes ``configs/distill_gnn.yaml`` with ``experiment=teacher_vs_flat`` once per arm
(``teacher=cnn`` graph-conditioned, ``teacher=flat`` independent linear head; optionally
``chmcnn`` and ``graph_free`` = the graph head over free embeddings, ``gnn=none``), generates
the synthetic train and held-out eval split once into ``OUT/data``, trains every arm through
the one training loop into ``OUT/<arm>/``, and writes ``OUT/table.md`` and ``OUT/table.json``.

    python scripts/teacher_vs_flat.py --out outputs/teacher_vs_flat [--arms graph,flat]
        [hydra overrides, e.g. trainer.max_steps=100]

Arms already trained in OUT are not trained again (the loop finds them complete), so the
arms can run as separate processes (``--arms graph`` and ``--arms flat``, after the data
exists) and a last ``--arms graph,flat`` call writes the combined table.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omegaconf import OmegaConf  # noqa: E402

from hacd_graph.atomic_io import write_json_atomic, write_text_atomic  # noqa: E402
from hacd_graph.pipeline import DataConfig, compose_config, run_pipeline  # noqa: E402
from hacd_graph.pipeline.runner import stage_data  # noqa: E402
from hacd_graph.training import DistributedContext, config_from_mapping  # noqa: E402

ARMS = {
    "graph": ["teacher=cnn"],
    "flat": ["teacher=flat"],
    "chmcnn": ["teacher=chmcnn"],
    "graph_free": ["teacher=cnn", "gnn=none"],
}
ROWS = ["mAP_macro", "mAP_micro", "F1_micro", "hP", "hR", "hF1", "violation_rate",
        "violation_clips", "bce"]


def _fmt(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def table(results: dict[str, dict]) -> str:
    """A Markdown table: one row per metric (overall, then per level), one column per arm."""
    arms = list(results)
    evals = {a: results[a]["eval"] for a in arms}
    levels = sorted({k.split("/")[0] for e in evals.values() for k in e if k.startswith("level")},
                    key=lambda s: int(s[5:]))
    rows = ROWS + [f"{lv}/{m}" for lv in levels for m in ("mAP", "F1")]
    lines = ["| metric | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for r in rows:
        lines.append(f"| {r} | " + " | ".join(_fmt(evals[a].get(r)) for a in arms) + " |")
    for key, label in (("examples_per_s", "train clips/s"), ("wall_s", "train wall s")):
        lines.append(f"| {label} | " + " | ".join(
            _fmt(results[a]["train"].get(key)) for a in arms) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/teacher_vs_flat"))
    parser.add_argument("--arms", default="graph,flat",
                        help=f"comma-separated arms from {sorted(ARMS)}")
    args, overrides = parser.parse_known_args(argv)
    args.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in args.arms if a not in ARMS]
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; choose from {sorted(ARMS)}")
    ctx = DistributedContext()
    base = compose_config("distill_gnn", ["experiment=teacher_vs_flat", *overrides])
    data_cfg = config_from_mapping(DataConfig, OmegaConf.to_container(base.data, resolve=True),
                                   "data")
    stage_data(data_cfg, args.out, ctx)  # OUT/data/{train,eval}, shared by every arm
    results = {}
    for arm in args.arms:
        cfg = compose_config("distill_gnn", ["experiment=teacher_vs_flat", *ARMS[arm],
                                             *overrides, f"run.dir={args.out / arm}",
                                             f"data.root={args.out / 'data'}"])
        print(f"== arm {arm}: {' '.join(ARMS[arm])}", flush=True)
        results[arm] = run_pipeline(cfg, ctx, use_deepspeed=False)["teacher"].metrics
    text = table(results)
    write_text_atomic(args.out / "table.md", text)
    write_json_atomic(args.out / "table.json", {a: r["eval"] for a, r in results.items()})
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
