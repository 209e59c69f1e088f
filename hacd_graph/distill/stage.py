"""The distillation stage: what the one training loop needs to distil the teacher into an LLM.

Per clip the student sees the teacher's cached frame features and concept probabilities
(through the bridge) and a prompt; it is trained on

    loss = HDL(student conditional logits, teacher logits, loss table)
           + lm_weight * LM loss on the clip's hierarchical description (prompt masked)

where the student's logits come from ``GraphConceptHead`` on the LLM's hidden state. The
loss table is the hierarchy's ancestor table for a graph teacher (conditional logits); for
a flat teacher (marginal logits) it is each concept alone, which makes the HDL the
per-concept binary KL on marginals ("flat distillation"). With ``hdl=False`` (the
``bridge=mlp`` baseline) only the LM loss reaches the LLM and the bridge; the head still
learns, as a probe on detached hidden states (``student.DistillModel``).

Evaluation on the held-out clips: the head's marginals against the true labels
(``hierarchical_metrics``: per-level mAP and F1, hP/hR/hF1, violation rate), agreement with
the teacher per level (``agreement/...``), the held-out LM loss and HDL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.atomic_io import save_torch_atomic, write_json_atomic
from hacd_graph.bridge import AudioPromptProcessor
from hacd_graph.distill.agreement import teacher_agreement
from hacd_graph.distill.ancestor_plan import AncestorPlan
from hacd_graph.distill.hdl import hierarchical_distillation_loss
from hacd_graph.distill.student import DistillModel, StudentSpec
from hacd_graph.distill.teacher_cache import TeacherOutputs
from hacd_graph.eval.metrics import hierarchical_metrics
from hacd_graph.teacher.data import epoch_order
from hacd_graph.teacher.marginals import log_marginals

PART_NAMES = ("bridge", "lora", "head")


@dataclass
class DistillConfig:
    """Settings of the distillation stage (the ``distill`` config group).

    Args:
        lm_weight: λ, the weight of the LM loss on the description.
        temperature: T of the HDL.
        prompt: the instruction; ``<audio>`` marks where the soft tokens go.
        max_target_tokens: description tokens kept (longer ones are cut).
        backend: HDL backend (``auto`` picks the fastest for the device).
        lr: learning rate per part (``bridge``, ``lora``, ``head``); ``null`` = ``trainer.lr``.
        eval_batch_size: clips per evaluation forward pass.
        top_k: k of the teacher-agreement top-k overlap.
        hdl: train the student with the HDL; ``"auto"``: yes, unless the bridge reads no
            concepts (``bridge=mlp``: LM loss only, the baseline). Without it the concept
            head still learns, as a probe on detached hidden states.
        trainer: overrides of the ``trainer`` group for this stage (its own budget, lr, ...).
    """

    lm_weight: float = 1.0
    temperature: float = 1.0
    prompt: str = "<audio> Describe the sound from the general to the specific."
    max_target_tokens: int = 128
    backend: str = "auto"
    lr: dict[str, float | None] = field(default_factory=dict)
    eval_batch_size: int = 32
    top_k: int = 3
    hdl: bool | str = "auto"
    trainer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.lr) - set(PART_NAMES))
        if unknown:
            raise ValueError(f"distill.lr: unknown part(s) {unknown}; parts are {PART_NAMES}")
        if self.lm_weight < 0 or self.temperature <= 0:
            raise ValueError("distill.lm_weight must be >= 0 and distill.temperature > 0")
        if self.hdl not in (True, False, "auto"):
            raise ValueError(f"distill.hdl must be true, false or auto, got {self.hdl!r}")
        if self.max_target_tokens < 1 or self.eval_batch_size < 1 or self.top_k < 1:
            raise ValueError("distill.max_target_tokens, eval_batch_size and top_k must be >= 1")


@dataclass
class DistillData:
    """One split as distillation reads it.

    Args:
        teacher: the teacher's cached outputs per clip.
        descriptions: the hierarchical description of each clip.
        targets: ``[C, N]`` true labels closed under ancestors.
    """

    teacher: TeacherOutputs
    descriptions: list[str]
    targets: torch.Tensor

    def __post_init__(self) -> None:
        if not len(self.teacher) == len(self.descriptions) == len(self.targets):
            raise ValueError(f"{len(self.teacher)} teacher outputs, {len(self.descriptions)} "
                             f"descriptions and {len(self.targets)} label rows differ")


class DistillStage:
    """Distil a frozen teacher into a student LLM (the ``Stage`` protocol of the loop).

    Args:
        ach: the hierarchy (levels and metrics).
        loss_table: ``[N, K]`` rows the HDL sums over (ancestor table, or ``[N, 1]`` for a
            flat teacher whose logits are marginal).
        student: builds the student.
        config: the stage's settings.
        train, eval: the two splits.
        batch_size: clips per rank and micro-step.
        seed: seed of the epoch orders.
        hdl: train the student with the HDL (``False``: LM loss only; the head is a probe).
    """

    name = "distill"

    def __init__(self, ach: ConceptHierarchy, loss_table: torch.Tensor, student: StudentSpec,
                 config: DistillConfig, train: DistillData, eval: DistillData,
                 batch_size: int, seed: int = 0, hdl: bool = True):
        self.ach, self.loss_table, self.student, self.config = ach, loss_table, student, config
        self._plans: dict[torch.device, AncestorPlan] = {}  # the loss table's, per device
        self.train, self.eval = train, eval
        self.batch_size, self.seed = batch_size, seed
        self.hdl = hdl
        self.levels = ach.level.clone()
        self.tokenizer: Any = None
        self.processor: AudioPromptProcessor | None = None
        self._max_length = 0  # prompt + target tokens, known once the tokenizer is built

    # --- the Stage protocol -------------------------------------------------------------

    def build_model(self) -> nn.Module:
        model, self.tokenizer = self.student.build()
        self.processor = AudioPromptProcessor.from_model(self.tokenizer, model.audio_lm)
        self._max_length = (len(self.processor.encode(self.config.prompt)[0])
                            + self.config.max_target_tokens)  # the prompt is never cut
        return model

    def optimizer_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        groups = []
        for name, params in _unwrap(model).parameter_groups().items():
            if params:
                group: dict[str, Any] = {"name": name, "params": params}
                if self.config.lr.get(name) is not None:
                    group["lr"] = float(self.config.lr[name])  # type: ignore[arg-type]
                groups.append(group)
        return groups

    def train_batches(self, epoch: int, rank: int, world_size: int) -> Iterator[dict]:
        order = epoch_order(len(self.train.targets), self.seed, epoch, rank, world_size,
                            self.batch_size)
        for idx in order:
            yield self._batch(self.train, torch.from_numpy(idx))

    def training_step(self, model: nn.Module, batch: dict) -> Any:
        from hacd_graph.training.stage import StepOutput

        out, hdl = self._forward(model, batch)
        loss = self.config.lm_weight * out.loss + hdl
        return StepOutput(loss, len(batch["input_ids"]),
                          {"lm": float(out.loss.detach()), "hdl": float(hdl.detach())})

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        data = self.eval
        student, lm, hdl, n = [], 0.0, 0.0, 0
        device = _device(model)
        for start in range(0, len(data.targets), self.config.eval_batch_size):
            idx = torch.arange(start, min(start + self.config.eval_batch_size,
                                          len(data.targets)))
            batch = {k: v.to(device) for k, v in self._batch(data, idx).items()}
            out, batch_hdl = self._forward(model, batch)
            lm += float(out.loss) * len(idx)
            hdl += float(batch_hdl) * len(idx)
            n += len(idx)
            student.append(self.student_probs(out.concept_logits).cpu())
        probs = torch.cat(student)
        metrics = hierarchical_metrics(probs, data.targets, self.ach)
        agreement = teacher_agreement(data.teacher.probs, probs, self.levels, self.config.top_k)
        metrics.update({f"agreement/{k}": v for k, v in agreement.items()})
        metrics.update(lm_loss=lm / n, hdl=hdl / n)
        return metrics

    def export(self, model: nn.Module, state_dict: Mapping[str, torch.Tensor],
               out_dir: Path) -> None:
        from hacd_graph.training.engine import load_trained_state

        fresh, tokenizer = self.student.build()
        load_trained_state(fresh, state_dict, out_dir / "model.pt")
        fresh.audio_lm.save_pretrained(out_dir / "audio_lm", tokenizer=tokenizer)
        save_torch_atomic(fresh.concept_embeddings.detach().cpu(),
                          out_dir / "concept_embeddings.pt")
        write_json_atomic(out_dir / "distill.json", {
            "distill": dataclasses.asdict(self.config), "bridge": self.student.bridge,
            "hdl": self.hdl,
            "loss_table": "ancestors" if self.loss_table.shape[1] > 1 else "flat",
            "num_concepts": len(self.ach), "audio_dim": self.student.audio_dim,
        })

    # --- helpers ------------------------------------------------------------------------

    def plan(self, device: torch.device) -> AncestorPlan:
        """The loss table's :class:`AncestorPlan` on ``device`` (built and moved once)."""
        if device not in self._plans:
            self._plans[device] = AncestorPlan.from_table(self.loss_table).to(device)
        return self._plans[device]

    def student_probs(self, concept_logits: torch.Tensor) -> torch.Tensor:
        """The student's marginal probabilities ``[B, N]`` from its head's logits."""
        table = self.plan(concept_logits.device).table
        return log_marginals(concept_logits.float(), table).exp()

    def _batch(self, data: DistillData, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.processor is None:
            raise RuntimeError("build_model() must run before batches are made")
        texts = [data.descriptions[int(i)] for i in idx]
        batch = self.processor([self.config.prompt] * len(texts), texts,
                               max_length=self._max_length)
        batch.update(audio_features=data.teacher.frames[idx].float(),
                     concept_probs=data.teacher.probs[idx],
                     teacher_logits=data.teacher.logits[idx])
        return batch

    def _model_inputs(self, batch: dict) -> dict[str, torch.Tensor]:
        """Inputs of the model besides the prompt, audio and labels (none here)."""
        return {}

    def _forward(self, model: nn.Module, batch: dict) -> tuple[Any, torch.Tensor]:
        dtype = _dtype(model)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    audio_features=batch["audio_features"].to(dtype),
                    concept_probs=batch["concept_probs"].to(dtype), labels=batch["labels"],
                    **self._model_inputs(batch))
        hdl = hierarchical_distillation_loss(
            out.concept_logits.float(), batch["teacher_logits"].float(),
            self.plan(out.concept_logits.device), temperature=self.config.temperature,
            backend=self.config.backend)
        return out, hdl


def _unwrap(model: nn.Module) -> DistillModel:
    """The :class:`DistillModel` inside a DDP or DeepSpeed wrapper."""
    while not isinstance(model, DistillModel):
        model = model.module  # type: ignore[assignment]
    return model


def _device(model: nn.Module) -> torch.device:
    return _unwrap(model).concept_embeddings.device


def _dtype(model: nn.Module) -> torch.dtype:
    return next(_unwrap(model).audio_lm.bridge.parameters()).dtype
