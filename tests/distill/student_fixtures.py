"""A tiny distillation problem shared by the stage tests: a 2-layer Llama saved to a folder,
its BPE tokenizer, and fake teacher outputs over the 7-concept test hierarchy."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from hacd_graph.ach import ConceptHierarchy
from hacd_graph.distill.stage import DistillConfig, DistillData, DistillStage
from hacd_graph.distill.student import StudentSpec
from hacd_graph.distill.teacher_cache import TeacherOutputs
from hacd_graph.llm import LoraSettings, load_causal_lm, train_bpe_tokenizer

AUDIO_DIM, CONCEPT_DIM, FRAMES = 8, 6, 5
TEXTS = ["General category: animals. Specific elements: a dog barking.",
         "General category: music. Specific elements: a guitar strumming.",
         "General category: animals. Specific elements: birds chirping.",
         "General category: music and animals. Specific elements: birdsong with guitar."]


def save_tiny_llm(folder: Path) -> Path:
    """Write a 2-layer Llama (hidden 16) and its tokenizer to ``folder``."""
    tokenizer = train_bpe_tokenizer(TEXTS * 20, vocab_size=300)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def fake_split(ach: ConceptHierarchy, clips: int, seed: int) -> DistillData:
    """Teacher outputs whose frames encode the clip's labels, so a student can learn them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(clips, len(ach))
    labels[:, 0] = 1
    for i in range(clips):
        leaf = [3, 4, 5, 6][i % 4]
        labels[i, leaf] = 1
        labels[i, list(ach.ancestors(leaf))] = 1
    frames = torch.randn(clips, FRAMES, AUDIO_DIM, generator=g) * 0.1
    frames[:, :, : len(ach) - 1] += labels[:, 1:].unsqueeze(1)
    logits = torch.where(labels > 0, 4.0, -4.0) + torch.randn(clips, len(ach), generator=g)
    probs = torch.sigmoid(logits)  # stand-in marginals (the stage only reads them)
    texts = [TEXTS[[3, 4, 5, 6].index(int(labels[i, 3:].argmax()) + 3)] for i in range(clips)]
    return DistillData(TeacherOutputs(frames.half(), logits, probs), texts, labels)


def make_stage(ach: ConceptHierarchy, llm_dir: Path, hdl: bool = True,
               flat: bool = False, **config) -> DistillStage:
    """A :class:`DistillStage` over :func:`fake_split` data and the LLM in ``llm_dir``."""
    g = torch.Generator().manual_seed(1)
    student = StudentSpec(
        load_llm=lambda: load_causal_lm(str(llm_dir)),
        bridge={"num_queries": 2, "num_layers": 1, "num_heads": 2, "hidden_size": 8,
                "dropout": 0.0},
        lora=LoraSettings(r=2, alpha=4, dropout=0.0),
        concept_embeddings=torch.randn(len(ach), CONCEPT_DIM, generator=g),
        audio_dim=AUDIO_DIM, probe_head=not hdl)
    table = torch.arange(len(ach)).unsqueeze(1) if flat else ach.ancestor_table()
    settings = {"max_target_tokens": 24, "eval_batch_size": 4, "backend": "torch", **config}
    return DistillStage(ach, table, student, DistillConfig(**settings),
                        fake_split(ach, 16, 0), fake_split(ach, 8, 1), batch_size=4, hdl=hdl)
