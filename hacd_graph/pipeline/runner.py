"""The pipeline behind ``train.py``: the stages in order, in one run directory that never lies.

Run directory (DESIGN.md "Run directory"; bookkeeping in ``run_directory.py``)::

    <run.dir>/config.yaml, configs/     the config (and every invocation's, timestamped)
    <run.dir>/records/<stage>.json      what made each stage's outputs
    <run.dir>/ach.json                  the hierarchy
    <run.dir>/data/train, eval          synthetic clips (unless data.root names folders)
    <run.dir>/teacher/                  model.pt, metrics.json, ckpt/, teacher.json, ...
    <run.dir>/distill/                  audio_lm/ (bridge, LoRA adapter, concept head),
                                        metrics.json, ckpt/, teacher_outputs_*.pt
    <run.dir>/finetune/                 audio_lm/, retrieval.pt, metrics.json, ckpt/
    <run.dir>/eval/                     metrics.json, examples.jsonl, attention.npz,
                                        errors.json, counterfactual.json
    <run.dir>/report.md, report.html    the report (report_files/ holds its figures)
    <run.dir>/train.log, summary.json

Every stage is fingerprinted before any work (settings and upstream fingerprints): a
finished stage with the same fingerprint is skipped, an interrupted one resumes from its
latest checkpoint (same engine and rank count), and a stage made with other settings stops
the run with one line naming the change.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.pipeline.fingerprint import fingerprint
from hacd_graph.pipeline.run_directory import RunDirectory, RunDirectoryError, StagePlan
from hacd_graph.pipeline.stages import (
    SETTINGS,
    STAGE_INPUTS,
    STAGE_VERSIONS,
    STAGES,
    DataConfig,
    container,
    data_folders,
    resume_key,
    run_ach,
    run_data,
    run_distill,
    run_eval,
    run_finetune,
    run_teacher,
    trainer_settings,
)
from hacd_graph.provenance import git_revision
from hacd_graph.training import DistributedContext, TrainResult, config_from_mapping
from hacd_graph.training.loop import completed_result

log = logging.getLogger("hacd_graph.pipeline")
TRAINING_STAGES = ("teacher", "distill", "finetune")
KEY_METRICS = ("mAP_macro", "hF1", "violation_rate")


def check_stages(stages: list[str]) -> list[str]:
    """``run.stages`` must be a prefix of :data:`STAGES` (each stage needs the ones before).

    Raises:
        RunDirectoryError: an unknown stage, or one whose inputs would be missing.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise RunDirectoryError(f"run.stages: unknown stage(s) {unknown}; stages are "
                                f"{list(STAGES)}")
    for stage in stages:
        missing = [s for s in STAGE_INPUTS[stage] if s not in stages]
        if missing:
            raise RunDirectoryError(f"run.stages: stage {stage} needs {missing} (its inputs) "
                                    "in the list too")
    return [s for s in STAGES if s in stages]


def plan_stages(cfg: DictConfig, stages: list[str], ctx: DistributedContext,
                use_deepspeed: bool) -> list[StagePlan]:
    """Fingerprint every requested stage from the config alone (no work done)."""
    plans: dict[str, StagePlan] = {}
    data = config_from_mapping(DataConfig, container(cfg, "data"), "data")
    outputs = {"ach": ("ach.json",), "data": ("data",) if data.root is None else (),
               "teacher": ("teacher",), "distill": ("distill",), "finetune": ("finetune",),
               "eval": ("eval", "report.md", "report.html", "report_files")}
    for name in stages:
        settings = SETTINGS[name](cfg)
        inputs = {up: plans[up].fingerprint for up in STAGE_INPUTS[name]}
        plans[name] = StagePlan(
            name, fingerprint(name, STAGE_VERSIONS[name], settings, inputs), settings,
            inputs, outputs[name],
            resume_key(cfg, ctx, use_deepspeed) if name in TRAINING_STAGES else None)
    return list(plans.values())


