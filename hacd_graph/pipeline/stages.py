"""The stages of ``train.py``: what each reads from the config, and how each runs.

Every stage has a *settings* function (the part of the composed config its outputs depend
on, as plain JSON; keys that change only how a run is watched or where it caches are left
out) and a *run* function that does the work into the run directory. The runner
(``runner.py``) fingerprints the settings, decides skip/resume/run, and calls these.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from hacd_graph.ach import ConceptHierarchy, build_ach
from hacd_graph.data.synth.scene import SceneConfig
from hacd_graph.gnn import GNNConfig
from hacd_graph.pipeline.fingerprint import file_digest
from hacd_graph.teacher import TeacherConfig
from hacd_graph.teacher.stage import TeacherStage
from hacd_graph.training import (
    DistributedContext,
    TrainerConfig,
    TrainResult,
    config_from_mapping,
    fit,
)

STAGES = ("ach", "data", "teacher", "distill", "finetune", "eval")
STAGE_VERSIONS = {"ach": 1, "data": 1, "teacher": 1, "distill": 1, "finetune": 1, "eval": 1}
STAGE_INPUTS = {"ach": (), "data": (), "teacher": ("ach", "data"),
                "distill": ("ach", "data", "teacher"),
                "finetune": ("ach", "data", "teacher", "distill"),
                "eval": ("ach", "data", "teacher", "distill", "finetune")}
# settings that change how a run is watched, checkpointed or parallelised, not its results
WATCH_ONLY_TRAINER = ("progress", "tensorboard", "log_every", "resume", "ckpt_every",
                      "keep_last")
WATCH_ONLY_DATA = ("synth_workers", "num_workers", "features")
WATCH_ONLY_LLM = ("cache_dir",)


@dataclasses.dataclass
class DataConfig:
    """Where the clips come from (the Hydra ``data`` group).

    Args:
        root: a folder holding ``train/`` and ``eval/`` manifests to use as they are;
            ``None`` generates synthetic clips into ``<run>/data``.
        train_clips, eval_clips: clips to generate per split.
        train_seed, eval_seed: generator seeds (different seeds: a held-out split).
        duration_s: clip length in seconds.
        synth_workers: processes generating clips.
        features: ``"cached"`` or ``"on_the_fly"`` log-mel features for training.
        num_workers: DataLoader workers for ``on_the_fly`` and for ``source=shards|stream``
            (there they also decide how clips are split, so they enter the fingerprint).
        bank: a sound bank folder (``hacd-graph data soundbank``) whose recordings join
            the scenes as foreground events (``SceneConfig.bank``); ``None``: procedural only.
        bank_packages: the bank packages the scenes draw from (the training split).
        bank_held_out: packages kept out of every generated clip (the real-audio test set
            of ``hacd-graph experiment real-audio``); must not overlap ``bank_packages``.
        bank_prob: probability that a clip gets bank events.
        bank_max_events: most bank events per clip.
        source: where the teacher's training clips come from: ``"folders"`` (the train
            manifest), ``"shards"`` (``shards``) or ``"stream"`` (``stream_clips`` generated
            clips per epoch, plus ``shards`` if given, e.g. a bank's); the eval split and the
            later stages always use the folders (``hacd_graph.teacher.data.StreamSource``).
        shards: tar shard folders, globs or files (one string or a list).
        stream_clips: generated clips per epoch for ``source=stream``.
        shuffle_buffer: clips each DataLoader worker holds to shuffle shard clips.
    """

    root: str | None = None
    train_clips: int = 600
    eval_clips: int = 200
    train_seed: int = 1
    eval_seed: int = 2
    duration_s: float = 2.0
    synth_workers: int = 2
    features: str = "cached"
    num_workers: int = 0
    bank: str | None = None
    bank_packages: list[str] = dataclasses.field(default_factory=list)
    bank_held_out: list[str] = dataclasses.field(default_factory=list)
    bank_prob: float = 0.5
    bank_max_events: int = 2
    source: str = "folders"
    shards: str | list[str] | None = None
    stream_clips: int | None = None
    shuffle_buffer: int = 0

    def __post_init__(self) -> None:
        if self.source not in ("folders", "shards", "stream"):
            raise ValueError(f"data.source={self.source!r}: expected folders, shards or stream")
        if self.source == "shards" and not self.shards:
            raise ValueError("data.source=shards needs data.shards (shard folders or globs, "
                             "from 'hacd-graph data shards --out DIR')")
        if self.source == "stream" and not self.stream_clips:
            raise ValueError("data.source=stream needs data.stream_clips (clips per epoch)")
        if self.bank is None and self.bank_packages:
            raise ValueError("data.bank_packages are given but data.bank is null: build a "
                             "bank with 'hacd-graph data soundbank --out BANK', then "
                             "data.bank=BANK")
        if self.bank is not None and self.bank_held_out and not self.bank_packages:
            raise ValueError("data.bank_held_out needs data.bank_packages (the training "
                             "split): without it the scenes draw from every package")
        both = sorted(set(self.bank_packages) & set(self.bank_held_out))
        if both:
            raise ValueError(f"data.bank_packages and data.bank_held_out share {both}: a "
                             "package is either training or held out")

    def scene(self) -> SceneConfig:
        """The generator's settings for these clips."""
        return SceneConfig(duration_s=self.duration_s, bank=self.bank,
                           bank_packages=tuple(self.bank_packages), bank_prob=self.bank_prob,
                           bank_max_events=self.bank_max_events)

    def stream_source(self) -> Any:
        """The teacher's streamed training source, a ``StreamSource`` (``None`` for
        ``source=folders``)."""
        from hacd_graph.teacher.data import StreamSource

        if self.source == "folders":
            return None
        shards = [self.shards] if isinstance(self.shards, str) else list(self.shards or [])
        return StreamSource(self.source, shards, self.stream_clips, self.train_seed,
                            self.scene(), self.shuffle_buffer)


def container(cfg: DictConfig, key: str) -> dict[str, Any]:
    """``cfg[key]`` as a resolved plain dict (``{}`` when absent)."""
    node = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}  # type: ignore[return-value]


