"""``hacd-graph experiment ablations``: the baselines and ablations grid over seeds.

Every run is ``python train.py --config distill_gnn <common> <cell> <seed> run.dir=...``, so
the figures are what a user of the main command gets::

    hacd-graph experiment ablations --out DIR [--seeds 0 1 2] [--cells hacd,flat,...]
        [--jobs 1] [--dry-run] [--render] [key=value overrides common to every cell]

Layout: ``DIR/data/`` generates the clips once (``run.stages=[data]``) and every run reads
them through ``data.root`` (the held-out split is the same for every cell and seed, and the
data stage's fingerprint is the same in every run, so a teacher can be shared);
``DIR/<cell>/seed<S>/`` are the run directories; ``DIR/ablations.{md,csv,json}`` the tables.

Runs whose teacher stage has the same settings (hierarchy, teacher, GNN, trainer seed, read
from each run's composed config) share one teacher: the first of them trains it, the others
start as a copy of its ``ach.json``, ``teacher/`` and records, so their own fingerprints
skip the teacher. A finished run (``eval/metrics.json``, a complete eval stage and the
``config.yaml`` this command line composes) is not started again; any other is rerun, and
``train.py`` resumes it, skips its finished stages or refuses changed settings.

Labels under a hierarchy ablation: the manifests hold concept ids of the default hierarchy,
closed under its ancestors, and each run maps them onto its own hierarchy when it opens the
clips (``hacd_graph.data.datasets.labels_to_target``). ``ach_flat`` keeps every id (the
default's ancestors stay positive labels, with no edges between them); ``ach_truncated``
redirects a deeper id to its ancestors at the last kept level; ``ach_shuffled`` keeps the ids
and closes them under the shuffled parents, so a clip also gets the wrong ancestors as
positives (the ablation changes the targets as well as the structure).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hacd_graph.errors import UserError
from hacd_graph.over_seeds import (
    cell_text,
    seeds_and_overrides,
    summarize,
    write_summary_csv,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "hacd_graph.ablations/v1"

# cell -> Hydra overrides of train.py ("{seed}" is the run's seed)
CELLS: dict[str, tuple[str, ...]] = {
    # the method: graph teacher, hierarchical bridge, HDL + lambda x LM loss
    "hacd": (),
    # baseline (a): flat teacher, per-concept distillation on marginals
    "flat": ("teacher=flat", "gnn=none"),
    # baseline (b): plain audio-encoder bridge, LM loss only (no distillation)
    "mlp": ("bridge=mlp",),
    # baseline (c): concept embeddings in the bridge without the teacher's probabilities
    "no_probs": ("bridge.teacher_probs=false",),
    # does the structure matter: the default hierarchy with every concept under the root
    "ach_flat": ("ach=flat",),
    # does the right structure matter: parents re-drawn one level up (a new draw per seed)
    "ach_shuffled": ("ach.variant=shuffled", "++ach.seed={seed}"),
    # do the deep levels matter: the top 3 levels, deeper labels merged into their ancestors
    "ach_truncated": ("ach.variant=truncated", "++ach.max_depth=3"),
    # does message passing matter: free concept embeddings instead of the GNN's
    "gnn_none": ("gnn=none",),
    # fallback: soft tokens scaled to the text embeddings' norm (they were 15 times larger)
    "hacd_textnorm": ("++bridge.match_text_norm=true",),
}
# every run must report these (DESIGN.md "Evaluation metrics")
REQUIRED = ("classification/mAP_macro", "classification/hF1", "classification/violation_rate",
            "description/F1", "caption/CIDEr", "caption/METEOR", "caption/BLEU_4",
            "aqa/accuracy", "retrieval/a2t/R@10", "retrieval/t2a/R@10")
Runner = Callable[[list[str], Path, dict[str, str]], int]


@dataclass
class Run:
    """One cell at one seed: its overrides (beyond the common ones) and run directory."""

    cell: str
    seed: int
    overrides: list[str]
    dir: Path
    teacher_key: str = ""
    status: str = "pending"  # pending | finished | ran | failed
    seconds: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def seed_overrides(seed: int | str, has_finetune: bool) -> list[str]:
    """The overrides that seed every training stage (the finetune stage's once it exists)."""
    out = [f"trainer.seed={seed}", f"++distill.trainer.seed={seed}"]
    return out + [f"++finetune.trainer.seed={seed}"] if has_finetune else out


def compose(overrides: Sequence[str]) -> Any:
    """The composed ``distill_gnn`` config for ``overrides``."""
    from hacd_graph.pipeline.compose import compose_config

    return compose_config("distill_gnn", list(overrides))


def teacher_key(cfg: Any) -> str:
    """What the teacher stage depends on besides the data (the same for every run): the
    hierarchy's and the teacher's settings, as the run directory fingerprints them."""
    from hacd_graph.pipeline.fingerprint import fingerprint
    from hacd_graph.pipeline.stages import STAGE_VERSIONS, ach_settings, teacher_settings

    return fingerprint("teacher", STAGE_VERSIONS["teacher"],
                       {**ach_settings(cfg), **teacher_settings(cfg)}, {})


def plan_grid(out: Path, cells: Sequence[str], seeds: Sequence[int], common: Sequence[str],
              key: Callable[[list[str]], str] | None = None) -> list[Run]:
    """Every (cell, seed) run in grid order, with its teacher key.

    Raises:
        UserError: an unknown cell, or an override that does not compose.
    """
    unknown = [c for c in cells if c not in CELLS]
    if unknown or not cells:
        raise UserError(f"--cells: unknown cell(s) {unknown or 'none given'}; known: "
                        f"{', '.join(CELLS)}")
    has_finetune = compose(common).get("finetune") is not None
    key = key or (lambda overrides: teacher_key(compose(overrides)))
    runs = []
    for cell in cells:
        for seed in seeds:
            overrides = [o.format(seed=seed) for o in CELLS[cell]]
            overrides += seed_overrides(seed, has_finetune)
            run = Run(cell, seed, overrides, out / cell / f"seed{seed}")
            run.teacher_key = key([*common, *overrides])
            runs.append(run)
    return runs


def finished(run_dir: Path) -> bool:
    """Whether the run's evaluation is done: ``eval/metrics.json`` and a complete eval stage
    (``records/eval.json``, or the eval stage in ``summary.json``)."""
    if not (run_dir / "eval" / "metrics.json").is_file():
        return False
    record, summary = run_dir / "records" / "eval.json", run_dir / "summary.json"
    if record.is_file() and json.loads(record.read_text()).get("status") == "complete":
        return True
    return summary.is_file() and "eval" in json.loads(summary.read_text()).get("stages", {})


def copy_teacher(source: Path, target: Path) -> bool:
    """Start ``target`` as ``source``'s hierarchy and finished teacher (nothing later), so
    the target's fingerprints skip both; ``False`` when ``source`` has no finished teacher
    or ``target`` already exists."""
    record = source / "records" / "teacher.json"
    if target.exists() or not record.is_file():
        return False
    if json.loads(record.read_text()).get("status") != "complete":
        return False
    (target / "records").mkdir(parents=True)
    for stage in ("ach", "data", "teacher"):
        if (source / "records" / f"{stage}.json").is_file():
            shutil.copy2(source / "records" / f"{stage}.json", target / "records")
    shutil.copy2(source / "ach.json", target / "ach.json")
    shutil.copytree(source / "teacher", target / "teacher")
    return True


def subprocess_runner(overrides: list[str], run_dir: Path, env: dict[str, str]) -> int:
    """Run ``train.py`` with ``overrides`` (``run.dir`` included); its console goes to
    ``<run_dir>/console.log``. Returns the exit status."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ROOT / "train.py"), "--config", "distill_gnn", *overrides]
    with open(run_dir / "console.log", "a", encoding="utf-8") as log:
        return subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, **env}).returncode


def read_metrics(run_dir: Path) -> dict[str, float]:
    """The flat metrics of ``<run_dir>/eval/metrics.json`` (``{}`` when absent)."""
    path = run_dir / "eval" / "metrics.json"
    return json.loads(path.read_text()).get("metrics", {}) if path.is_file() else {}


def run_revision(run_dir: Path) -> str | None:
    """The git revision ``<run_dir>/summary.json`` says the run's code had."""
    path = run_dir / "summary.json"
    return json.loads(path.read_text()).get("git_revision") if path.is_file() else None


def same_config(run_dir: Path, args: Sequence[str]) -> bool:
    """Whether ``run_dir/config.yaml`` is the config ``args`` compose (so skipping the run
    reports what this command line asks for, not an earlier grid's settings)."""
    from omegaconf import OmegaConf

    saved = run_dir / "config.yaml"
    return saved.is_file() and saved.read_text() == OmegaConf.to_yaml(compose(args),
                                                                         resolve=True)


def _data_done(data_dir: Path, args: Sequence[str]) -> bool:
    record = data_dir / "records" / "data.json"
    return (record.is_file() and json.loads(record.read_text()).get("status") == "complete"
            and same_config(data_dir, args))


def run_grid(out: Path, runs: list[Run], common: list[str], jobs: int = 1,
             runner: Runner = subprocess_runner, dry_run: bool = False) -> list[Run]:
    """Generate the data once, then run every unfinished run: first one per teacher, then
    the rest (each starting from its group's teacher), ``jobs`` at a time.

    A run is skipped without starting a process when it finished (:func:`finished`) with
    the config this command line composes; otherwise ``train.py`` decides (it resumes an
    interrupted run, skips finished stages, refuses changed settings with one line)."""
    data: list[str] = []
    env = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // jobs))}
    show = "$ python train.py --config distill_gnn "
    if not any(o.startswith("data.root=") for o in common):  # else the user's clips
        data_dir = out / "data"
        data = [f"data.root={data_dir / 'data'}"]
        args = [*common, "run.stages=[data]", f"run.dir={data_dir}"]
        if dry_run:
            print(show + shlex.join(args))
        elif not _data_done(data_dir, args):
            print(f"data: generating the clips once into {data_dir / 'data'} ...", flush=True)
            if runner(args, data_dir, env):
                raise UserError(f"generating the data failed; see {data_dir}/console.log")
    owners: dict[str, Run] = {}
    for run in runs:
        owners.setdefault(run.teacher_key, run)
    order = [r for r in runs if owners[r.teacher_key] is r]
    order += [r for r in runs if owners[r.teacher_key] is not r]
    argv = {id(r): [*common, *r.overrides, *data, f"run.dir={r.dir}"] for r in runs}
    for run in order:
        if not dry_run and finished(run.dir) and same_config(run.dir, argv[id(run)]):
            run.status = "finished"
    counter = iter(range(1, len(order) + 1))

    def one(run: Run) -> None:
        step = f"[{next(counter)}/{len(order)}] {run.cell} seed {run.seed}"
        owner = owners[run.teacher_key]
        if dry_run:
            reuse = f"  # teacher from {owner.dir}" if owner is not run else ""
            print(show + shlex.join(argv[id(run)]) + reuse)
            return
        if run.status == "finished":
            print(f"{step}: finished earlier, skipped", flush=True)
            return
        if owner is not run and copy_teacher(owner.dir, run.dir):
            print(f"{step}: teacher from {owner.cell} seed {owner.seed}", flush=True)
        print(f"{step}: running ...", flush=True)
        t = time.perf_counter()
        code = runner(argv[id(run)], run.dir, env)
        run.seconds = time.perf_counter() - t
        run.status = "failed" if code else "ran"
        result = f"failed (exit {code})" if code else "done"
        print(f"{step}: {result} in {run.seconds:.1f} s", flush=True)

    for wave in (order[:len(owners)], order[len(owners):]):
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(one, wave))
    for run in runs:
        run.metrics = read_metrics(run.dir)
    return runs


