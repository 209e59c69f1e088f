"""A trained run directory, loaded for inference: teacher, student LLM, concept head, retrieval.

:meth:`TrainedRun.load` reads what the stages exported (never their checkpoints):

    <run>/config.yaml, ach.json          the composed config and the hierarchy
    <run>/teacher/                       the teacher (``load_teacher``)
    <run>/finetune/ or <run>/distill/    audio_lm/ (bridge, concept head, LoRA adapter,
                                         tokenizer), concept_embeddings.pt, and for
                                         fine-tuning retrieval.pt and finetune.json

The base LLM comes from the run's ``llm`` config (the embedded default is rebuilt from its
cache, or built once on a fresh machine). Everything the evaluation and ``hacd-graph
describe`` do with a model goes through this class, so both see the same model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.errors import UserError

STAGE_ORDER = ("finetune", "distill")  # the latest trained student is used


@dataclass
class TrainedRun:
    """The models of one run directory, in eval mode.

    Attributes:
        run_dir: the run directory.
        stage: ``"finetune"`` or ``"distill"``: whose student this is.
        config: the run's composed config (plain dict).
        ach: the hierarchy.
        teacher: the trained teacher (a ``TeacherModel``).
        model: the student (``DistillModel``, or ``FinetuneModel`` with retrieval heads).
        tokenizer, processor: the student's tokenizer and its ``AudioPromptProcessor``.
        loss_table: ``[N, K]`` rows that turn the head's logits into marginals.
        prompts: the instruction per task (``description``, ``caption``, ``aqa``).
    """

    run_dir: Path
    stage: str
    config: dict[str, Any]
    ach: ConceptHierarchy
    teacher: Any
    model: Any
    tokenizer: Any
    processor: Any
    loss_table: torch.Tensor
    prompts: dict[str, str]

    @classmethod
    def load(cls, run_dir: str | Path, stage: str | None = None,
             progress: bool = False) -> TrainedRun:
        """Load the run's teacher and its latest (or the named) trained student.

        Raises:
            UserError: the folder is not a trained run directory (one line saying what is
                missing).
        """
        from omegaconf import OmegaConf
        from transformers import AutoTokenizer

        from hacd_graph.bridge import AudioCausalLM, AudioPromptProcessor
        from hacd_graph.distill.finetune import DEFAULT_PROMPTS
        from hacd_graph.distill.student import DistillModel
        from hacd_graph.llm.loading import load_llm
        from hacd_graph.teacher.stage import load_teacher

        run_dir = Path(run_dir)
        for needed in ("config.yaml", "ach.json", "teacher/teacher.json"):
            if not (run_dir / needed).is_file():
                raise UserError(f"{run_dir} is not a trained run directory: no {needed} "
                                "(train one with 'python train.py --config distill_gnn')")
        names = [stage] if stage else list(STAGE_ORDER)
        found = [s for s in names if (run_dir / s / "audio_lm").is_dir()]
        if not found:
            raise UserError(f"{run_dir} holds no trained student ({' or '.join(names)}/"
                            "audio_lm): run the distill stage first")
        stage = found[0]
        stage_dir = run_dir / stage
        config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=True)
        assert isinstance(config, dict)
        ach = ConceptHierarchy.load(run_dir / "ach.json")
        teacher = load_teacher(run_dir / "teacher", ach).eval()
        meta = json.loads((stage_dir / f"{stage}.json").read_text())

        tokenizer = AutoTokenizer.from_pretrained(stage_dir / "audio_lm" / "tokenizer")
        llm, _ = load_llm(config["llm"], progress=progress)
        audio_lm = AudioCausalLM.from_pretrained(stage_dir / "audio_lm", llm=llm,
                                                 tokenizer=tokenizer)
        embeddings = torch.load(stage_dir / "concept_embeddings.pt", map_location="cpu")
        model: Any = DistillModel(audio_lm, embeddings)
        prompts = dict(DEFAULT_PROMPTS)
        prompts["description"] = config.get("distill", {}).get("prompt",
                                                               prompts["description"])
        if stage == "finetune":
            from hacd_graph.distill.finetune import ContrastiveHeads, FinetuneModel

            spec = meta["retrieval"]
            heads = ContrastiveHeads(spec["hidden_size"], spec["dim"], spec["temperature"])
            heads.load_state_dict(torch.load(stage_dir / "retrieval.pt", map_location="cpu"))
            model = FinetuneModel(model, heads)
            prompts.update(meta["finetune"]["prompts"])
        model.eval()
        loss_table = (ach.ancestor_table() if meta["loss_table"] == "ancestors"
                      else torch.arange(len(ach)).unsqueeze(1))
        processor = AudioPromptProcessor.from_model(tokenizer, audio_lm)
        return cls(run_dir, stage, config, ach, teacher, model, tokenizer, processor,
                   loss_table, prompts)

    @property
    def has_retrieval(self) -> bool:
        """Whether the student has retrieval heads (a fine-tuned run)."""
        return hasattr(self.model, "retrieval")

    def marginals(self, concept_logits: torch.Tensor) -> torch.Tensor:
        """The student's marginal concept probabilities ``[B, N]`` from its head's logits."""
        from hacd_graph.teacher.marginals import log_marginals

        return log_marginals(concept_logits.float(), self.loss_table).exp()

    @torch.no_grad()
    def concept_probs(self, frames: torch.Tensor, teacher_probs: torch.Tensor
                      ) -> torch.Tensor:
        """The student's concept marginals ``[B, N]`` for clips (teacher frames and probs)."""
        batch = self.processor([self.prompts["description"]] * len(frames))
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         audio_features=frames.float(), concept_probs=teacher_probs.float())
        return self.marginals(out.concept_logits)

    @torch.no_grad()
    def generate(self, prompts: list[str], frames: torch.Tensor, teacher_probs: torch.Tensor,
                 max_new_tokens: int, **settings: Any) -> list[str]:
        """Greedy (or as ``settings`` say) continuations of one prompt per clip."""
        batch = self.processor(prompts, padding_side="left")
        out = self.model.audio_lm.generate(
            **batch, audio_features=frames.float(),
            concept_embeddings=self.model.concept_embeddings,
            concept_probs=teacher_probs.float(), max_new_tokens=max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id, **settings)
        return self.processor.batch_decode(out, prompt_length=batch["input_ids"].shape[1])