def _key_numbers(result: Any) -> dict[str, Any]:
    """A stage's headline numbers for the console and ``summary.json``."""
    if isinstance(result, TrainResult):
        m = result.metrics
        out = {k: m["eval"].get(k) for k in KEY_METRICS}
        depth = [int(k[5:-4]) for k in m["eval"] if k.startswith("level") and k.endswith("/mAP")]
        if depth:
            out[f"level{max(depth)}/F1"] = m["eval"].get(f"level{max(depth)}/F1")
        out.update(engine=m.get("engine"), world_size=m.get("world_size"),
                   steps=m.get("step"), examples_per_s=m.get("train", {}).get("examples_per_s"))
        return out
    if isinstance(result, dict) and "metrics" in result:  # the eval stage
        m = result["metrics"]
        keys = ("classification/hF1", "description/F1", "caption/CIDEr", "aqa/accuracy",
                "retrieval/t2a/R@10")
        return {k: m.get(k) for k in keys}
    if isinstance(result, ConceptHierarchy):
        return {"concepts": len(result), "levels": result.depth}
    if isinstance(result, tuple):
        return {"train": str(result[0]), "eval": str(result[1])}
    return {}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def run_pipeline(cfg: DictConfig, ctx: DistributedContext, use_deepspeed: bool
                 ) -> dict[str, Any]:
    """Run the configured stages (``run.stages``) into ``run.dir``.

    Args:
        cfg: the composed config (already validated).
        ctx: this process's rank, world size and device.
        use_deepspeed: train with the DeepSpeed engine (``deepspeed`` group) rather than
            plain PyTorch (``train.py`` decides: launched by a launcher and enabled).

    Returns:
        ``{"run_dir": Path, "summary": dict, "seconds": {stage: s}, "<stage>": result}``
        with a :class:`TrainResult` for the training stages.

    Raises:
        RunDirectoryError: the run directory cannot be used as asked (before any work).
    """
    run = RunDirectory(cfg.run.dir, ctx.is_main)
    stages = check_stages(list(cfg.run.stages))
    plans = run.plan(plan_stages(cfg, stages, ctx, use_deepspeed))
    ctx.barrier()  # every rank has read the records before rank 0 writes any
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("[hacd] %(message)s"))
    if ctx.is_main:
        log.addHandler(console)
        log.setLevel(logging.INFO)
    run.open_log(log)
    try:
        kept = run.save_config(OmegaConf.to_yaml(cfg, resolve=True))
        if kept is not None:
            log.info("run directory %s (config kept as %s)", run.path, kept.name)
        return _run_stages(cfg, plans, run, ctx, use_deepspeed)
    finally:
        run.close_log(log)
        log.removeHandler(console)


def _run_stages(cfg: DictConfig, plans: list[StagePlan], run: RunDirectory,
                ctx: DistributedContext, use_deepspeed: bool) -> dict[str, Any]:
    data = config_from_mapping(DataConfig, container(cfg, "data"), "data")
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    for plan in plans:
        name = plan.name
        t = time.perf_counter()
        if plan.action == "skip":
            record = run.record(name) or {}
            log.info("%s: skipped, finished %s with the same settings (fingerprint %s)",
                     name, record.get("finished_at", "?"), plan.fingerprint)
        else:
            if plan.action == "resume":
                pointer = run.path / name / "ckpt" / "latest"
                where = (f"checkpoint {pointer.read_text().strip()}" if pointer.is_file()
                         else "its start (no checkpoint was written)")
                log.info("%s: resuming an interrupted run from %s (fingerprint %s)", name,
                         where, plan.fingerprint)
            else:
                log.info("%s: running (fingerprint %s)", name, plan.fingerprint)
            run.write_record(plan, "running")
        results[name] = _stage(cfg, plan, data, results, run.path, ctx, use_deepspeed)
        seconds[name] = time.perf_counter() - t
        numbers = _key_numbers(results[name])
        if plan.action != "skip":
            extra = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "seconds": seconds[name], "git_revision": git_revision(),
                     "key_numbers": numbers}
            if isinstance(results[name], TrainResult):
                extra["resumed_from"] = results[name].metrics.get("resumed_from")
            run.write_record(plan, "complete", **extra)
        rows[name] = {"status": {"run": "ran", "skip": "skipped", "resume": "resumed"}[
            plan.action], "seconds": seconds[name], "fingerprint": plan.fingerprint,
            **numbers}
        log.info("%s: %s in %.1f s  %s", name, rows[name]["status"], seconds[name],
                 "  ".join(f"{k} {_fmt(v)}" for k, v in numbers.items()))
    summary = {"run_dir": str(run.path), "git_revision": git_revision(), "stages": rows}
    run.write_summary(summary)
    if ctx.is_main:
        report = run.path / "report.html"
        if report.is_file():
            log.info("report: %s (and report.md)", report)
        log.info("done: %s (summary.json, train.log, records/)", run.path)
    return {"run_dir": run.path, "summary": summary, "seconds": seconds, **results}


def _stage(cfg: DictConfig, plan: StagePlan, data: DataConfig, results: dict[str, Any],
           run_dir: Path, ctx: DistributedContext, use_deepspeed: bool) -> Any:
    """Run (or, when skipped, load the outputs of) one stage."""
    name, action = plan.name, plan.action
    if name == "ach":
        if action == "skip":
            return ConceptHierarchy.load(run_dir / "ach.json")
        return run_ach(cfg, run_dir, ctx)
    if name == "data":
        return data_folders(data, run_dir) if action == "skip" else run_data(data, run_dir, ctx)
    if name == "eval":
        metrics = run_dir / "eval" / "metrics.json"
        if action == "skip" and metrics.is_file():
            return json.loads(metrics.read_text())
        return run_eval(cfg, results["data"], run_dir, ctx)
    if action == "skip":
        steps = int(trainer_settings(cfg, name)["max_steps"])
        done = completed_result(run_dir / name, steps, plan.fingerprint)
        if done is None:
            raise RunDirectoryError(f"stage {name} is recorded as complete but "
                                    f"{run_dir / name} holds no finished result; use a new "
                                    "run.dir")
        return done
    if name == "teacher":
        return run_teacher(cfg, results["ach"], data, results["data"], run_dir, ctx,
                           use_deepspeed, plan.fingerprint)
    run = run_distill if name == "distill" else run_finetune
    return run(cfg, results["ach"], results["data"], run_dir, ctx, use_deepspeed,
               plan.fingerprint)
