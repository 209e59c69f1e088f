"""A fake but complete run directory for the report's tests: plausible numbers, random but
shape-correct arrays, in exactly the files and schemas the eval stage and training write."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

LEVELS = (1, 2, 3)
STAGES = ("teacher", "distill", "finetune")
QUESTION_TYPES = ("yes_no", "choice", "counting", "attribute")


def fake_metrics(rng: np.random.Generator) -> dict[str, float]:
    """Every key of ``eval/metrics.json``'s ``metrics`` block, with plausible values."""
    m: dict[str, float] = {}
    for lv in LEVELS:
        for k in ("P", "R", "F1"):
            m[f"description/level{lv}/{k}"] = float(rng.uniform(0.2, 0.9))
        m[f"classification/level{lv}/mAP"] = float(rng.uniform(0.2, 0.9))
        m[f"classification/level{lv}/F1"] = float(rng.uniform(0.1, 0.8))
        m[f"aqa/level{lv}/accuracy"] = float(rng.uniform(0.3, 0.9))
    m["description/parse_failures"] = 2
    for n in range(1, 5):
        m[f"caption/BLEU_{n}"] = float(rng.uniform(0.05, 0.6))
    m.update({"caption/METEOR": 0.1734, "caption/ROUGE_L": 0.3812, "caption/CIDEr": 1.2345})
    for k in ("hP", "hR", "hF1", "violation_rate", "mAP_macro"):
        m[f"classification/{k}"] = float(rng.uniform(0.01, 0.9))
    m["aqa/accuracy"] = float(rng.uniform(0.3, 0.9))
    for name in ("general", "category", "specific"):
        m[f"aqa/level/{name}/accuracy"] = float(rng.uniform(0.3, 0.9))
    for t in QUESTION_TYPES:
        m[f"aqa/type/{t}/accuracy"] = float(rng.uniform(0.3, 0.9))
    for d in ("a2t", "t2a"):
        for k in ("R@1", "R@5", "R@10", "mAP@10"):
            m[f"retrieval/{d}/{k}"] = float(rng.uniform(0.01, 0.9))
    return m


def _example(i: int, rng: np.random.Generator) -> dict:
    qa = [{"question": f"Is there a dog <{i}> & a cat?", "answer": "yes",
           "prediction": "yes" if i % 2 else "no", "level": "general", "type": "yes_no",
           "correct": bool(i % 2)},
          {"question": "How many sources?", "answer": "2", "prediction": "2",
           "level": "specific", "type": "counting", "correct": True}]
    return {"id": f"clip-{i:03d}", "audio": f"data/eval/audio/clip-{i:03d}.wav",
            "reference_description": f"Animal sounds: a dog barks <b>loudly</b> (clip {i}).",
            "generated_description": f"Animal sounds: a dog barks (clip {i}).",
            "parse_failed": i == 1,
            "reference_caption": "A dog barks while birds chirp.",
            "generated_caption": "A dog is barking | outside.",
            "qa": qa,
            "top_concepts": [{"name": n, "level": lv, "prob": float(rng.uniform(0.5, 1))}
                             for n, lv in (("Animal", 1), ("Dog", 2), ("Bark", 3))]}


def _errors(rng: np.random.Generator) -> dict:
    return {"by_distance": {"1": 12, "2": 31, "3": 7, "4": 2},
            "top_confusions": [{"true": "Dog", "predicted": "Cat", "distance": 2, "count": 9},
                               {"true": "Guitar", "predicted": "Bass guitar", "distance": 1,
                                "count": 4}],
            "levels": {str(lv): {"false_positives": int(rng.integers(0, 50)),
                                 "false_negatives": int(rng.integers(0, 50)),
                                 "true_positives": int(rng.integers(10, 90)),
                                 "F1": float(rng.uniform(0.2, 0.9))} for lv in LEVELS},
            # the eval stage names a missed concept "concept" (error_analysis.py); "name" too
            "missed": [{"concept": "Wind chime", "id": "hacd:wind_chime", "level": 3,
                        "count": 5}, {"name": "Hiss", "count": 3}],
            "num_clips": 240, "false_positives": 52, "unmatched_false_positives": 4}