def _without(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in keys}


def trainer_settings(cfg: DictConfig, stage: str) -> dict[str, Any]:
    """The stage's trainer block: ``trainer``, overridden by ``<stage>.trainer`` if any."""
    base = container(cfg, "trainer")
    if stage != "teacher":
        base.update(container(cfg, f"{stage}.trainer"))
    return base


# --- settings (what each stage's outputs depend on) ---------------------------------------

# Each is keyed like the config itself, so a change reads as the override that made it.

def ach_settings(cfg: DictConfig) -> dict[str, Any]:
    spec = container(cfg, "ach")
    if spec.get("audioset_ontology"):
        spec["audioset_ontology_sha256"] = file_digest(spec["audioset_ontology"])
    if spec.get("hierarchy_file"):
        spec["hierarchy_file_sha256"] = file_digest(spec["hierarchy_file"])
    return {"ach": spec}


def data_settings(cfg: DictConfig) -> dict[str, Any]:
    spec = _without(container(cfg, "data"), WATCH_ONLY_DATA)
    if spec.get("root"):
        root = Path(spec["root"])
        spec["manifests_sha256"] = {split: file_digest(root / split / "manifest.jsonl")
                                    for split in ("train", "eval")}
    if spec.get("source", "folders") != "folders":
        # a stream's batches depend on how it is split over workers; its shards on their files
        spec["num_workers"] = container(cfg, "data").get("num_workers", 0)
        if spec.get("shards"):  # name and size of each shard: a stand-in for hashing TBs
            from hacd_graph.data.streaming import list_shards

            spec["shards_listing"] = [[str(p), p.stat().st_size]
                                      for p in list_shards(spec["shards"])]
    return {"data": spec}


def teacher_settings(cfg: DictConfig) -> dict[str, Any]:
    return {"teacher": container(cfg, "teacher"), "gnn": container(cfg, "gnn"),
            "trainer": _without(trainer_settings(cfg, "teacher"), WATCH_ONLY_TRAINER),
            "data": {"features": container(cfg, "data").get("features", "cached")}}


def distill_settings(cfg: DictConfig) -> dict[str, Any]:
    distill = container(cfg, "distill")
    distill["trainer"] = _without(trainer_settings(cfg, "distill"), WATCH_ONLY_TRAINER)
    return {"distill": distill, "bridge": container(cfg, "bridge"),
            "llm": _without(container(cfg, "llm"), WATCH_ONLY_LLM)}


