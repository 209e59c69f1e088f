"""Checking the whole composed config before any stage runs.

``train.py`` calls :func:`validate_config` right after composing, before anything is
written, so that ``trainer.max_steps=abc`` or ``trainer.batch_size=0`` fail at once with
one line (:class:`~hacd_graph.errors.ConfigError`) instead of a traceback from inside the
third stage.

What is checked, section by section (the :data:`SECTIONS` table; a new group is one row):

- **known keys**: every key is a field of the section's settings dataclass (the class the
  stage itself builds, e.g. ``TrainerConfig`` for ``trainer`` and ``distill.trainer``);
  top-level keys are the config groups, ``run`` and the sections in the table;
- **types**: each value against the field's annotation (``"abc"`` is not an ``int``; an
  integer is accepted for a ``float``);
- **ranges and choices**: the row's rules (``batch_size >= 1``, ``0 <= min_lr_ratio <= 1``);
- **the dataclass itself**: built from the values, so its own ``__post_init__`` checks run
  (``teacher.head=flat`` with ``teacher.loss=marginal_bce``, ``bridge.hidden_size``
  divisible by ``num_heads``);
- **files that must exist**: ``ach.audioset_ontology``, ``ach.hierarchy_file``,
  ``data.root`` (with its ``train``/``eval`` manifests), ``llm.meta_dir``,
  ``gnn.cooccurrence_csvs``, each only when a stage that reads it is in ``run.stages``;
- **the run directory**: not a file, not below a file, and creatable.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hacd_graph.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """A range or choice rule: ``test(value)`` holds, or the message says ``expect``."""

    expect: str
    test: Callable[[Any], bool]


def at_least(low: float) -> Rule:
    """The value must be ``>= low``."""
    return Rule(f">= {low}", lambda v: v >= low)


def above(low: float) -> Rule:
    """The value must be ``> low``."""
    return Rule(f"> {low}", lambda v: v > low)


def between(low: float, high: float) -> Rule:
    """The value must lie in ``[low, high]``."""
    return Rule(f"in [{low}, {high}]", lambda v: low <= v <= high)


def one_of(*choices: Any) -> Rule:
    """The value must be one of ``choices``."""
    return Rule("from {" + ", ".join(map(str, choices)) + "}", lambda v: v in choices)


def each(rule: Rule) -> Rule:
    """Every item of a list must pass ``rule``."""
    return Rule(f"each {rule.expect}", lambda v: all(rule.test(x) for x in v))


# ---- settings that no library dataclass owns (they are read straight off the config) ----

@dataclass
class RunSettings:
    """The ``run`` block: the run's name, its directory and the stages to run."""

    name: str = "run"
    dir: str = "outputs/run"
    stages: list[str] = field(default_factory=list)


@dataclass
class ACHSettings:
    """The ``ach`` group: ``build_ach`` sources and options."""

    sources: list[str] = field(default_factory=lambda: ["core"])
    audioset_ontology: str | None = None
    variant: str = "full"
    max_depth: int | None = None
    seed: int | None = None
    hierarchy_file: str | None = None
    core_dir: str | None = None
    download: bool = False
    cache_dir: str | None = None


@dataclass
class DeepSpeedSettings:
    """The ``deepspeed`` group: whether the engine is used and its JSON config."""

    enabled: bool = False
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class LLMSettings:
    """The ``llm`` group (``hacd_graph.llm.loading.load_llm`` reads it as a mapping)."""

    name: str = "default"
    meta_dir: str | None = None
    caption_limit: int | None = None
    generated_clips: int = 500
    concepts: bool = True
    cache_dir: str | None = None
    dtype: str = "float32"
    trust_remote_code: bool = False
    audio_token: str = "<audio>"
    default: dict[str, Any] = field(default_factory=dict)
    concept_head: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] | None = None


@dataclass
class ConceptHeadSettings:
    """``llm.concept_head``: where the concept head reads the LLM and whether it adds a
    free bias per concept."""

    summary: str = "last_audio"
    free_bias: bool = False


@dataclass
class PartLRSettings:
    """``distill.lr``: the learning rate of each trained part (``None``: ``trainer.lr``)."""

    bridge: float | None = None
    lora: float | None = None
    head: float | None = None


@dataclass
class FinetuneLRSettings(PartLRSettings):
    """``finetune.lr``: as ``distill.lr``, plus the retrieval heads."""

    retrieval: float | None = None


