"""The evaluation stage: every figure of ``<run>/eval/metrics.json`` on the fixed held-out split.

For the trained student of a run (:class:`~hacd_graph.eval.trained_run.TrainedRun`) and the
held-out clips (their cached teacher outputs, ``<run>/distill/teacher_outputs_eval.pt``):

1. **classification** from the concept head: per-level mAP and F1, hP/hR/hF1, violation
   rate (``hierarchical_metrics``);
2. **description**: the generated hierarchical description, parsed back into concepts,
   against the clip's labels that a description can express; the reference descriptions,
   parsed the same way, give the parser's ceiling (``reference``);
3. **caption**: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D of one generated caption per clip
   against the clip's reference captions;
4. **aqa**: every question of every clip, by level of abstraction and type;
5. **retrieval** audio->text and text->audio in the fine-tuned InfoNCE space.

Besides ``metrics.json`` it writes what the report draws: ``examples.jsonl`` (generations
beside the truth), ``attention.npz`` (bridge attention under the log-mel), ``errors.json``
(confusions by distance in the hierarchy) and ``counterfactual.json`` (the description
with one subtree removed from the bridge's concept memory).

``metrics.json`` (schema ``hacd_graph.eval_metrics/v1``)::

    {"schema": ..., "git_revision": ..., "stage": "finetune", "num_clips": 200, "seeds": 1,
     "metrics": {"classification/level3/F1": ..., "description/level3/F1": ..., ...},
     "reference": {"description/...": ...}, "not_available": {"caption/SPICE": "why"},
     "generation": {...the settings used...}, "seconds": {...per part...}}
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from hacd_graph.atomic_io import write_json_atomic
from hacd_graph.eval.trained_run import TrainedRun

SCHEMA = "hacd_graph.eval_metrics/v1"


@dataclass
class GenerationSettings:
    """How text is generated in evaluation (and by ``hacd-graph describe``).

    Args:
        description_tokens, caption_tokens, answer_tokens: most new tokens per task.
        num_beams: beam width (1: greedy).
        do_sample: sample instead of the most likely token.
        repetition_penalty: transformers' repetition penalty (1.0: none).
        no_repeat_ngram_size: forbid repeating n-grams of this size (0: off).
    """

    description_tokens: int = 112
    caption_tokens: int = 32
    answer_tokens: int = 8
    num_beams: int = 1
    do_sample: bool = False
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``generate`` besides the token budget."""
        out: dict[str, Any] = {"num_beams": self.num_beams, "do_sample": self.do_sample,
                               "repetition_penalty": self.repetition_penalty}
        if self.no_repeat_ngram_size:
            out["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        return out


@dataclass
class EvalConfig:
    """Settings of the evaluation stage (the ``eval`` config group).

    Args:
        batch_size: clips (or questions) per forward pass.
        generation: decoding settings.
        examples: clips shown with their generations in the report.
        attention_clips: clips whose bridge attention is kept for the report.
        counterfactual_subtree: the concept (id or name) whose subtree is removed from the
            bridge's concept memory in the counterfactual.
        counterfactual_clips: clips (holding that concept) of the counterfactual.
        corenlp: a folder of Stanford CoreNLP jars, for SPICE/SPIDEr (``None``: reported
            as not available).
    """

    batch_size: int = 32
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    examples: int = 8
    attention_clips: int = 4
    counterfactual_subtree: str = "Music"
    counterfactual_clips: int = 8
    corenlp: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.generation, dict):
            self.generation = GenerationSettings(**self.generation)
        if self.batch_size < 1:
            raise ValueError("eval.batch_size must be >= 1")


@dataclass
class HeldOut:
    """The held-out clips: the teacher's cached outputs and the clips' truths."""

    frames: torch.Tensor
    teacher_probs: torch.Tensor
    targets: torch.Tensor
    meta: list[dict[str, Any]]
    audio: list[Path]

    def __len__(self) -> int:
        return len(self.targets)