def _stage(run: Path, stage: str, steps: int, rng: np.random.Generator) -> None:
    folder = run / stage
    folder.mkdir(parents=True)
    rows = []
    history = []
    for step in range(1, steps + 1):
        rows.append([step, "train", "loss", f"{2.0 / step + rng.uniform(0, 0.1):.6g}"])
        rows.append([step, "train", "lr", "0.0001"])
        if step % 4 == 0:
            values = {"mAP_macro": float(rng.uniform(0.2, 0.8)), "hF1": float(rng.uniform(0, 1))}
            history.append({"step": step, **values})
            rows.extend([step, "eval", k, f"{v:.6g}"] for k, v in values.items())
    with (folder / "metrics.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "split", "name", "value"])
        w.writerows(rows)
    record = {"schema": "hacd_graph.stage_metrics/v1", "stage": stage, "status": "complete",
              "step": steps, "max_steps": steps, "epoch": 2, "engine": "torch",
              "zero_stage": 0, "world_size": 1, "fingerprint": "0123abcd", "resumed_from": None,
              "train": {"loss": 0.25, "lr": 1e-4, "examples": 64, "wall_s": 3.5},
              "eval": history[-1] if history else {}, "eval_history": history,
              "checkpoint": None, "weights": "model.pt"}
    (folder / "metrics.json").write_text(json.dumps(record, indent=2))


CONFIG_YAML = """\
run:
  name: distill_gnn
ach:
  sources: [core, audioset]
  variant: full
gnn:
  encoder: gatv2
teacher:
  backbone: cnn
  head: graph
  loss: marginal_bce
bridge:
  bridge_type: hierarchical
  teacher_probs: true
llm:
  name: default
"""


def write_fake_run(root: Path, *, examples: int = 3, attention: bool = True,
                   counterfactual: bool = True, stages: tuple[str, ...] = STAGES,
                   seed: int = 0) -> Path:
    """Write a run directory under ``root/run`` and return its path.

    Args:
        root: an empty folder (a test's ``tmp_path``).
        examples: example clips in ``eval/examples.jsonl`` and ``eval/attention.npz``.
        attention: write ``eval/attention.npz`` (a bridge without attention has none).
        counterfactual: write ``eval/counterfactual.json``.
        stages: training stages with ``metrics.json`` and ``metrics.csv``.
        seed: the random numbers' seed.
    """
    rng = np.random.default_rng(seed)
    run = Path(root) / "run"
    (run / "eval").mkdir(parents=True)
    (run / "config.yaml").write_text(CONFIG_YAML)
    metrics = fake_metrics(rng)
    reference = {k: min(1.0, v + 0.05) for k, v in metrics.items()
                 if k.startswith("description/level")}
    (run / "eval" / "metrics.json").write_text(json.dumps({
        "schema": "hacd_graph.eval_metrics/v1", "git_revision": "abc1234", "num_clips": 240,
        "seeds": 3, "metrics": metrics, "reference": reference,
        "not_available": {"caption/SPICE": "needs Stanford CoreNLP (offline here)",
                          "caption/SPIDEr": "needs SPICE"}}, indent=2))
    with (run / "eval" / "examples.jsonl").open("w") as f:
        for i in range(examples):
            f.write(json.dumps(_example(i, rng)) + "\n")
    (run / "eval" / "errors.json").write_text(json.dumps(
        {"head": _errors(rng), "description": _errors(rng)}, indent=2))
    if attention:
        k, m, t, q, tf, n = examples, 16, 100, 4, 31, 12
        att_audio = rng.random((k, q, tf))
        att_concepts = rng.random((k, q, n))
        np.savez(run / "eval" / "attention.npz",
                 clip_ids=np.array([f"clip-{i:03d}" for i in range(k)]),
                 logmel=rng.normal(size=(k, m, t)).astype(np.float32),
                 audio_attention=att_audio / att_audio.sum(-1, keepdims=True),
                 concept_attention=att_concepts / att_concepts.sum(-1, keepdims=True),
                 concept_level=np.array([1, 1, 2, 2, 2, 3, 3, 3, 3, 2, 1, 3]),
                 concept_names=np.array([f"concept {j}" for j in range(n)]),
                 duration_s=np.full(k, 10.0))
    if counterfactual:
        (run / "eval" / "counterfactual.json").write_text(json.dumps({
            "removed": "Music", "removed_concepts": 17,
            "examples": [{"id": "clip-000", "before": "Music: a guitar plays.",
                          "after": "Other: a hum.", "concepts_before": ["Music", "Guitar"],
                          "concepts_after": ["Hum"]}],
            "summary": {"mentions_before": 42, "mentions_after": 3, "clips": 50}}))
    for i, stage in enumerate(stages):
        _stage(run, stage, 12 + 4 * i, rng)
    (run / "summary.json").write_text(json.dumps({
        "schema": "hacd_graph.run_summary/v1", "git_revision": "abc1234",
        "stages": {s: {"status": "ran", "seconds": 10.5 + i} for i, s in enumerate(stages)}}))
    return run