@dataclass
class TaskWeights:
    """``finetune.tasks``: the sampling weight of each fine-tuning task."""

    caption: float = 1.0
    aqa: float = 1.0
    description: float = 1.0


@dataclass
class TaskPrompts:
    """``finetune.prompts``: the instruction of each task."""

    caption: str = ""
    aqa: str = ""
    description: str = ""


# ---- the table ---------------------------------------------------------------------------

TRAINER_RULES: dict[str, Rule] = {
    "max_steps": at_least(1), "batch_size": at_least(1), "grad_accum_steps": at_least(1),
    "lr": above(0), "weight_decay": at_least(0), "betas": each(between(0, 1)),
    "warmup_steps": at_least(0), "min_lr_ratio": between(0, 1), "grad_clip": at_least(0),
    "log_every": at_least(1), "eval_every": at_least(0), "ckpt_every": at_least(0),
    "keep_last": at_least(1),
}

BRIDGE_DIMS = {"audio_dim": 1, "concept_dim": 1, "llm_hidden_size": 1}  # set by the stages


@dataclass(frozen=True)
class Section:
    """One block of the config and how to check it.

    Args:
        key: dotted path of the block (``"trainer"``, ``"distill.trainer"``).
        schema: ``"module:Class"`` of the settings dataclass whose fields the block holds.
        rules: range and choice rules by field.
        files: fields naming files or folders that must exist (``"file"``, ``"dir"``,
            ``"files"`` for a list of files, ``"data_root"``).
        needed_by: stages that read the block; its files are checked only when one of them
            runs (empty: always).
        fill: values the stages add before building the class (not in the config).
    """

    key: str
    schema: str
    rules: Mapping[str, Rule] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    needed_by: tuple[str, ...] = ()
    fill: Mapping[str, Any] = field(default_factory=dict)