# --- tables -------------------------------------------------------------------------------

def table_keys(metrics: Sequence[dict[str, float]]) -> list[str]:
    """The table's rows: the headline metrics, classification F1 and description F1 at the
    two deepest levels with a positive in the eval split (a finite ``level{L}/mAP``), AQA
    by level name, retrieval R@10."""
    def finite(key: str) -> bool:
        return any(isinstance(m.get(key), int | float) and math.isfinite(m[key])
                   for m in metrics)

    levels = sorted({int(k.split("/")[1][5:]) for m in metrics for k in m
                     if k.startswith("classification/level") and k.endswith("/mAP")
                     and k.split("/")[1][5:].isdigit() and finite(k)})[-2:]
    order = {"general": 0, "category": 1, "specific": 2}
    aqa = sorted({k for m in metrics for k in m
                  if k.startswith("aqa/level/") and k.endswith("/accuracy")},
                 key=lambda k: (order.get(k.split("/")[-2], 3), k))
    return ["classification/mAP_macro", "classification/hF1", "classification/violation_rate",
            *[f"classification/level{lv}/F1" for lv in levels], "description/F1",
            *[f"description/level{lv}/F1" for lv in levels], "caption/CIDEr",
            "caption/METEOR", "caption/BLEU_4", "aqa/accuracy", *aqa,
            "retrieval/a2t/R@10", "retrieval/t2a/R@10"]