def finetune_settings(cfg: DictConfig) -> dict[str, Any]:
    finetune = container(cfg, "finetune")
    finetune["trainer"] = _without(trainer_settings(cfg, "finetune"), WATCH_ONLY_TRAINER)
    return {"finetune": finetune}


def eval_settings(cfg: DictConfig) -> dict[str, Any]:
    return {"eval": container(cfg, "eval")}


SETTINGS = {"ach": ach_settings, "data": data_settings, "teacher": teacher_settings,
            "distill": distill_settings, "finetune": finetune_settings, "eval": eval_settings}


def resume_key(cfg: DictConfig, ctx: DistributedContext, use_deepspeed: bool
               ) -> dict[str, Any]:
    """What a training stage's checkpoints depend on besides its settings."""
    key: dict[str, Any] = {"engine": "deepspeed" if use_deepspeed else "torch",
                           "world_size": ctx.world_size}
    if use_deepspeed:
        key["deepspeed"] = container(cfg, "deepspeed.config")
    return key


# --- running ------------------------------------------------------------------------------

def run_ach(cfg: DictConfig, run_dir: Path, ctx: DistributedContext) -> ConceptHierarchy:
    """Build the hierarchy from the ``ach`` group and save ``ach.json`` (rank 0)."""
    spec = container(cfg, "ach")
    sources = spec.pop("sources", ["core"])
    ontology = spec.pop("audioset_ontology", None)
    ach = build_ach(tuple(sources), audioset_ontology=ontology,
                    **{k: v for k, v in spec.items() if v is not None})
    if ctx.is_main:
        ach.save(run_dir / "ach.json")
    ctx.barrier()
    return ach


def data_folders(cfg: DataConfig, run_dir: Path) -> tuple[Path, Path]:
    """The train and eval folders (``data.root``'s or ``<run>/data``'s)."""
    root = Path(cfg.root) if cfg.root is not None else run_dir / "data"
    return root / "train", root / "eval"


def run_data(cfg: DataConfig, run_dir: Path, ctx: DistributedContext) -> tuple[Path, Path]:
    """Generate the synthetic train and eval clips (rank 0; resumable), unless ``data.root``."""
    folders = data_folders(cfg, run_dir)
    if cfg.root is None and ctx.is_main:
        from hacd_graph.data.export import write_synthetic

        scene = cfg.scene()
        for folder, n, seed in ((folders[0], cfg.train_clips, cfg.train_seed),
                                (folders[1], cfg.eval_clips, cfg.eval_seed)):
            write_synthetic(folder, n, seed=seed, config=scene, workers=cfg.synth_workers,
                            progress=True)
    ctx.barrier()
    return folders


def run_teacher(cfg: DictConfig, ach: ConceptHierarchy, data: DataConfig,
                folders: tuple[Path, Path], run_dir: Path, ctx: DistributedContext,
                use_deepspeed: bool, fingerprint: str | None = None) -> TrainResult:
    """Train the teacher through the one training loop into ``<run>/teacher``."""
    trainer = config_from_mapping(TrainerConfig, trainer_settings(cfg, "teacher"), "trainer")
    teacher = config_from_mapping(TeacherConfig, container(cfg, "teacher"), "teacher")
    gnn = config_from_mapping(GNNConfig, container(cfg, "gnn"), "gnn")

    def make() -> TeacherStage:
        return TeacherStage(ach, teacher, gnn, folders[0], folders[1], trainer.batch_size,
                            seed=trainer.seed, features=data.features,
                            num_workers=data.num_workers, show_progress=ctx.is_main,
                            source=data.stream_source())

    # rank 0 fills the feature caches first; the others then read them
    stage = make() if ctx.is_main else None
    ctx.barrier()
    stage = stage or make()
    ds = container(cfg, "deepspeed") if use_deepspeed else None
    return fit(stage, trainer, run_dir / "teacher", ctx, deepspeed=ds, fingerprint=fingerprint)