V = "hacd_graph.pipeline.validate"
SECTIONS: tuple[Section, ...] = (
    Section("run", f"{V}:RunSettings"),
    Section("ach", f"{V}:ACHSettings",
            {"sources": each(one_of("core", "audioset", "file")),
             "variant": one_of("full", "flattened", "truncated", "shuffled"),
             "max_depth": at_least(1)},
            {"audioset_ontology": "file", "hierarchy_file": "file", "core_dir": "dir"}),
    Section("data", "hacd_graph.pipeline.stages:DataConfig",
            {"train_clips": at_least(1), "eval_clips": at_least(1), "duration_s": above(0),
             "synth_workers": at_least(1), "features": one_of("cached", "on_the_fly"),
             "num_workers": at_least(0), "source": one_of("folders", "shards", "stream"),
             "stream_clips": at_least(1), "shuffle_buffer": at_least(0)},
            {"root": "data_root", "bank": "dir"}, needed_by=("data",)),
    Section("trainer", "hacd_graph.training:TrainerConfig", TRAINER_RULES),
    Section("gnn", "hacd_graph.gnn:GNNConfig",
            {"hidden_dim": at_least(1), "out_dim": at_least(1), "num_layers": at_least(1),
             "norm": one_of("layer", "batch", "none"), "dropout": between(0, 1),
             "heads": at_least(1), "cooccurrence_min_count": at_least(1)},
            {"cooccurrence_csvs": "files"}, needed_by=("teacher",)),
    Section("gnn.features", "hacd_graph.gnn.node_features:NodeFeatureConfig",
            {"max_levels": at_least(1), "batch_size": at_least(1)}),
    Section("teacher", "hacd_graph.teacher:TeacherConfig"),
    Section("teacher.frontend", "hacd_graph.data.features:LogMelConfig",
            {"sample_rate": at_least(1), "n_fft": at_least(1), "win_length": at_least(1),
             "hop_length": at_least(1), "n_mels": at_least(1), "f_min": at_least(0),
             "log_offset": above(0)}),
    Section("teacher.specaugment_config", "hacd_graph.data.features:SpecAugmentConfig",
            {"freq_masks": at_least(0), "freq_width": at_least(0), "time_masks": at_least(0),
             "time_width": at_least(0)}),
    Section("teacher.cnn", "hacd_graph.teacher.backbones.cnn:CNNConfig",
            {"channels": each(at_least(1)), "embed_dim": at_least(1),
             "dropout": between(0, 1)}),
    Section("teacher.ast", "hacd_graph.teacher.backbones.ast:ASTBackboneConfig",
            {"hidden_size": at_least(1), "num_hidden_layers": at_least(1),
             "num_attention_heads": at_least(1), "max_length": at_least(1)}),
    Section("deepspeed", f"{V}:DeepSpeedSettings"),
    Section("bridge", "hacd_graph.bridge.config:BridgeConfig",
            {"dropout": between(0, 1), "mlp_ratio": above(0), "prob_eps": above(0)},
            fill=BRIDGE_DIMS),
    Section("llm", f"{V}:LLMSettings",
            {"generated_clips": at_least(0), "caption_limit": at_least(1),
             "dtype": one_of("float32", "float16", "bfloat16")},
            {"meta_dir": "dir"}, needed_by=("distill", "finetune")),
    Section("llm.default", "hacd_graph.llm.default_llm:DefaultLLMConfig",
            {"vocab_size": at_least(1), "hidden_size": at_least(1), "num_layers": at_least(1),
             "num_heads": at_least(1), "seq_len": at_least(1), "batch_size": at_least(1),
             "steps": at_least(1), "lr": above(0)}),
    Section("llm.concept_head", f"{V}:ConceptHeadSettings",
            {"summary": one_of("last_audio", "last_token")}),
    Section("llm.lora", "hacd_graph.llm.lora:LoraSettings",
            {"r": at_least(1), "alpha": above(0), "dropout": between(0, 1)}),
    Section("distill", "hacd_graph.distill.stage:DistillConfig",
            {"lm_weight": at_least(0), "temperature": above(0), "max_target_tokens": at_least(1),
             "eval_batch_size": at_least(1), "top_k": at_least(1),
             "hdl": one_of(True, False, "auto"),
             "backend": one_of("auto", "torch", "sparse", "cpu", "triton", "cuda")}),
    Section("distill.lr", f"{V}:PartLRSettings",
            {"bridge": above(0), "lora": above(0), "head": above(0)}),
    Section("distill.trainer", "hacd_graph.training:TrainerConfig", TRAINER_RULES),
    Section("finetune", "hacd_graph.distill.finetune:FinetuneConfig",
            {"hdl_weight": at_least(0), "contrastive_weight": at_least(0),
             "contrastive_dim": at_least(1), "contrastive_temperature": above(0),
             "temperature": above(0), "max_target_tokens": at_least(1),
             "eval_batch_size": at_least(1), "top_k": at_least(1),
             "backend": one_of("auto", "torch", "sparse", "cpu", "triton", "cuda")}),
    Section("finetune.tasks", f"{V}:TaskWeights",
            {"caption": at_least(0), "aqa": at_least(0), "description": at_least(0)}),
    Section("finetune.prompts", f"{V}:TaskPrompts"),
    Section("finetune.lr", f"{V}:FinetuneLRSettings",
            {"bridge": above(0), "lora": above(0), "head": above(0), "retrieval": above(0)}),
    Section("finetune.trainer", "hacd_graph.training:TrainerConfig", TRAINER_RULES),
    Section("eval", "hacd_graph.eval.stage:EvalConfig",
            {"batch_size": at_least(1), "examples": at_least(0),
             "attention_clips": at_least(0), "counterfactual_clips": at_least(0)},
            {"corenlp": "dir"}, needed_by=("eval",)),
    Section("eval.generation", "hacd_graph.eval.stage:GenerationSettings",
            {"description_tokens": at_least(1), "caption_tokens": at_least(1),
             "answer_tokens": at_least(1), "num_beams": at_least(1),
             "repetition_penalty": above(0), "no_repeat_ngram_size": at_least(0)}),
)


def validate_config(cfg: DictConfig, stages: tuple[str, ...] | None = None) -> None:
    """Check every setting of a composed config; raise at the first problem.

    Args:
        cfg: the composed config (``compose_config``).
        stages: the stages this build has (default ``hacd_graph.pipeline.stages.STAGES``).

    Raises:
        ConfigError: one line naming the key, the bad value and what was expected.
    """
    try:
        values = OmegaConf.to_container(cfg, resolve=True)
    except Exception as error:  # an interpolation that does not resolve
        raise ConfigError(f"the config does not resolve: {error}".splitlines()[0]) from error
    assert isinstance(values, dict)
    if stages is None:
        from hacd_graph.pipeline.stages import STAGES as stages  # noqa: N811
    from hacd_graph.pipeline.compose import config_groups

    known_top = {s.key.split(".")[0] for s in SECTIONS} | set(config_groups())
    for key in values:
        if key not in known_top:
            raise ConfigError(f"unknown top-level key '{key}'; known: "
                              f"{', '.join(sorted(known_top))}")
    run = values.get("run") or {}
    selected = run.get("stages") if isinstance(run, dict) else None
    for section in SECTIONS:
        block = _lookup(values, section.key)
        if block is _ABSENT:
            continue
        if block is None:
            block = {}
        if not isinstance(block, dict):
            raise ConfigError(f"{section.key}={block!r}: expected a mapping of settings")
        _check_section(section, block, selected)
    stage_names = run.get("stages", [])
    unknown = [s for s in stage_names if s not in stages]
    if unknown:
        raise ConfigError(f"run.stages={stage_names}: unknown stage(s) {unknown}; "
                          f"expected some of {', '.join(stages)}")
    check_run_dir(Path(run.get("dir", ".")))