def load_held_out(run: TrainedRun, folder: Path) -> HeldOut:
    """The eval split of ``folder`` with the run's cached teacher outputs for it."""
    from hacd_graph.distill.teacher_cache import TeacherOutputs
    from hacd_graph.teacher.data import open_clips

    clips = open_clips(folder, run.ach, run.teacher.config.logmel.sample_rate)
    saved = torch.load(run.run_dir / "distill" / "teacher_outputs_eval.pt", map_location="cpu")
    outputs = TeacherOutputs(saved["frames"], saved["logits"], saved["probs"])
    if len(outputs) != len(clips):
        raise ValueError(f"{len(outputs)} cached teacher outputs for {len(clips)} eval clips")
    meta = [clips.dataset.metadata(i) for i in range(len(clips))]
    audio = [Path(folder) / e["audio"] for e in clips.dataset.entries]
    return HeldOut(outputs.frames, outputs.probs, clips.targets, meta, audio)


def _chunks(n: int, size: int, desc: str) -> Iterator[slice]:
    for start in tqdm(range(0, n, size), desc=desc, leave=False):
        yield slice(start, min(start + size, n))


def evaluate_run(run: TrainedRun, data: HeldOut, config: EvalConfig, out_dir: Path
                 ) -> dict[str, Any]:
    """Score ``run`` on ``data`` and write ``out_dir/{metrics.json, examples.jsonl, ...}``.

    Returns:
        the content of ``metrics.json``.
    """
    from hacd_graph.eval.aqa_metrics import add_concept_levels, aqa_scores
    from hacd_graph.eval.caption_metrics import CaptionMetricsUnavailable, caption_scores
    from hacd_graph.eval.description_parser import (
        DescriptionParser,
        description_scores,
        expected_truth,
    )
    from hacd_graph.eval.error_analysis import confusion_analysis
    from hacd_graph.eval.metrics import hierarchical_metrics
    from hacd_graph.provenance import git_revision

    out_dir.mkdir(parents=True, exist_ok=True)
    gen, size, n = config.generation, config.batch_size, len(data)
    seconds: dict[str, float] = {}
    metrics: dict[str, float] = {}
    not_available: dict[str, str] = {}

    t = time.perf_counter()
    probs = torch.cat([run.concept_probs(data.frames[s], data.teacher_probs[s])
                       for s in _chunks(n, size, "concept head")])
    head = hierarchical_metrics(probs, data.targets, run.ach)
    metrics.update({f"classification/{k}": v for k, v in head.items()
                    if isinstance(v, int | float)})
    seconds["classification"] = time.perf_counter() - t

    t = time.perf_counter()
    descriptions = _generate(run, [run.prompts["description"]] * n, data, size,
                             gen.description_tokens, gen, "descriptions")
    parser = DescriptionParser(run.ach)
    metrics.update(description_scores(descriptions, data.targets, run.ach, parser))
    references = [m["description"] for m in data.meta]
    reference = description_scores(references, data.targets, run.ach, parser)
    seconds["description"] = time.perf_counter() - t

    t = time.perf_counter()
    captions = _generate(run, [run.prompts["caption"]] * n, data, size, gen.caption_tokens,
                         gen, "captions")
    caption_refs = [m["captions"] or [m["caption"]] for m in data.meta]
    try:
        scores = caption_scores(caption_refs, captions, corenlp=config.corenlp)
        metrics.update({f"caption/{k}": v for k, v in scores.scores.items()})
        not_available.update({f"caption/{k}": v for k, v in scores.not_available.items()})
    except CaptionMetricsUnavailable as error:
        not_available["caption"] = str(error)
    seconds["caption"] = time.perf_counter() - t

    t = time.perf_counter()
    items = add_concept_levels([q for m in data.meta for q in m["qa"]], run.ach)
    owners = [i for i, m in enumerate(data.meta) for _ in m["qa"]]
    prompts = [run.prompts["aqa"].format(question=q["question"]) for q in items]
    answers = _generate(run, prompts, data, size, gen.answer_tokens, gen, "answers",
                        owners=owners)
    metrics.update(aqa_scores(items, answers))
    seconds["aqa"] = time.perf_counter() - t

    t = time.perf_counter()
    if run.has_retrieval:
        metrics.update(_retrieval(run, data, caption_refs, size))
    else:
        not_available["retrieval"] = f"the {run.stage} student has no retrieval heads"
    seconds["retrieval"] = time.perf_counter() - t

    # what the report draws
    predicted_head = (probs >= 0.5).numpy()
    parsed = [parser.parse(d) for d in descriptions]
    parsed_sets = np.zeros((n, len(run.ach)), dtype=bool)
    for i, p in enumerate(parsed):
        parsed_sets[i, list(p.concepts)] = True
    truth = data.targets.numpy().astype(bool)
    errors = {"head": confusion_analysis(predicted_head, truth, run.ach),
              "description": confusion_analysis(parsed_sets, expected_truth(truth, parser),
                                                run.ach)}
    write_json_atomic(out_dir / "errors.json", errors)
    _write_examples(out_dir / "examples.jsonl", run, data, config.examples, descriptions,
                    captions, parsed, probs, items, owners, answers)
    t = time.perf_counter()
    attention_note = _write_attention(out_dir / "attention.npz", run, data,
                                      config.attention_clips)
    if attention_note:
        not_available["attention"] = attention_note
    counterfactual = _counterfactual(run, data, config, parser)
    write_json_atomic(out_dir / "counterfactual.json", counterfactual)
    seconds["qualitative"] = time.perf_counter() - t

    result = {"schema": SCHEMA, "git_revision": git_revision(), "stage": run.stage,
              "num_clips": n, "seeds": 1, "metrics": metrics, "reference": reference,
              "not_available": not_available, "generation": asdict(gen),
              "seconds": seconds}
    write_json_atomic(out_dir / "metrics.json", result)
    return result