def write_tables(out: Path, record: dict[str, Any]) -> list[str]:
    """Write ``ablations.{json,md,csv}`` from ``record``; return the problems (failed runs,
    metrics missing from a run) as lines."""
    runs, cells = record["runs"], list(record["cells"])
    keys = table_keys([r["metrics"] for r in runs])
    stats: dict[tuple[str, str], tuple[float, float, int, list[float | None]]] = {}
    for cell in cells:
        mine = [r for r in runs if r["cell"] == cell]
        for key in [*keys, "seconds"]:
            values = [r["seconds"] if key == "seconds" else r["metrics"].get(key) for r in mine]
            stats[cell, key] = (*summarize(values), values)
    lines = ["# Baselines and ablations", "",
             f"git {record['git_revision']}; seeds {' '.join(map(str, record['seeds']))}; "
             f"command: `{record['command']}`",
             *[f"earlier: `{c}`" for c in record.get("earlier_commands", [])],
             "code of the runs: " + ", ".join(
                 f"{rev} ({n} runs)" for rev, n in collections.Counter(
                     r.get("git_revision") or "not recorded" for r in runs).items()), "",
             "Each entry: mean ± std over seeds (std with ddof=1), with the number of seeds; "
             "n/a: not reported. Every run evaluates the same held-out split; levels are "
             "each run's own hierarchy's (`ach_flat` has 2, `ach_truncated` 3).", "",
             "| metric | " + " | ".join(cells) + " |", "|---" * (len(cells) + 1) + "|"]
    for key in [*keys, "seconds"]:
        name = "seconds per run" if key == "seconds" else key
        lines.append(f"| {name} | " + " | ".join(cell_text(*stats[c, key][:3]) for c in cells)
                     + " |")
    lines += ["", "Cells: the Hydra overrides of train.py beside the common ones and the "
              f"seeds (`{' '.join(record.get('seed_overrides', []))}`); every run reads the clips "
              "of one data run (`data.root`).", ""]
    lines += [f"- `{c}`: `{' '.join(record['cells'][c]) or '(the defaults)'}`" for c in cells]
    text = "\n".join(lines) + "\n"
    (out / "ablations.md").write_text(text)
    write_summary_csv(out / "ablations.csv", "cell",
                      {k: values for k, (*_, values) in stats.items()})
    (out / "ablations.json").write_text(json.dumps(record, indent=2) + "\n")
    print(text)
    problems = [f"run {r['cell']} seed {r['seed']} failed; see {r['run_dir']}/train.log "
                f"and console.log{_last_line(Path(r['run_dir']) / 'console.log')}"
                for r in runs if r["status"] == "failed"]
    problems += [f"run {r['cell']} seed {r['seed']} has not finished ({r['run_dir']})"
                 for r in runs if r["status"] == "missing"]
    for r in runs:
        missing = [k for k in REQUIRED if k not in r["metrics"]]
        if missing and r["status"] not in ("failed", "missing"):
            problems.append(f"run {r['cell']} seed {r['seed']} reports no {', '.join(missing)} "
                            f"({r['run_dir']}/eval/metrics.json)")
    return problems