def check_run_dir(path: Path) -> None:
    """Refuse a run directory that is a file, lies below a file, or cannot be created.

    An existing directory is accepted as it is (a finished, read-only one can still be
    reported); the stages say what they cannot write.
    """
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"run.dir={path}: is a file, expected a folder")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"run.dir={path}: lies below {parent}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"run.dir={path}: cannot be created, {parent} is read-only")


# ---- checking one section ----------------------------------------------------------------

_ABSENT = object()


def _lookup(values: dict[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _schema(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _check_section(section: Section, block: dict[str, Any], stages: Any) -> None:
    cls = _schema(section.schema)
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(block) - fields)
    if unknown:
        key = f"{section.key}.{unknown[0]}"
        raise ConfigError(f"unknown key '{key}'; {cls.__name__} ({section.key}) knows "
                          f"{', '.join(sorted(fields))}")
    checked: dict[str, Any] = {}
    for name, value in block.items():
        where = f"{section.key}.{name}"
        ok, coerced = _coerce(value, hints[name])
        rule = section.rules.get(name)
        if not ok or (rule is not None and coerced is not None and not rule.test(coerced)):
            expected = describe(hints[name]) + (f" {rule.expect}" if rule else "")
            raise ConfigError(f"{where}={value!r}: expected {expected}")
        checked[name] = coerced
    needed = not section.needed_by or any(s in (stages or ()) for s in section.needed_by)
    for name, kind in section.files.items():
        if needed and checked.get(name) not in (None, [], ""):
            _check_path(f"{section.key}.{name}", checked[name], kind)
    try:
        cls(**{**section.fill, **checked})
    except (ValueError, TypeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        prefix = "" if message.startswith((section.key, cls.__name__)) else f"{section.key}: "
        raise ConfigError(prefix + message) from error


def _check_path(where: str, value: Any, kind: str) -> None:
    paths = value if kind == "files" else [value]
    for p in map(Path, paths):
        if kind in ("file", "files") and not p.is_file():
            raise ConfigError(f"{where}={str(p)!r}: no such file"
                              + (" (it is a folder)" if p.is_dir() else ""))
        if kind in ("dir", "data_root") and not p.is_dir():
            raise ConfigError(f"{where}={str(p)!r}: no such folder")
        if kind == "data_root":
            for split in ("train", "eval"):
                if not (p / split / "manifest.jsonl").is_file():
                    raise ConfigError(f"{where}={str(p)!r}: expected {split}/manifest.jsonl "
                                      f"in it (data.root holds train/ and eval/ manifests)")


# ---- types -------------------------------------------------------------------------------

def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(whether ``value`` fits the annotation ``tp``, the value converted to it)."""
    if tp is Any:
        return True, value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(tp):
            ok, out = _coerce(value, arm)
            if ok:
                return True, out
        return False, value
    if tp is type(None):
        return value is None, value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    if dataclasses.is_dataclass(tp):
        return isinstance(value, dict), value  # its fields are a section of their own
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list | tuple):
            return False, value
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                return False, value
            pairs = list(zip(value, args, strict=True))
        else:
            pairs = [(v, args[0] if args else Any) for v in value]
        out = []
        for item, arm in pairs:
            ok, item = _coerce(item, arm)
            if not ok:
                return False, value
            out.append(item)
        return True, tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        return isinstance(value, dict), value
    return True, value  # an annotation this checker does not know: the class decides


def describe(tp: Any) -> str:
    """Words for an annotation: ``int | None`` -> ``"an integer or null"``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             type(None): "null", Any: "any value"}
    if tp in names:
        return names[tp]
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} " + _plural(describe(args[0]))
        return "a list of " + _plural(describe(args[0])) if args else "a list"
    if origin is dict or dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _plural(words: str) -> str:
    return {"an integer": "integers", "a number": "numbers", "a string": "strings",
            "true or false": "booleans"}.get(words, words)
