"""``hacd-graph experiment real-audio``: the teacher on real recordings of packages it never
heard, arms over seeds, beside a label-prior (majority) and a random baseline.

The sound bank (``hacd-graph data soundbank --out BANK``) is split by source package as
``configs/data/synth_real.yaml`` says: the held-out group (``data.bank_held_out``, the
SuperTux family) never enters training; the training packages (``data.bank_packages``) may
appear in the mixed training scenes. Each arm (:data:`ARMS`) is the default pipeline's
teacher, trained through the one training loop with the same settings and budget, once per
seed:

- ``synthetic``: procedural scenes only;
- ``mixed``: the same scenes with bank recordings of the training packages placed as
  foreground events (``SceneConfig.bank``);
- ``bank``: the training packages' own recordings alone, no scenes around them, each
  fitted to the clip length (``data.soundbank.subset.write_bank_clips``);
- ``synthetic_large``, ``mixed_large`` and ``bank_large``: the same with the larger CNN
  (``teacher=cnn_large``; its cost per clip: ``benchmarks/bench_backbones.py``).

The seeds vary the initialisation, batch order and training-time variation; an arm's
training clips are the same for every seed. Baselines: ``prior`` scores every clip with
each concept's frequency in the mixed training scenes (its top-level answer is the training
data's majority root), ``random`` with uniform scores (20 draws). Every bank clip is scored
at its own length (longer files in windows, max over windows:
``teacher.robustness.windowed_probs``).

Reported, mean ± std over seeds: per-level mAP (``eval.metrics.hierarchical_metrics``);
top-level mAP, accuracy (the highest-scored sound-source root is one of the clip's roots)
and balanced accuracy (that accuracy averaged over the roots' clips, so the majority root
cannot carry it) over the AudioSet sound-source roots; AP per root. To tell capacity from
generalisation, the same on a seeded sample of the training packages' own clips (``seen``:
recordings the mixed arms heard inside scenes and the bank arms trained on), the macro mAP
on synthetic eval scenes and the training loss. Finished runs and their scores are found and
not computed again; a killed run resumes.
Outputs: ``OUT/real_eval.{md,csv,json}`` with the git revision. The exit status is 1 when a
score is not a probability or a metric falls outside [0, 1].
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hacd_graph.errors import UserError
from hacd_graph.over_seeds import (
    cell_text,
    seeds_and_overrides,
    selected_arms,
    summarize,
    write_summary_csv,
)

ARMS = {  # name -> (training clips, overrides composed before the user's)
    "synthetic": ("synthetic", ()),
    "mixed": ("mixed", ()),
    "bank": ("bank", ()),
    "synthetic_large": ("synthetic", ("teacher=cnn_large",)),
    "mixed_large": ("mixed", ("teacher=cnn_large",)),
    "bank_large": ("bank", ("teacher=cnn_large",)),
}
BASELINES = ("prior", "random")
AUDIOSET_ROOTS = {  # the ontology's top categories (MID -> name)
    "/m/0dgw9r": "Human sounds", "/m/0jbk": "Animal", "/m/04rlf": "Music",
    "/t/dd00041": "Sounds of things", "/m/059j3w": "Natural sounds",
    "/t/dd00098": "Source-ambiguous sounds", "/t/dd00123": "Channel, environment and background",
}
# Top-level metrics are over the six sound-source roots: every synthetic training clip is
# labelled with channel/acoustic properties (reverberation, loudness, ...), which the bank
# never labels (unknown, not absent), so that root's scores say nothing about what the
# sound is. Its AP is still reported.
SOURCE_ROOTS = tuple(m for m in AUDIOSET_ROOTS if m != "/t/dd00123")
COUNTS = ("top_level/clips",)  # metrics that are counts, not in [0, 1]


def root_metrics(probs: np.ndarray, targets: np.ndarray, roots: Sequence[int],
                 source_roots: Sequence[int]) -> dict[str, float]:
    """AP per root; top-level mAP, accuracy and balanced accuracy over ``source_roots``."""
    from hacd_graph.eval.metrics import average_precision

    out: dict[str, float] = {}
    aps = []
    for r in roots:
        y = targets[:, r]
        ap = average_precision(y, probs[:, r]) if 0 < y.sum() < len(y) else math.nan
        out[f"root_AP/{r}"] = ap
        if not math.isnan(ap) and r in source_roots:
            aps.append(ap)
    out["top_level/mAP"] = float(np.mean(aps)) if aps else math.nan
    sub_y = targets[:, source_roots]
    has = sub_y.sum(1) > 0
    hit = sub_y[np.arange(len(sub_y)), probs[:, source_roots].argmax(1)] > 0
    out["top_level/accuracy"] = float(hit[has].mean()) if has.any() else math.nan
    per_root = [hit[sub_y[:, j] > 0].mean() for j in range(sub_y.shape[1]) if sub_y[:, j].any()]
    out["top_level/balanced_accuracy"] = float(np.mean(per_root)) if per_root else math.nan
    out["top_level/clips"] = float(has.sum())
    return out


def score(probs: np.ndarray, targets: np.ndarray, ach, roots: Sequence[int],
          source_roots: Sequence[int]) -> dict[str, float]:
    """Per-level mAP, macro mAP and :func:`root_metrics` of scores ``[N, C]``."""
    from hacd_graph.eval.metrics import hierarchical_metrics

    m = hierarchical_metrics(probs, targets, ach)
    keep = {k: v for k, v in m.items() if k.startswith("level") and k.endswith("mAP")}
    keep["mAP_macro"] = m["mAP_macro"]
    return {**keep, **root_metrics(probs, targets, roots, source_roots)}


def bank_clips(bank: Path, manifest: Sequence[dict], packages: Sequence[str], ach,
               sample_rate: int, limit: int | None = None
               ) -> tuple[list[dict], list[torch.Tensor], np.ndarray]:
    """``(entries, waveforms, targets [N, C])`` of the clips of ``packages`` among the bank's
    ``manifest`` entries; at most ``limit`` of them, a seeded sample kept in manifest order."""
    from hacd_graph.data.audio_io import load_audio
    from hacd_graph.data.datasets import labels_to_target

    entries = [e for e in manifest if e["source_package"] in packages]
    if limit is not None and len(entries) > limit:
        keep = np.random.default_rng(0).choice(len(entries), limit, replace=False)
        entries = [entries[i] for i in sorted(keep)]
    waves = [load_audio(bank / e["audio"], sample_rate) for e in entries]
    targets = torch.stack([labels_to_target(e["labels"], ach) for e in entries])
    return entries, waves, targets.numpy()


def label_prior(manifest_dir: Path, ach) -> np.ndarray:
    """Each concept's frequency ``[C]`` among a manifest's clips."""
    from hacd_graph.data.datasets import labels_to_target
    from hacd_graph.data.export import read_manifest

    return torch.stack([labels_to_target(e["labels"], ach)
                        for e in read_manifest(manifest_dir)]).mean(0).numpy()


def predict(model, waves: Sequence[torch.Tensor], window: int) -> np.ndarray:
    """Marginal probabilities ``[N, C]`` of each waveform, windowed when longer than
    ``window``."""
    from hacd_graph.teacher.robustness import windowed_probs

    model.eval()
    with torch.no_grad():
        return torch.stack([windowed_probs(model, w, window) for w in waves]).numpy()


def cached_predict(path: Path, model_fn, entries: Sequence[dict],
                   waves: Sequence[torch.Tensor], window: int) -> np.ndarray:
    """:func:`predict` of ``model_fn()``, read from ``path`` when it holds the same clips."""
    ids = np.array([e["id"] for e in entries])
    if path.exists():
        saved = np.load(path)
        if np.array_equal(saved["ids"], ids):
            return saved["probs"]
    probs = predict(model_fn(), waves, window)
    np.savez_compressed(path, probs=probs.astype(np.float32), ids=ids)
    return probs


def not_probabilities(probs: np.ndarray) -> bool:
    """Whether any score is non-finite or outside [0, 1]."""
    return bool(not np.isfinite(probs).all() or probs.min() < 0 or probs.max() > 1)


def baselines(prior: np.ndarray, targets: np.ndarray, ach, roots: Sequence[int],
              source_roots: Sequence[int], draws: int = 20) -> dict[str, list[dict]]:
    """:func:`score` of the ``prior`` baseline (every clip scored with ``prior`` ``[C]``) and
    of ``draws`` uniform random scorings (seeded)."""
    rng = np.random.default_rng(0)
    return {"prior": [score(np.tile(prior, (len(targets), 1)), targets, ach, roots,
                            source_roots)],
            "random": [score(rng.random(targets.shape), targets, ach, roots, source_roots)
                       for _ in range(draws)]}


def impossible_metrics(results: dict[str, dict[str, list[dict]]]) -> list[str]:
    """One line per column and set whose metrics fall outside [0, 1] (counts excepted)."""
    problems = []
    for column, per_set in results.items():
        for name, per_seed in per_set.items():
            bad = sorted({k for m in per_seed for k, v in m.items()
                          if k not in COUNTS and not math.isnan(v) and not 0 <= v <= 1})
            if bad:
                problems.append(f"{column} on {name}: metrics outside [0, 1]: {bad}")
    return problems


def majority_oracle(root_targets: np.ndarray) -> tuple[int, float]:
    """The most frequent root (a column of ``root_targets`` ``[N, R]``) and the top-level
    accuracy of always answering it, over the clips with a root."""
    has_root = root_targets.sum(1) > 0
    majority = int(np.argmax(root_targets.sum(0)))
    if not has_root.any():
        return majority, math.nan
    return majority, float(root_targets[has_root, majority].mean())


def tables(results: dict, training: dict[str, dict[str, list[float]]], columns: Sequence[str],
           names: dict[str, str], header_lines: Sequence[str], seen_clips: int) -> str:
    """The Markdown report: held-out metrics, then fit (seen clips, and ``training``'s rows:
    ``{label: {arm: one value per seed}}``)."""
    def row(label: str, per_column: list[list[float]]) -> str | None:
        cells = [summarize(v) for v in per_column]
        if all(n == 0 for _, _, n in cells):
            return None
        return f"| {label} | " + " | ".join(cell_text(*c) for c in cells) + " |"

    first = next(iter(results.values()))["held_out"][0]
    keys = sorted((k for k in first if k.startswith("level")),
                  key=lambda k: int(k[5:].split("/")[0]))
    keys += ["mAP_macro", "top_level/mAP", "top_level/accuracy",
             "top_level/balanced_accuracy", *names]
    header = ["| metric | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines = [*header_lines, "", *header]
    lines += [row(names.get(k, k), [[m.get(k, math.nan) for m in results[a]["held_out"]]
                                     for a in columns]) for k in keys]
    lines += ["", f"Fit: {seen_clips} clips of the training packages (a seeded sample; the "
              "mixed arms heard them inside scenes, the bank arms trained on them) and the "
              "synthetic eval scenes.", "",
              *header]
    lines += [row(f"seen {k}", [[m[k] for m in results[a]["seen"]] for a in columns])
              for k in ("mAP_macro", "top_level/mAP", "top_level/accuracy",
                        "top_level/balanced_accuracy")]
    lines += [row(label, [per_arm.get(a, []) for a in columns])
              for label, per_arm in training.items()]
    return "\n".join(line for line in lines if line is not None) + "\n"


def evaluate(args: argparse.Namespace) -> int:
    """Train every arm x seed, score the bank's held-out and seen clips, write the report.
    1 when a score or metric is impossible."""
    from omegaconf import OmegaConf

    from hacd_graph.ach import build_ach
    from hacd_graph.atomic_io import write_json_atomic, write_text_atomic
    from hacd_graph.data.export import read_manifest, write_synthetic
    from hacd_graph.data.soundbank.subset import write_bank_clips
    from hacd_graph.data.synth.scene import SceneConfig
    from hacd_graph.gnn import GNNConfig
    from hacd_graph.pipeline import compose_config
    from hacd_graph.pipeline.fingerprint import fingerprint
    from hacd_graph.provenance import git_revision
    from hacd_graph.teacher import TeacherConfig
    from hacd_graph.teacher.stage import TeacherStage
    from hacd_graph.training import DistributedContext, TrainerConfig, config_from_mapping, fit

    arms = selected_arms(args.arms, ARMS)
    seeds, overrides = seeds_and_overrides(args)
    if any(o.split("=", 1)[0].lstrip("+~") == "trainer.seed" for o in overrides):
        raise UserError("trainer.seed is set per run: give --seeds instead")
    bank, out = Path(args.bank), Path(args.out)
    if not (bank / "manifest.jsonl").is_file():
        raise UserError(f"--bank {bank}: no manifest.jsonl there; build the bank with "
                        "'hacd-graph data soundbank --out DIR'")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder")
    revision = git_revision(Path(__file__).parents[2])  # at the start: the code of the figures
    common = ["data=synth_real", f"trainer.max_steps={args.steps}", "trainer.eval_every=0",
              "trainer.progress=false", *overrides]
    base = compose_config("distill_gnn", common)
    held = tuple(base.data.bank_held_out)
    manifest = read_manifest(bank)
    present = {e["source_package"] for e in manifest}
    train_pkgs = tuple(p for p in base.data.bank_packages if p in present)
    if set(train_pkgs) & set(held):
        raise UserError(f"packages both trained on and held out: {set(train_pkgs) & set(held)}")
    if not set(held) & present:
        raise UserError(f"--bank {bank} holds none of the held-out packages {list(held)}")
    if not train_pkgs:
        raise UserError(f"--bank {bank} holds none of the training packages "
                        f"{list(base.data.bank_packages)}")
    ach = build_ach(("core", "audioset"))
    duration = float(base.data.duration_s)
    sr = int(base.teacher.frontend.sample_rate)
    window = int(duration * sr)
    scenes = {"synthetic": SceneConfig(duration_s=duration),
              "mixed": SceneConfig(duration_s=duration, bank=str(bank.resolve()),
                                   bank_packages=train_pkgs, bank_prob=base.data.bank_prob,
                                   bank_max_events=base.data.bank_max_events)}
    eval_dir = out / "data" / "eval_synthetic"
    write_synthetic(eval_dir, args.eval_clips, seed=2, config=scenes["synthetic"],
                    workers=args.workers, progress=False)
    timings: dict[str, float] = {}
    # the mixed scenes also give the prior baseline
    for kind in sorted({ARMS[a][0] for a in arms} | {"mixed"}):
        start = time.perf_counter()
        if kind == "bank":
            write_bank_clips(bank, train_pkgs, out / "data" / "train_bank", duration, sr, seed=1)
        else:
            write_synthetic(out / "data" / f"train_{kind}", args.train_clips, seed=1,
                            config=scenes[kind], workers=args.workers, progress=False)
        timings[f"{kind}/generate_s"] = round(time.perf_counter() - start, 1)
    sets = {"held_out": bank_clips(bank, manifest, held, ach, sr),
            "seen": bank_clips(bank, manifest, train_pkgs, ach, sr, args.seen_clips)}
    roots = [ach.index(m) for m in AUDIOSET_ROOTS if m in set(ach.ids)]
    source_roots = [ach.index(m) for m in SOURCE_ROOTS if m in set(ach.ids)]

    results: dict[str, dict[str, list[dict]]] = {}  # [column][set] -> one dict per seed/draw
    training: dict[str, dict[str, list[float]]] = {  # from each run's metrics.json
        "synthetic eval mAP_macro": {}, "training loss (last log window)": {}}
    problems: list[str] = []
    runs = [(arm, seed) for arm in arms for seed in seeds]
    for i, (arm, seed) in enumerate(runs, 1):
        kind, arm_overrides = ARMS[arm]
        cfg = compose_config("distill_gnn", [*arm_overrides, *common, f"trainer.seed={seed}"])
        settings = {k: OmegaConf.to_container(cfg[k], resolve=True)
                    for k in ("teacher", "gnn", "trainer")}
        teacher = config_from_mapping(TeacherConfig, settings["teacher"], "teacher")
        gnn = config_from_mapping(GNNConfig, settings["gnn"], "gnn")
        trainer = config_from_mapping(TrainerConfig, settings["trainer"], "trainer")
        run_dir = out / arm / f"seed{seed}"
        print(f"[{i}/{len(runs)}] {arm} seed {seed} ...", flush=True)
        stage = TeacherStage(ach, teacher, gnn, out / "data" / f"train_{kind}", eval_dir,
                             trainer.batch_size, seed=seed, show_progress=False)
        digest = fingerprint("real_audio", 1, {**settings, "scenes": kind,
                                               "train_clips": args.train_clips}, {})
        fit(stage, trainer, run_dir, DistributedContext(), fingerprint=digest)

        def model_fn(stage=stage, run_dir=run_dir):
            model = stage.build_model()
            model.load_state_dict(torch.load(run_dir / "model.pt", map_location="cpu"))
            return model

        column = results.setdefault(arm, {name: [] for name in sets})
        for name, (entries, waves, targets) in sets.items():
            probs = cached_predict(run_dir / f"probs_{name}.npz", model_fn, entries, waves,
                                   window)
            if not_probabilities(probs):
                problems.append(f"{arm} seed {seed}: scores outside [0, 1] on {name}")
            column[name].append(score(probs, targets, ach, roots, source_roots))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        # as the loop recorded it (since the last resume), also for runs found finished
        timings[f"{arm}/seed{seed}/train_s"] = round(metrics["train"]["wall_s"], 1)
        timings[f"{arm}/seed{seed}/clips_per_s"] = round(metrics["train"]["examples_per_s"], 1)
        training["synthetic eval mAP_macro"].setdefault(arm, []).append(
            metrics.get("eval", {}).get("mAP_macro", math.nan))
        training["training loss (last log window)"].setdefault(arm, []).append(
            metrics.get("train", {}).get("loss", math.nan))
        held_out = column["held_out"][-1]
        print(f"  held-out mAP {held_out['mAP_macro']:.3f}, top-level accuracy "
              f"{held_out['top_level/accuracy']:.3f} (balanced "
              f"{held_out['top_level/balanced_accuracy']:.3f})", flush=True)

    prior = label_prior(out / "data" / "train_mixed", ach)
    for name, (_, _, targets) in sets.items():
        for column, per_draw in baselines(prior, targets, ach, roots, source_roots).items():
            results.setdefault(column, {})[name] = per_draw
    problems += impossible_metrics(results)

    held_targets = sets["held_out"][2][:, source_roots]
    has_root = held_targets.sum(1) > 0
    majority, oracle = majority_oracle(held_targets)
    columns = [*arms, *BASELINES]
    names = {f"root_AP/{r}": f"AP {ach.names[r]}" for r in roots}
    header_lines = [
        f"Held-out real packages: {', '.join(held)} ({len(held_targets)} clips; "
        f"{int(has_root.sum())} with a sound-source root). Training packages (mixed arms "
        f"only): {', '.join(train_pkgs)}.",
        f"{args.train_clips} training scenes of {duration:g} s per scene arm (bank arms: "
        f"the training packages' clips), {args.steps} steps, "
        f"batch {base.trainer.batch_size}, seeds {' '.join(map(str, seeds))}; mean ± std (n); "
        f"`prior`: concept frequencies of the mixed training scenes; `random`: 20 draws. "
        f"Revision {revision}.",
        f"Always answering the held-out group's most frequent root "
        f"({ach.names[source_roots[majority]]}) would score a top-level accuracy of "
        f"{oracle:.3f} (balanced: 1 / roots present): an oracle that reads the test labels, "
        "not a baseline."]
    report = tables(results, training, columns, names, header_lines,
                    len(sets["seen"][2]))
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "real_eval.md", report)
    keys = sorted({k for m in results["prior"]["held_out"] for k in m})
    write_summary_csv(out / "real_eval.csv", "arm", {
        (c, f"{name}/{k}"): [m.get(k) for m in results[c][name]]
        for c in columns for name in sets for k in keys})
    write_json_atomic(out / "real_eval.json", {
        "git_revision": revision, "command": " ".join(sys.argv),
        "held_out": list(held), "train_packages": list(train_pkgs),
        "num_clips": {name: len(s[2]) for name, s in sets.items()},
        "majority_oracle_accuracy": oracle, "results": results,
        "training": training, "timings": timings,
        "settings": {"arms": arms, "seeds": seeds, "train_clips": args.train_clips,
                     "steps": args.steps, "batch_size": base.trainer.batch_size,
                     "duration_s": duration, "bank_prob": base.data.bank_prob,
                     "overrides": overrides},
        "root_names": {str(r): ach.names[r] for r in roots},
    })
    print(report)
    for line in problems:
        print(f"WRONG RESULT: {line}", file=sys.stderr)
    return 1 if problems else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``experiment real-audio`` to the ``experiment`` group's sub-commands."""
    parser = commands.add_parser(
        "real-audio", help="the teacher's arms on held-out real packages of the sound bank",
        description=__doc__.split("\n\n")[0].replace("``", "'"))
    parser.add_argument("--bank", type=Path, required=True,
                        help="sound bank folder (hacd-graph data soundbank --out DIR)")
    parser.add_argument("--out", type=Path, required=True, help="the experiment's folder")
    parser.add_argument("--arms", default="synthetic,mixed,bank,mixed_large,bank_large",
                        help=f"comma list of {', '.join(ARMS)}")
    parser.add_argument("--seeds", nargs="+", default=["0", "1", "2"],
                        help="integer seeds (default 0 1 2)")
    parser.add_argument("--train-clips", type=int, default=2000,
                        help="training scenes per kind (synthetic, mixed)")
    parser.add_argument("--eval-clips", type=int, default=100, help="synthetic eval scenes")
    parser.add_argument("--seen-clips", type=int, default=300,
                        help="training packages' clips scored to measure fit")
    parser.add_argument("--steps", type=int, default=1000, help="optimiser steps per run")
    parser.add_argument("--workers", type=int, default=1, help="scene generation processes")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="Hydra overrides of distill_gnn common to every arm")
    parser.set_defaults(func=evaluate)