def _last_line(path: Path) -> str:
    """``": <the file's last non-empty line>"``, or ``""``."""
    if not path.is_file():
        return ""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return f": {lines[-1].strip()}" if lines else ""


# --- the command --------------------------------------------------------------------------

def _command(args: argparse.Namespace, seeds: list[int], common: list[str]) -> str:
    line = ["hacd-graph", "experiment", "ablations", "--out", str(args.out), "--seeds",
            *map(str, seeds), "--cells", args.cells, "--jobs", str(args.jobs), *common]
    return shlex.join(line)


def ablations(args: argparse.Namespace, runner: Runner = subprocess_runner) -> int:
    """Run (or with ``--render`` only tabulate) the grid; 1 when a run failed or a required
    metric is missing, 0 otherwise."""
    from hacd_graph.provenance import git_revision

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder")
    saved = out / "ablations.json"
    if args.render and saved.is_file() and not args.from_runs:
        record = json.loads(saved.read_text())
        for r in record["runs"]:
            r["metrics"] = read_metrics(Path(r["run_dir"])) or r["metrics"]
            r["git_revision"] = run_revision(Path(r["run_dir"])) or r.get("git_revision")
        problems = write_tables(out, record)
    elif args.render:
        record = _record_of_runs(args, out, saved)
        problems = write_tables(out, record)
    else:
        seeds, common = seeds_and_overrides(args)
        bad = [o for o in common if ("=" not in o and not o.startswith("~"))
               or o.startswith("-") or o.split("=", 1)[0].lstrip("+~") == "run.dir"]
        if bad:
            raise UserError(f"overrides {bad}: expected key=value or ~key (run.dir is set "
                            "per run)")
        if args.jobs < 1:
            raise UserError(f"--jobs {args.jobs}: expected a number >= 1")
        cells = [c.strip() for c in args.cells.split(",") if c.strip()]
        runs = plan_grid(out, cells, seeds, common)
        if not args.dry_run:
            out.mkdir(parents=True, exist_ok=True)
        before = _earlier_record(saved, common)
        earlier = {(r["cell"], r["seed"]): r["seconds"] for r in before.get("runs", [])}
        run_grid(out, runs, common, args.jobs, runner, dry_run=args.dry_run)
        if args.dry_run:
            return 0
        has_finetune = any("finetune.trainer.seed=" in o for o in runs[0].overrides)
        planned = {(r.cell, r.seed) for r in runs}
        kept = [{**r, "git_revision": r.get("git_revision")
                 or f"at or before {before['git_revision']}"}
                for r in before.get("runs", []) if (r["cell"], r["seed"]) not in planned]
        record = {"schema": SCHEMA, "git_revision": git_revision(ROOT),
                  "command": _command(args, seeds, common),
                  "earlier_commands": _commands_of(before),
                  "common_overrides": common,
                  "seeds": sorted({*seeds, *before.get("seeds", [])}),
                  "seed_overrides": seed_overrides("S", has_finetune),
                  "cells": {**before.get("cells", {}), **{c: list(CELLS[c]) for c in cells}},
                  "runs": kept + [{"cell": r.cell, "seed": r.seed, "overrides": r.overrides,
                                   "run_dir": str(r.dir), "status": r.status,
                                   "git_revision": run_revision(r.dir),
                                   "seconds": r.seconds if r.seconds is not None
                                   else earlier.get((r.cell, r.seed)),
                                   "metrics": r.metrics} for r in runs]}
        problems = write_tables(out, record)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