def _llm_loader(cfg: DictConfig, ctx: DistributedContext) -> Any:
    """A function returning a fresh (LLM, tokenizer); the default LLM is built once (rank 0)."""
    from hacd_graph.llm import load_causal_lm
    from hacd_graph.llm.loading import default_llm_path

    llm_cfg = container(cfg, "llm")
    if llm_cfg["name"] == "default":
        path = None
        if ctx.is_main:  # builds and caches it the first time
            path = default_llm_path(llm_cfg, progress=True)
        ctx.barrier()
        path = path or default_llm_path(llm_cfg, progress=False)
        return lambda: load_causal_lm(str(path), dtype=llm_cfg.get("dtype", "float32"))
    return lambda: load_causal_lm(llm_cfg["name"], dtype=llm_cfg.get("dtype", "float32"),
                                  trust_remote_code=llm_cfg.get("trust_remote_code", False))


def _stage_configs(cfg: DictConfig, name: str, cls: type) -> tuple[Any, TrainerConfig]:
    """The ``name`` group as ``cls`` (its ``trainer`` block left out) and its trainer block."""
    settings = container(cfg, name)
    settings.pop("trainer", None)
    return (config_from_mapping(cls, settings, name),
            config_from_mapping(TrainerConfig, trainer_settings(cfg, name), f"{name}.trainer"))


def _student_splits(cfg: DictConfig, ach: ConceptHierarchy, folders: tuple[Path, Path],
                    run_dir: Path, ctx: DistributedContext, texts: bool) -> tuple[Any, dict]:
    """The trained teacher and, per split, its cached outputs with the clips' texts.

    The teacher's outputs are computed once (rank 0) into ``<run>/distill`` and read by
    both distillation and fine-tuning. With ``texts``, the splits are ``FinetuneData``
    (captions and QA too), else ``DistillData``.
    """
    from hacd_graph.distill.finetune import FinetuneData
    from hacd_graph.distill.stage import DistillData
    from hacd_graph.distill.teacher_cache import cached_teacher_outputs
    from hacd_graph.teacher.data import cached_features, open_clips
    from hacd_graph.teacher.stage import load_teacher

    teacher = load_teacher(run_dir / "teacher", ach)
    logmel = teacher.config.logmel
    cache_dir = run_dir / "distill"
    splits = {}
    for split, folder in zip(("train", "eval"), folders, strict=True):
        clips = open_clips(folder, ach, logmel.sample_rate)
        cache = cache_dir / f"teacher_outputs_{split}.pt"
        outputs = None
        if ctx.is_main:
            cache_dir.mkdir(parents=True, exist_ok=True)
            features = (torch.empty(len(clips), 0) if cache.is_file()
                        else cached_features(clips, logmel, show_progress=True))
            outputs = cached_teacher_outputs(cache, teacher, features)
        ctx.barrier()
        if outputs is None:
            outputs = cached_teacher_outputs(cache, teacher, torch.empty(len(clips), 0))
        meta = [clips.dataset.metadata(i) for i in range(len(clips))]
        descriptions = [m["description"] for m in meta]
        if texts:
            splits[split] = FinetuneData(outputs, descriptions, clips.targets,
                                         captions=[m["captions"] or [m["caption"]]
                                                   for m in meta],
                                         qa=[m["qa"] for m in meta])
        else:
            splits[split] = DistillData(outputs, descriptions, clips.targets)
    return teacher, splits


