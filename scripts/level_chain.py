"""Where the hierarchy's structure is lost: per-level scores along the chain of one run.

For each run directory, per level L of the hierarchy:

- the teacher's mAP (``teacher/metrics.json``),
- the distilled student's concept head mAP (``distill/metrics.json``: a linear read-out of
  the LLM's hidden state at the last audio token),
- the fine-tuned student's concept head mAP and F1 (``eval/metrics.json``),
- the F1 of the concepts the fine-tuned LLM *writes* in its description, and the parser's
  ceiling on the reference descriptions.

A drop between two columns says which step loses the level. Runs are grouped by their
parent folder (``OUT/<cell>/seed<S>`` from ``hacd-graph experiment ablations``) and shown as
mean ± std over seeds. Writes ``--out`` (Markdown) with the git revision.

    python scripts/level_chain.py --out benchmarks/results/level_chain.md OUT/hacd OUT/mlp
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hacd_graph.provenance import git_revision  # noqa: E402

COLUMNS = (("teacher mAP", "teacher", "level{L}/mAP"),
           ("distill head mAP", "distill", "level{L}/mAP"),
           ("finetune head mAP", "eval", "classification/level{L}/mAP"),
           ("finetune head F1", "eval", "classification/level{L}/F1"),
           ("description F1", "eval", "description/level{L}/F1"),
           ("reference description F1", "reference", "description/level{L}/F1"))


def _scores(run: Path) -> dict[str, dict]:
    def stage(name: str) -> dict:
        return json.loads((run / name / "metrics.json").read_text())

    ev = stage("eval")
    return {"teacher": stage("teacher")["eval"], "distill": stage("distill")["eval"],
            "eval": ev["metrics"], "reference": ev["reference"]}


def _cell(values: list[float]) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "n/a"
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3f} ± {std:.3f} ({len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cells", nargs="+", type=Path,
                        help="folders of seed run directories (OUT/<cell>)")
    parser.add_argument("--out", type=Path, required=True, help="the Markdown file to write")
    args = parser.parse_args()
    lines = [f"Per-level scores along the chain teacher -> distill -> finetune -> text "
             f"(git {git_revision(ROOT)}; mean ± std (seeds) over each cell's runs).", ""]
    for cell in args.cells:
        runs = sorted(p for p in cell.iterdir() if (p / "eval" / "metrics.json").is_file())
        if not runs:
            print(f"{cell}: no finished run", file=sys.stderr)
            return 1
        scores = [_scores(r) for r in runs]
        levels = sorted({int(k[5:].split("/")[0]) for k in scores[0]["teacher"]
                         if k.startswith("level") and k.endswith("/mAP")})
        lines += [f"**{cell.name}** ({len(runs)} runs)", "",
                  "| level | " + " | ".join(c[0] for c in COLUMNS) + " |",
                  "|---|" + "---|" * len(COLUMNS)]
        for level in levels:
            row = [_cell([s[src].get(key.format(L=level)) for s in scores])
                   for _, src, key in COLUMNS]
            lines.append(f"| {level} | " + " | ".join(row) + " |")
        lines.append("")
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