def _earlier_record(saved: Path, common: list[str]) -> dict[str, Any]:
    """The grid's saved record, whose runs a new command extends (the runs it does not
    plan are kept with their metrics, so a grid can be completed cell by cell or seed by
    seed); ``{}`` when there is none, or when it ran with other common overrides (its
    runs cannot share a table with these: the table starts afresh, the runs are kept)."""
    if not saved.is_file():
        return {}
    record = json.loads(saved.read_text())
    if list(record.get("common_overrides", [])) != list(common):
        print(f"{saved}: the earlier grid ran with the overrides "
              f"{record.get('common_overrides')}, not {common}; the table starts afresh",
              flush=True)
        return {}
    return record


def _commands_of(record: dict[str, Any]) -> list[str]:
    """Every command that wrote ``record``'s runs, oldest first."""
    if not record:
        return []
    return [*record.get("earlier_commands", []), record["command"]]


def _record_of_runs(args: argparse.Namespace, out: Path, saved: Path) -> dict[str, Any]:
    """The record of the grid this command line names, from its run folders alone (no run
    starts): finished runs give their metrics, the others are marked ``missing``."""
    from hacd_graph.provenance import git_revision

    if not out.is_dir():
        raise UserError(f"--render: no folder {out}; run the grid first")
    seeds, common = seeds_and_overrides(args)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    runs = plan_grid(out, cells, seeds, common)
    earlier = ({(r["cell"], r["seed"]): r["seconds"]
                for r in json.loads(saved.read_text())["runs"]} if saved.is_file() else {})
    for run in runs:
        run.status = "finished" if finished(run.dir) else "missing"
        run.metrics = read_metrics(run.dir) if run.status == "finished" else {}
        if run.status == "finished" and (run.cell, run.seed) not in earlier:
            summary = run.dir / "summary.json"
            stages = json.loads(summary.read_text()).get("stages", {}) if summary.is_file() else {}
            earlier[run.cell, run.seed] = sum(s.get("seconds", 0.0) for s in stages.values())
    has_finetune = any("finetune.trainer.seed=" in o for o in runs[0].overrides)
    return {"schema": SCHEMA, "git_revision": git_revision(ROOT),
            "command": _command(args, seeds, common), "common_overrides": common,
            "seeds": seeds, "seed_overrides": seed_overrides("S", has_finetune),
            "cells": {c: list(CELLS[c]) for c in cells},
            "runs": [{"cell": r.cell, "seed": r.seed, "overrides": r.overrides,
                      "run_dir": str(r.dir), "status": r.status,
                      "git_revision": run_revision(r.dir),
                      "seconds": earlier.get((r.cell, r.seed)), "metrics": r.metrics}
                     for r in runs]}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``experiment`` with its ``ablations``, ``teacher`` and ``real-audio`` sub-commands."""
    group = subparsers.add_parser("experiment",
                                  help="the baselines and ablations grid; the teacher's arms")
    commands = group.add_subparsers(dest="experiment_command", required=True,
                                    metavar="COMMAND")
    parser = commands.add_parser(
        "ablations", help="every cell x seed through train.py; mean ± std tables",
        description="Run every cell x seed through train.py (one data run, shared teachers, "
        "finished runs skipped) and write DIR/ablations.{md,csv,json} with mean ± std over "
        "seeds.")
    parser.add_argument("--out", type=Path, required=True, help="the grid's folder")
    parser.add_argument("--seeds", nargs="+", default=["0", "1", "2"],
                        help="integer seeds (default 0 1 2)")
    parser.add_argument("--cells", default=",".join(CELLS),
                        help=f"comma list of {', '.join(CELLS)}")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at once (each with OMP_NUM_THREADS = cores // jobs)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument("--render", action="store_true",
                        help="only write the tables again (from OUT/ablations.json)")
    parser.add_argument("--from-runs", action="store_true",
                        help="with --render: tabulate the runs these --cells and --seeds "
                        "name from their folders (unfinished ones are counted missing), "
                        "not from ablations.json")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="Hydra overrides common to every run (e.g. experiment=tiny)")
    parser.set_defaults(func=ablations)
    from hacd_graph.teacher import comparison, real_audio

    comparison.register(commands)
    real_audio.register(commands)
