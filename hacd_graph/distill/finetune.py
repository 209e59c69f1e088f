"""The fine-tuning stage: the distilled student learns three audio-language tasks at once.

Starting from the distillation stage's weights, each training clip gets one task, drawn
with the configured weights:

- **caption**: ``<audio> Write a caption for the sound.`` -> one of the clip's captions;
- **aqa**: ``<audio> Question: {question} Answer:`` -> the answer (the questions carry a
  level of abstraction, ``general``/``category``/``specific``, and a type);
- **description**: the distillation prompt -> the hierarchical scene description.

The loss is

    loss = LM loss on the answer tokens (prompt masked)
           + hdl_weight * HDL(student concept logits, teacher logits)      (retention)
           + contrastive_weight * InfoNCE(audio embedding, caption embedding)

**Retrieval space.** Audio and text meet in a shared space learned with a symmetric
InfoNCE loss (CLIP/CLAP style): the audio embedding is the mean of the bridge's query
outputs (its soft tokens), the text embedding the mean of the LLM's last hidden states over
a caption fed as text alone; each goes through its own linear projection, and the two are
compared by cosine similarity times a learned scale. Every baseline (``bridge=mlp``,
``teacher=flat``, ...) is trained and scored the same way, so retrieval figures compare.
Scoring by caption likelihood was not chosen: it needs one LLM pass per (clip, caption)
pair, 10^6 passes for 200 clips x 1,000 captions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hacd_graph.atomic_io import save_torch_atomic, write_json_atomic
from hacd_graph.bridge import AudioCausalLMOutput
from hacd_graph.distill.stage import DistillData, DistillStage, _device
from hacd_graph.distill.student import DistillModel, StudentSpec
from hacd_graph.teacher.data import epoch_order

TASKS = ("caption", "aqa", "description")
PART_NAMES = ("bridge", "lora", "head", "retrieval")
DEFAULT_PROMPTS = {
    "caption": "<audio> Write a caption for the sound.",
    "aqa": "<audio> Question: {question} Answer:",
    "description": "<audio> Describe the sound from the general to the specific.",
}


@dataclass
class FinetuneConfig:
    """Settings of the fine-tuning stage (the ``finetune`` config group).

    Args:
        tasks: sampling weight of each task (``caption``, ``aqa``, ``description``); a task
            of weight 0 is not trained.
        prompts: the instruction of each task; ``{question}`` is filled for ``aqa``.
        hdl_weight: λ of the HDL retention term (0: none). Baselines without the HDL in
            distillation (``bridge=mlp``) keep their concept head a probe here too.
        contrastive_weight: weight of the InfoNCE term (0: no retrieval training).
        contrastive_dim: size of the shared audio-text space.
        contrastive_temperature: initial temperature of the similarity (learned after).
        temperature: T of the HDL.
        max_target_tokens: answer tokens kept (longer ones are cut).
        backend: HDL backend.
        lr: learning rate per part (``bridge``, ``lora``, ``head``, ``retrieval``).
        eval_batch_size: clips per evaluation forward pass.
        top_k: k of the teacher-agreement top-k overlap.
        trainer: overrides of the ``trainer`` group for this stage.
    """

    tasks: dict[str, float] = field(
        default_factory=lambda: {"caption": 1.0, "aqa": 1.0, "description": 1.0})
    prompts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROMPTS))
    hdl_weight: float = 1.0
    contrastive_weight: float = 1.0
    contrastive_dim: int = 64
    contrastive_temperature: float = 0.07
    temperature: float = 1.0
    max_target_tokens: int = 128
    backend: str = "auto"
    lr: dict[str, float | None] = field(default_factory=dict)
    eval_batch_size: int = 32
    top_k: int = 3
    trainer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prompts = {**DEFAULT_PROMPTS, **self.prompts}
        for name, values, known in (("tasks", self.tasks, TASKS), ("prompts", self.prompts,
                                    TASKS), ("lr", self.lr, PART_NAMES)):
            unknown = sorted(set(values) - set(known))
            if unknown:
                raise ValueError(f"finetune.{name}: unknown key(s) {unknown}; expected some "
                                 f"of {list(known)}")
        if any(w < 0 for w in self.tasks.values()) or sum(self.tasks.values()) <= 0:
            raise ValueError("finetune.tasks: weights must be >= 0 with a positive sum")
        if self.hdl_weight < 0 or self.contrastive_weight < 0:
            raise ValueError("finetune.hdl_weight and contrastive_weight must be >= 0")
        if self.contrastive_temperature <= 0 or self.temperature <= 0:
            raise ValueError("finetune temperatures must be > 0")
        if "{question}" not in self.prompts["aqa"]:
            raise ValueError("finetune.prompts.aqa must contain {question}")

    # the names DistillStage reads
    @property
    def prompt(self) -> str:
        return self.prompts["description"]

    @property
    def lm_weight(self) -> float:
        return 1.0

    def task_prompt(self, task: str, qa: Mapping[str, Any] | None = None) -> str:
        """The prompt of ``task`` (with the question filled in for ``aqa``)."""
        if task == "aqa":
            return self.prompts["aqa"].format(question=qa["question"] if qa else "")
        return self.prompts[task]


@dataclass
class FinetuneData(DistillData):
    """One split as fine-tuning reads it: :class:`DistillData` plus the clip's texts.

    Args:
        captions: each clip's captions (at least one).
        qa: each clip's question-answer items (``question``, ``answer``, ``level``, ``type``).
    """

    captions: list[list[str]] = field(default_factory=list)
    qa: list[list[dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.captions) != len(self.targets) or len(self.qa) != len(self.targets):
            raise ValueError(f"{len(self.targets)} clips but {len(self.captions)} caption "
                             f"lists and {len(self.qa)} QA lists")
        if any(not c for c in self.captions):
            raise ValueError("every clip needs at least one caption for fine-tuning")


def info_nce(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor
             ) -> torch.Tensor:
    """Symmetric InfoNCE of ``B`` matching (audio, text) pairs ``[B, D]`` (unit vectors)."""
    logits = logit_scale.exp() * audio @ text.T
    target = torch.arange(len(audio), device=audio.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class ContrastiveHeads(nn.Module):
    """Linear projections of pooled audio and text states into one unit-norm space.

    Shapes: ``audio(hidden [B, H]) -> [B, D]``, ``text(hidden [B, H]) -> [B, D]``.
    """

    def __init__(self, hidden_size: int, dim: int, temperature: float) -> None:
        super().__init__()
        self.audio_proj = nn.Linear(hidden_size, dim)
        self.text_proj = nn.Linear(hidden_size, dim)
        # shape [1], not a scalar: DeepSpeed broadcasts parameters as byte views at start-up
        self.logit_scale = nn.Parameter(torch.tensor([math.log(1.0 / temperature)]))

    def audio(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.audio_proj(hidden.float()), dim=-1)

    def text(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_proj(hidden.float()), dim=-1)


@dataclass
class FinetuneOutput(AudioCausalLMOutput):
    """:class:`AudioCausalLMOutput` plus the retrieval embeddings and their InfoNCE loss."""

    audio_embedding: torch.Tensor | None = None
    text_embedding: torch.Tensor | None = None
    contrastive_loss: torch.Tensor | None = None


class FinetuneModel(DistillModel):
    """The distillation student plus :class:`ContrastiveHeads` (one module for the loop).

    Args:
        student: the distilled student (its weights already loaded).
        retrieval: the projection heads.
    """

    def __init__(self, student: DistillModel, retrieval: ContrastiveHeads) -> None:
        nn.Module.__init__(self)
        self.audio_lm = student.audio_lm
        if isinstance(student.concept_embeddings, nn.Parameter):
            self.concept_embeddings = student.concept_embeddings
        else:
            self.register_buffer("concept_embeddings", student.concept_embeddings)
        self.probe_head = student.probe_head
        self.retrieval = retrieval

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                audio_features: torch.Tensor, concept_probs: torch.Tensor,
                labels: torch.Tensor | None = None, caption_ids: torch.Tensor | None = None,
                caption_mask: torch.Tensor | None = None) -> FinetuneOutput:
        out = super().forward(input_ids, attention_mask, audio_features, concept_probs, labels)
        result = FinetuneOutput(**out)
        if caption_ids is not None:
            result.audio_embedding = self.embed_audio(audio_features, concept_probs)
            result.text_embedding = self.embed_text(caption_ids, caption_mask)
            result.contrastive_loss = info_nce(result.audio_embedding, result.text_embedding,
                                               self.retrieval.logit_scale)
        return result

    def embed_audio(self, audio_features: torch.Tensor, concept_probs: torch.Tensor
                    ) -> torch.Tensor:
        """``[B, D]`` retrieval embeddings of clips (mean of the bridge's soft tokens)."""
        tokens = self.audio_lm.bridge(audio_features, self.concept_embeddings, concept_probs)
        return self.retrieval.audio(tokens.mean(dim=1))

    def embed_text(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` retrieval embeddings of texts (mean of the LLM's last hidden states)."""
        out = self.audio_lm(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        last = out.hidden_states[-1].float()
        weights = mask.unsqueeze(-1).float()
        return self.retrieval.text((last * weights).sum(1) / weights.sum(1).clamp(min=1))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        groups = super().parameter_groups()
        groups["retrieval"] = list(self.retrieval.parameters())
        return groups


class FinetuneStage(DistillStage):
    """Multi-task fine-tuning of a distilled student (the ``Stage`` protocol of the loop).

    Args:
        ach, loss_table, student, train, eval, batch_size, seed, hdl: as
            :class:`~hacd_graph.distill.stage.DistillStage` (the splits are
            :class:`FinetuneData`).
        config: the stage's settings.
        distilled: the distillation stage's ``model.pt`` (the weights to start from).
    """

    name = "finetune"

    def __init__(self, ach: Any, loss_table: torch.Tensor, student: StudentSpec,
                 config: FinetuneConfig, train: FinetuneData, eval: FinetuneData,
                 batch_size: int, distilled: Path, seed: int = 0, hdl: bool = True):
        super().__init__(ach, loss_table, student, config, train, eval, batch_size, seed, hdl)  # type: ignore[arg-type]
        self.config: FinetuneConfig = config  # type: ignore[assignment]
        self.train: FinetuneData = train  # type: ignore[assignment]
        self.eval: FinetuneData = eval  # type: ignore[assignment]
        self.distilled = Path(distilled)
        self._task_p = np.array([config.tasks.get(t, 0.0) for t in TASKS], dtype=float)
        self._task_p /= self._task_p.sum()

    # --- the Stage protocol -------------------------------------------------------------

    def build_model(self) -> nn.Module:
        from hacd_graph.bridge.audio_causal_lm import gathered_parameters
        from hacd_graph.training.engine import load_trained_state

        student = super().build_model()
        assert isinstance(student, DistillModel)
        state = torch.load(self.distilled, map_location="cpu", weights_only=True)
        with gathered_parameters(list(student.parameters())):
            load_trained_state(student, state, self.distilled)
        hidden = student.audio_lm.llm.get_input_embeddings().embedding_dim
        heads = ContrastiveHeads(hidden, self.config.contrastive_dim,
                                 self.config.contrastive_temperature)
        return FinetuneModel(student, heads)

    def train_batches(self, epoch: int, rank: int, world_size: int) -> Iterator[dict]:
        order = epoch_order(len(self.train.targets), self.seed, epoch, rank, world_size,
                            self.batch_size)
        for idx in order:
            rng = np.random.default_rng([self.seed, epoch, int(idx[0]), 7])
            tasks = [TASKS[int(t)] for t in rng.choice(len(TASKS), len(idx), p=self._task_p)]
            yield self.task_batch(self.train, torch.from_numpy(idx), tasks, rng)

    def training_step(self, model: nn.Module, batch: dict) -> Any:
        from hacd_graph.training.stage import StepOutput

        out, hdl = self._forward(model, batch)
        loss = out.loss + self.config.hdl_weight * hdl
        terms = {"lm": float(out.loss.detach()), "hdl": float(hdl.detach())}
        if out.contrastive_loss is not None:
            loss = loss + self.config.contrastive_weight * out.contrastive_loss
            terms["contrastive"] = float(out.contrastive_loss.detach())
        return StepOutput(loss, len(batch["input_ids"]), terms)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Concept metrics and HDL (description prompt), LM loss per task, InfoNCE loss."""
        metrics = super().evaluate(model)  # description prompt: the head's metrics, lm_loss
        metrics["lm_loss/description"] = metrics.pop("lm_loss")
        data, device = self.eval, _device(model)
        for task in ("caption", "aqa"):
            total, n = 0.0, 0
            for idx in self._eval_chunks():
                batch = self.task_batch(data, idx, [task] * len(idx), None, contrastive=False)
                batch = {k: v.to(device) for k, v in batch.items()}
                out, _ = self._forward(model, batch)
                total, n = total + float(out.loss) * len(idx), n + len(idx)
            metrics[f"lm_loss/{task}"] = total / n
        total, n = 0.0, 0
        for idx in self._eval_chunks():
            if len(idx) < 2:
                continue
            batch = {k: v.to(device) for k, v in self.task_batch(
                data, idx, ["caption"] * len(idx), None).items()}
            out, _ = self._forward(model, batch)
            total, n = total + float(out.contrastive_loss) * len(idx), n + len(idx)
        if n:
            metrics["contrastive_loss"] = total / n
        return metrics

    def export(self, model: nn.Module, state_dict: Mapping[str, torch.Tensor],
               out_dir: Path) -> None:
        from hacd_graph.training.engine import load_trained_state

        fresh = self.build_model()
        load_trained_state(fresh, state_dict, out_dir / "model.pt")
        assert isinstance(fresh, FinetuneModel)
        fresh.audio_lm.save_pretrained(out_dir / "audio_lm", tokenizer=self.tokenizer)
        save_torch_atomic(fresh.concept_embeddings.detach().cpu(),
                          out_dir / "concept_embeddings.pt")
        save_torch_atomic(fresh.retrieval.state_dict(), out_dir / "retrieval.pt")
        write_json_atomic(out_dir / "finetune.json", {
            "finetune": dataclasses.asdict(self.config), "bridge": self.student.bridge,
            "hdl": self.hdl,
            "loss_table": "ancestors" if self.loss_table.shape[1] > 1 else "flat",
            "num_concepts": len(self.ach), "audio_dim": self.student.audio_dim,
            "retrieval": {"hidden_size": fresh.retrieval.audio_proj.in_features,
                          "dim": self.config.contrastive_dim,
                          "temperature": self.config.contrastive_temperature},
        })

    # --- batches ------------------------------------------------------------------------

    def task_batch(self, data: FinetuneData, idx: torch.Tensor, tasks: list[str],
                   rng: np.random.Generator | None, contrastive: bool = True
                   ) -> dict[str, torch.Tensor]:
        """A batch of clips ``idx``, clip ``j`` asked task ``tasks[j]``.

        ``rng`` draws which caption and question each clip gets (``None``: the first).
        With ``contrastive``, the batch also holds one caption per clip as text alone.
        """
        if self.processor is None:
            raise RuntimeError("build_model() must run before batches are made")
        prompts, targets, texts = [], [], []
        for j, task in zip(idx.tolist(), tasks, strict=True):
            captions, qa = data.captions[j], data.qa[j]
            caption = captions[int(rng.integers(len(captions)))] if rng else captions[0]
            texts.append(caption)
            if task == "aqa" and not qa:
                task = "description"  # a clip without questions
            if task == "caption":
                prompts.append(self.config.task_prompt("caption"))
                targets.append(caption)
            elif task == "aqa":
                item = qa[int(rng.integers(len(qa)))] if rng else qa[0]
                prompts.append(self.config.task_prompt("aqa", item))
                targets.append(str(item["answer"]))
            else:
                prompts.append(self.config.task_prompt("description"))
                targets.append(data.descriptions[j])
        longest = max(len(self.processor.encode(p)[0]) for p in set(prompts))
        batch = self.processor(prompts, targets,
                               max_length=longest + self.config.max_target_tokens)
        batch.update(audio_features=data.teacher.frames[idx].float(),
                     concept_probs=data.teacher.probs[idx],
                     teacher_logits=data.teacher.logits[idx])
        if contrastive:
            text = self.tokenizer(texts, padding=True, truncation=True,
                                  max_length=self.config.max_target_tokens,
                                  return_tensors="pt")
            batch.update(caption_ids=text["input_ids"], caption_mask=text["attention_mask"])
        return batch

    def _batch(self, data: DistillData, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        # the description prompt without captions: DistillStage.evaluate's batches
        return self.task_batch(data, idx, ["description"] * len(idx), None,  # type: ignore[arg-type]
                               contrastive=False)

    def _eval_chunks(self) -> Iterator[torch.Tensor]:
        n, size = len(self.eval.targets), self.config.eval_batch_size
        for start in range(0, n, size):
            yield torch.arange(start, min(start + size, n))

    def _model_inputs(self, batch: dict) -> dict[str, torch.Tensor]:
        return {k: batch[k] for k in ("caption_ids", "caption_mask") if k in batch}
