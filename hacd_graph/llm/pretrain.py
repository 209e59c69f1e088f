"""Brief causal-LM pre-training of the default LLM on the text corpus, so it writes language.

This is a build step of an artefact (like training the tokenizer), cached by
:func:`hacd_graph.llm.default_llm.build_default_llm`. It runs through the project's one
training loop (:func:`hacd_graph.training.fit`): :class:`CausalLMStage` is the stage (the
model, packed next-token batches, the loss) and :func:`pretrain_causal_lm` is the thin call
that hands it to the loop with AdamW, linear warm-up and cosine decay to 10 %, and gradient
clipping at 1.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hacd_graph.training import DistributedContext, StepOutput, TrainerConfig, fit
from hacd_graph.training.metrics_log import read_series


def pack_texts(tokenizer: Any, texts: Sequence[str], seq_len: int) -> torch.Tensor:
    """Tokenize ``texts`` as ``<s> text </s>``, concatenate and cut into blocks.

    Returns:
        LongTensor [M, seq_len] (the tail shorter than one block is dropped).

    Raises:
        ValueError: the texts make fewer tokens than one block.
    """
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    stream: list[int] = []
    for row in ids:
        stream.append(bos)
        stream.extend(row)
        stream.append(eos)
    blocks = len(stream) // seq_len
    if blocks == 0:
        raise ValueError(f"the corpus has {len(stream)} tokens, fewer than one block of "
                         f"{seq_len}")
    return torch.tensor(stream[: blocks * seq_len]).view(blocks, seq_len)


class CausalLMStage:
    """Next-token prediction on packed token blocks, as a stage of the one training loop.

    Each epoch is a permutation of the blocks (seeded by ``seed`` and the epoch), dealt to
    the ranks and cut into batches of ``batch_size`` blocks; a corpus smaller than one
    global batch yields one batch per epoch, drawn with replacement.

    Args:
        model: a Hugging Face causal LM (takes ``input_ids`` and ``labels``), built by the
            caller (its initialisation is the caller's).
        blocks: [M, L] packed token blocks from :func:`pack_texts`.
        batch_size: blocks per rank and step.
        seed: seed of the batch order.
    """

    name = "pretrain"

    def __init__(self, model: nn.Module, blocks: torch.Tensor, batch_size: int, seed: int = 0):
        self.model, self.blocks = model, blocks
        self.batch_size, self.seed = batch_size, seed

    def build_model(self) -> nn.Module:
        return self.model

    def train_batches(self, epoch: int, rank: int, world_size: int) -> Iterator[torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        per_epoch = len(self.blocks) // (self.batch_size * world_size)
        if per_epoch == 0:
            draws = torch.randint(0, len(self.blocks), (world_size, self.batch_size),
                                  generator=generator)
            yield self.blocks[draws[rank]]
            return
        order = torch.randperm(len(self.blocks), generator=generator)
        mine = order[rank :: world_size]
        for i in range(per_epoch):
            yield self.blocks[mine[i * self.batch_size : (i + 1) * self.batch_size]]

    def training_step(self, model: nn.Module, batch: torch.Tensor) -> StepOutput:
        loss = model(input_ids=batch, labels=batch).loss
        return StepOutput(loss, len(batch))

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return {}  # the loss curve is the record; samples are taken by the caller

    def export(self, model: nn.Module, state_dict: Mapping[str, torch.Tensor],
               out_dir: Path) -> None:
        pass  # the caller saves the model in Hugging Face format


def pretrain_causal_lm(
    model: torch.nn.Module,
    blocks: torch.Tensor,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    warmup_steps: int = 50,
    weight_decay: float = 0.01,
    seed: int = 0,
    progress: bool = True,
    work_dir: str | Path | None = None,
    fingerprint: str | None = None,
) -> list[float]:
    """Train ``model`` on batches of ``blocks`` for ``steps`` steps through the one loop.

    Args:
        model: a Hugging Face causal LM (takes ``input_ids`` and ``labels``); trained in
            place and left in eval mode.
        blocks: [M, L] packed token blocks from :func:`pack_texts`.
        steps: optimiser steps.
        batch_size: blocks per step.
        lr: peak learning rate (linear warm-up from 0, then cosine decay to 10 %).
        warmup_steps: warm-up length.
        weight_decay: AdamW weight decay on matrices (not on norms and biases).
        seed: seed of the loop (set before training) and of the batch order.
        progress: show a tqdm bar.
        work_dir: the loop's stage folder (``metrics.csv``, checkpoints every quarter of
            the run): a killed run started again with the same folder resumes. ``None``
            trains in a temporary folder, removed afterwards.
        fingerprint: the settings digest the loop records and checks on resume.

    Returns:
        The loss of every step (read back from the loop's ``metrics.csv``).

    Raises:
        hacd_graph.training.CheckpointMismatch: ``work_dir`` holds a run of another
            fingerprint.
    """
    cfg = TrainerConfig(
        max_steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        betas=(0.9, 0.95), warmup_steps=warmup_steps, min_lr_ratio=0.1, grad_clip=1.0,
        log_every=1, eval_every=0, ckpt_every=max(50, steps // 4), keep_last=1, seed=seed,
        progress=progress,
    )
    ctx = DistributedContext(device=next(model.parameters()).device)
    stage = CausalLMStage(model, blocks, batch_size, seed)
    with tempfile.TemporaryDirectory(prefix="pretrain-") as tmp:
        stage_dir = Path(work_dir) if work_dir is not None else Path(tmp)
        result = fit(stage, cfg, stage_dir, ctx, fingerprint=fingerprint)
        # a run finished before (and not trained now) left its weights in model.pt only
        model.load_state_dict(torch.load(result.weights, map_location=ctx.device))
        losses = [v for _, v in read_series(stage_dir / "metrics.csv")[("train", "loss")]]
    model.eval()
    return losses


@torch.no_grad()
def sample_text(model: torch.nn.Module, tokenizer: Any, prompts: Sequence[str] = ("",),
                max_new_tokens: int = 30, seed: int = 0, temperature: float = 0.8) -> list[str]:
    """Sample a continuation of each prompt (after ``<s>``) and return the decoded texts."""
    model.eval()
    texts = []
    for prompt in prompts:
        ids = [tokenizer.bos_token_id] + tokenizer(prompt, add_special_tokens=False)["input_ids"]
        input_ids = torch.tensor([ids], device=next(model.parameters()).device)
        torch.manual_seed(seed)
        out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                             max_new_tokens=max_new_tokens, do_sample=True,
                             temperature=temperature, top_k=50,
                             pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
        texts.append(tokenizer.decode(out[0], skip_special_tokens=True).strip())
    return texts
