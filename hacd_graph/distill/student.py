"""The student of distillation: bridge + causal LM (LoRA) + ``GraphConceptHead``, in one module.

:class:`DistillModel` wraps an :class:`~hacd_graph.bridge.AudioCausalLM` together with the
concept embeddings it reads (the teacher's GNN node embeddings, frozen, or free
embeddings that train when the teacher has none), so that the training loop and DeepSpeed
see one ``nn.Module`` whose ``forward`` takes tensors only.

In *probe* mode the concept head reads a detached hidden state: its loss trains the head
(a linear probe of what the LLM holds) but sends no gradient into the LLM or the bridge.
The LM-loss-only baseline (``bridge=mlp``) uses it, so its concept metrics measure the
LLM rather than a loss it never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hacd_graph.bridge import (
    AudioCausalLM,
    AudioCausalLMOutput,
    BridgeConfig,
    ConceptHeadConfig,
    GraphConceptHead,
    attach_bridge,
    build_bridge,
)
from hacd_graph.llm import LoraSettings, apply_lora


def _detach_hidden(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    hidden, *rest = args
    return (hidden.detach(), *rest)


class DistillModel(nn.Module):
    """An :class:`AudioCausalLM` plus the concept embeddings its bridge and head read.

    Args:
        audio_lm: the bridge in front of the LLM, with a concept head.
        concept_embeddings: ``[N, Dc]``.
        train_concepts: learn the embeddings (a free table) instead of keeping them fixed.
        probe_head: the head reads a detached hidden state (see the module docstring).

    Shapes:
        input_ids, attention_mask, labels ``[B, T]``; audio_features ``[B, Tf, Da]``;
        concept_probs ``[B, N]`` -> ``AudioCausalLMOutput`` with ``concept_logits [B, N]``.
    """

    def __init__(self, audio_lm: AudioCausalLM, concept_embeddings: torch.Tensor,
                 train_concepts: bool = False, probe_head: bool = False) -> None:
        super().__init__()
        if audio_lm.concept_head is None:
            raise ValueError("the student needs a concept head (attach_bridge(..., "
                             "concept_head=GraphConceptHead(...)))")
        self.audio_lm = audio_lm
        if train_concepts:
            self.concept_embeddings = nn.Parameter(concept_embeddings.clone().float())
        else:
            self.register_buffer("concept_embeddings", concept_embeddings.clone().float())
        self.probe_head = probe_head
        if probe_head:
            audio_lm.concept_head.register_forward_pre_hook(_detach_hidden)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                audio_features: torch.Tensor, concept_probs: torch.Tensor,
                labels: torch.Tensor | None = None) -> AudioCausalLMOutput:
        return self.audio_lm(input_ids=input_ids, attention_mask=attention_mask,
                             audio_features=audio_features,
                             concept_embeddings=self.concept_embeddings,
                             concept_probs=concept_probs, labels=labels)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The trainable parameters by part: ``bridge``, ``lora`` (the LLM's), ``head``."""
        head = list(self.audio_lm.concept_head.parameters())
        if isinstance(self.concept_embeddings, nn.Parameter):
            head.append(self.concept_embeddings)
        groups = {"bridge": list(self.audio_lm.bridge.parameters()),
                  "lora": list(self.audio_lm.llm.parameters()), "head": head}
        return {name: [p for p in params if p.requires_grad] for name, params in groups.items()}


@dataclass
class StudentSpec:
    """How to build a student; :meth:`build` gives a fresh one each call (seeded by the caller).

    Args:
        load_llm: returns a fresh ``(causal LM, tokenizer)``.
        bridge: the bridge's settings (``audio_dim``, ``concept_dim`` and
            ``llm_hidden_size`` are filled in by :meth:`build`).
        lora: LoRA settings (``enabled=False``: the LLM trains in full).
        concept_embeddings: ``[N, Dc]`` initial concept embeddings.
        audio_dim: Da, the teacher's frame feature size.
        train_concepts: see :class:`DistillModel`.
        probe_head: see :class:`DistillModel`.
        free_bias: the head adds a free bias per concept.
        summary: where the head reads the LLM (``last_audio`` or ``last_token``).
        audio_token: the placeholder text.
    """

    load_llm: Callable[[], tuple[Any, Any]]
    bridge: dict[str, Any]
    lora: LoraSettings
    concept_embeddings: torch.Tensor
    audio_dim: int
    train_concepts: bool = False
    probe_head: bool = False
    free_bias: bool = False
    summary: str = "last_audio"
    audio_token: str = "<audio>"

    def build(self) -> tuple[DistillModel, Any]:
        """A fresh student and its tokenizer (holding the placeholder token)."""
        llm, tokenizer = self.load_llm()
        hidden = llm.get_input_embeddings().embedding_dim
        num_concepts, concept_dim = self.concept_embeddings.shape
        bridge = build_bridge(BridgeConfig.from_dict({
            **self.bridge, "audio_dim": self.audio_dim, "concept_dim": concept_dim,
            "llm_hidden_size": hidden}))
        head = GraphConceptHead(ConceptHeadConfig(
            hidden_size=hidden, concept_dim=concept_dim,
            num_concepts=num_concepts if self.free_bias else None))
        for p in llm.parameters():
            p.requires_grad_(False)
        audio_lm = attach_bridge(llm, bridge, self.audio_token, tokenizer=tokenizer,
                                 concept_head=head, summary=self.summary)
        audio_lm.llm = apply_lora(audio_lm.llm, self.lora)
        model = DistillModel(audio_lm, self.concept_embeddings, self.train_concepts,
                             self.probe_head)
        return model, tokenizer