def _generate(run: TrainedRun, prompts: list[str], data: HeldOut, size: int, tokens: int,
              gen: GenerationSettings, desc: str, owners: list[int] | None = None,
              teacher_probs: torch.Tensor | None = None) -> list[str]:
    """One generation per prompt; prompt ``j`` hears clip ``owners[j]`` (default ``j``)."""
    owners_t = torch.tensor(owners if owners is not None else range(len(prompts)))
    probs = data.teacher_probs if teacher_probs is None else teacher_probs
    texts: list[str] = []
    for s in _chunks(len(prompts), size, desc):
        idx = owners_t[s]
        texts += run.generate(prompts[s], data.frames[idx], probs[idx], tokens, **gen.kwargs())
    return texts


@torch.no_grad()
def _retrieval(run: TrainedRun, data: HeldOut, captions: list[list[str]], size: int
               ) -> dict[str, float]:
    from hacd_graph.eval.retrieval_metrics import retrieval_scores

    audio = torch.cat([run.model.embed_audio(data.frames[s].float(),
                                             data.teacher_probs[s].float())
                       for s in _chunks(len(data), size, "audio embeddings")])
    texts = [c for cs in captions for c in cs]
    owner = [i for i, cs in enumerate(captions) for _ in cs]
    text = []
    for s in _chunks(len(texts), size, "caption embeddings"):
        tok = run.tokenizer(texts[s], padding=True, return_tensors="pt")
        text.append(run.model.embed_text(tok["input_ids"], tok["attention_mask"]))
    return retrieval_scores((audio @ torch.cat(text).T).numpy(), owner)


def _write_examples(path: Path, run: TrainedRun, data: HeldOut, count: int,
                    descriptions: list[str], captions: list[str], parsed: list[Any],
                    probs: torch.Tensor, items: list[dict], owners: list[int],
                    answers: list[str]) -> None:
    from hacd_graph.atomic_io import write_text_atomic
    from hacd_graph.eval.aqa_metrics import is_correct

    lines = []
    for i in range(min(count, len(data))):
        m = data.meta[i]
        qa = []
        for j in [j for j, o in enumerate(owners) if o == i][:4]:
            correct = is_correct(items[j], answers[j])
            qa.append({"question": items[j]["question"], "answer": items[j]["answer"],
                       "prediction": answers[j], "level": items[j]["level"],
                       "type": items[j]["type"], "correct": bool(correct)})
        top = torch.argsort(probs[i] * (run.ach.level > 0), descending=True)[:8].tolist()
        lines.append(json.dumps({
            "id": m["id"], "audio": str(data.audio[i]),
            "reference_description": m["description"],
            "generated_description": descriptions[i], "parse_failed": parsed[i].failed,
            "reference_caption": m["caption"], "generated_caption": captions[i], "qa": qa,
            "top_concepts": [{"name": run.ach.names[c], "level": int(run.ach.level[c]),
                              "prob": float(probs[i, c])} for c in top]}))
    write_text_atomic(path, "\n".join(lines) + "\n")


