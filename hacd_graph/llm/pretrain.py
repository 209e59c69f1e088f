"""Brief causal-LM pre-training of the default LLM on the text corpus, so it writes language.

This is a build step of an artefact (like training the tokenizer), not a pipeline stage:
it runs once per corpus/config and its result is cached by
:func:`hacd_graph.llm.default_llm.build_default_llm`. The pipeline's stages (distillation,
fine-tuning) use the project's one training loop; this loop stays minimal on purpose —
packed next-token prediction, AdamW, linear warm-up and cosine decay, gradient clipping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm


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
) -> list[float]:
    """Train ``model`` on random batches of ``blocks`` for ``steps`` steps.

    Args:
        model: a Hugging Face causal LM (takes ``input_ids`` and ``labels``).
        blocks: [M, L] packed token blocks from :func:`pack_texts`.
        steps: optimiser steps.
        batch_size: blocks per step.
        lr: peak learning rate (linear warm-up, then cosine decay to 10 %).
        warmup_steps: warm-up length.
        weight_decay: AdamW weight decay on matrices (not on norms and biases).
        seed: seed of the batch sampler (the model's initialisation is the caller's).
        progress: show a tqdm bar.

    Returns:
        The loss of every step.
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, steps - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * t))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses: list[float] = []
    bar = tqdm(range(steps), desc="pre-training", disable=not progress)
    for _ in bar:
        index = torch.randint(0, blocks.shape[0], (batch_size,), generator=generator)
        batch = blocks[index].to(next(model.parameters()).device)
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
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