def _student(cfg: DictConfig, ach: ConceptHierarchy, teacher: Any, audio_dim: int,
             run_dir: Path, ctx: DistributedContext, seed: int) -> tuple[Any, torch.Tensor, bool]:
    """(StudentSpec, the HDL's loss table, whether the student trains with the HDL)."""
    from hacd_graph.distill.stage import DistillConfig
    from hacd_graph.distill.student import StudentSpec
    from hacd_graph.llm import LoraSettings

    config, _ = _stage_configs(cfg, "distill", DistillConfig)
    bridge = container(cfg, "bridge")
    use_hdl = (bridge.get("bridge_type") != "mlp") if config.hdl == "auto" else bool(config.hdl)
    llm_cfg = container(cfg, "llm")
    head_cfg = llm_cfg.get("concept_head") or {}
    embeddings_file = run_dir / "teacher" / "concept_embeddings.pt"
    if teacher.config.head == "graph" and embeddings_file.is_file():
        embeddings, train_concepts = torch.load(embeddings_file), False
    else:  # a flat teacher has no node embeddings: the student learns a free table
        generator = torch.Generator().manual_seed(seed)
        dim = int(container(cfg, "gnn").get("out_dim", 64))
        embeddings = torch.randn(len(ach), dim, generator=generator) * dim ** -0.5
        train_concepts = True
    loss_table = (ach.ancestor_table() if teacher.config.loss == "marginal_bce"
                  else torch.arange(len(ach)).unsqueeze(1))
    student = StudentSpec(
        load_llm=_llm_loader(cfg, ctx), bridge=bridge,
        lora=LoraSettings.from_config(llm_cfg.get("lora")),
        concept_embeddings=embeddings, audio_dim=audio_dim,
        train_concepts=train_concepts, probe_head=not use_hdl,
        free_bias=bool(head_cfg.get("free_bias", False)),
        summary=head_cfg.get("summary", "last_audio"),
        audio_token=llm_cfg.get("audio_token", "<audio>"))
    return student, loss_table, use_hdl


def run_distill(cfg: DictConfig, ach: ConceptHierarchy, folders: tuple[Path, Path],
                run_dir: Path, ctx: DistributedContext, use_deepspeed: bool,
                fingerprint: str | None = None) -> TrainResult:
    """Distil the trained teacher into the LLM through the one loop into ``<run>/distill``."""
    from hacd_graph.distill.stage import DistillConfig, DistillStage

    config, trainer = _stage_configs(cfg, "distill", DistillConfig)
    teacher, splits = _student_splits(cfg, ach, folders, run_dir, ctx, texts=False)
    student, loss_table, use_hdl = _student(cfg, ach, teacher, splits["train"].teacher.audio_dim,
                                            run_dir, ctx, trainer.seed)
    stage = DistillStage(ach, loss_table, student, config, splits["train"], splits["eval"],
                         trainer.batch_size, seed=trainer.seed, hdl=use_hdl)
    ds = container(cfg, "deepspeed") if use_deepspeed else None
    return fit(stage, trainer, run_dir / "distill", ctx, deepspeed=ds, fingerprint=fingerprint)


def run_finetune(cfg: DictConfig, ach: ConceptHierarchy, folders: tuple[Path, Path],
                 run_dir: Path, ctx: DistributedContext, use_deepspeed: bool,
                 fingerprint: str | None = None) -> TrainResult:
    """Fine-tune the distilled student on captioning, AQA and description (``<run>/finetune``)."""
    from hacd_graph.distill.finetune import FinetuneConfig, FinetuneStage

    config, trainer = _stage_configs(cfg, "finetune", FinetuneConfig)
    teacher, splits = _student_splits(cfg, ach, folders, run_dir, ctx, texts=True)
    student, loss_table, use_hdl = _student(cfg, ach, teacher, splits["train"].teacher.audio_dim,
                                            run_dir, ctx, trainer.seed)
    stage = FinetuneStage(ach, loss_table, student, config, splits["train"], splits["eval"],
                          trainer.batch_size, distilled=run_dir / "distill" / "model.pt",
                          seed=trainer.seed, hdl=use_hdl)
    ds = container(cfg, "deepspeed") if use_deepspeed else None
    return fit(stage, trainer, run_dir / "finetune", ctx, deepspeed=ds, fingerprint=fingerprint)


def run_eval(cfg: DictConfig, folders: tuple[Path, Path], run_dir: Path,
             ctx: DistributedContext) -> dict[str, Any]:
    """Score the fine-tuned student on the held-out split (rank 0) and write the report.

    Returns:
        The content of ``<run>/eval/metrics.json`` (``{}`` on the other ranks).
    """
    from hacd_graph.eval.report import write_report
    from hacd_graph.eval.stage import EvalConfig, evaluate_run, load_held_out
    from hacd_graph.eval.trained_run import TrainedRun

    config = config_from_mapping(EvalConfig, container(cfg, "eval"), "eval")
    result: dict[str, Any] = {}
    if ctx.is_main:
        run = TrainedRun.load(run_dir, stage="finetune")
        result = evaluate_run(run, load_held_out(run, folders[1]), config, run_dir / "eval")
        write_report(run_dir)
    ctx.barrier()
    return result