@torch.no_grad()
def _write_attention(path: Path, run: TrainedRun, data: HeldOut, count: int) -> str | None:
    """Save the bridge's last-layer attention of ``count`` clips; a reason when it has none."""
    import io

    import soundfile

    from hacd_graph.atomic_io import write_bytes_atomic
    from hacd_graph.teacher.frontend import make_frontend

    count = min(count, len(data))
    if count == 0:
        return "no clips"
    batch = run.processor([run.prompts["description"]] * count)
    out = run.model.audio_lm(input_ids=batch["input_ids"],
                             attention_mask=batch["attention_mask"],
                             audio_features=data.frames[:count].float(),
                             concept_embeddings=run.model.concept_embeddings,
                             concept_probs=data.teacher_probs[:count].float(),
                             output_bridge_attentions=True)
    bridge = out.bridge_output
    if bridge is None or not bridge.concept_attentions:
        return f"the {run.config['bridge'].get('bridge_type', '?')} bridge has no attention"
    frontend = make_frontend(run.teacher.config.logmel)
    logmels, durations = [], []
    for file in data.audio[:count]:  # the clip as the teacher heard it: [M, T]
        wave, sr = soundfile.read(file, dtype="float32", always_2d=True)
        durations.append(len(wave) / sr)
        logmels.append(frontend(torch.from_numpy(wave.mean(axis=1))).T.numpy())
    width = max(x.shape[1] for x in logmels)
    logmel = np.stack([np.pad(x, ((0, 0), (0, width - x.shape[1])), constant_values=x.min())
                       for x in logmels])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, clip_ids=np.array([m["id"] for m in data.meta[:count]]),
                    logmel=logmel.astype(np.float32),
                    audio_attention=bridge.audio_attentions[-1].mean(1).float().numpy(),
                    concept_attention=bridge.concept_attentions[-1].mean(1).float().numpy(),
                    concept_level=run.ach.level.numpy(),
                    concept_names=np.array(run.ach.names),
                    duration_s=np.array(durations, dtype=np.float32))
    write_bytes_atomic(path, buffer.getvalue())
    return None


def _counterfactual(run: TrainedRun, data: HeldOut, config: EvalConfig, parser: Any
                    ) -> dict[str, Any]:
    """Descriptions with and without one subtree in the bridge's concept memory."""
    ach = run.ach
    try:
        root = ach.index(config.counterfactual_subtree)
    except (KeyError, ValueError):
        return {"removed": config.counterfactual_subtree,
                "not_available": f"no concept {config.counterfactual_subtree!r} in the hierarchy"}
    if run.config["bridge"].get("bridge_type") == "mlp":
        return {"removed": ach.names[root],
                "not_available": "the mlp bridge reads no concept memory"}
    subtree = [c for c in range(len(ach)) if c == root or root in ach.ancestors(c)]
    clips = [i for i in range(len(data)) if data.targets[i, root] > 0]
    clips = clips[:config.counterfactual_clips]
    if not clips:
        return {"removed": ach.names[root], "removed_concepts": len(subtree),
                "not_available": f"no held-out clip holds {ach.names[root]}"}
    idx = torch.tensor(clips)
    sub = HeldOut(data.frames[idx], data.teacher_probs[idx], data.targets[idx],
                  [data.meta[i] for i in clips], [data.audio[i] for i in clips])
    removed = sub.teacher_probs.clone()
    removed[:, subtree] = 0.0
    gen = config.generation
    prompts = [run.prompts["description"]] * len(clips)
    before = _generate(run, prompts, sub, config.batch_size, gen.description_tokens, gen,
                       "counterfactual")
    after = _generate(run, prompts, sub, config.batch_size, gen.description_tokens, gen,
                      "counterfactual", teacher_probs=removed)
    in_subtree = set(subtree)

    def names(text: str) -> list[str]:
        concepts = parser.parse(text).concepts
        return sorted(ach.names[c] for c in concepts if ach.level[c] > 0)

    def mentions(text: str) -> int:
        return len(in_subtree & set(parser.parse(text).concepts))

    return {"removed": ach.names[root], "removed_concepts": len(subtree),
            "examples": [{"id": sub.meta[j]["id"], "before": before[j], "after": after[j],
                          "concepts_before": names(before[j]),
                          "concepts_after": names(after[j])} for j in range(len(clips))],
            "summary": {"clips": len(clips),
                        "mentions_before": sum(mentions(t) for t in before),
                        "mentions_after": sum(mentions(t) for t in after)}}
