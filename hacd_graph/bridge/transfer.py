"""Importing a saved bridge into another LLM, possibly of a different hidden size.

Everything a bridge learned about audio and concepts lives before its last layer; only
``output_projection`` (bridge width D -> LLM hidden size H) speaks the old LLM's language.
The recipe:

1. ``bridge = reproject_bridge(load_bridge("saved/bridge"), new_llm.config.hidden_size)``
   keeps every weight but a fresh ``output_projection`` (D -> H_new). With the same hidden
   size, nothing is re-initialised (the bridge is returned as loaded).
2. ``model = attach_bridge(new_llm, bridge, tokenizer=new_tokenizer)``.
3. ``losses = realign_bridge(model, batches, steps=50)`` trains only that projection on
   (audio, caption) batches with the LLM's own next-token loss, everything else frozen —
   a few dozen steps align it to the new embedding space (the LLaVA "feature alignment"
   stage, restricted to one linear layer).
4. Then train further as usual (LoRA or full) if wanted, and ``model.save_pretrained``.

``tests/bridge/test_transfer.py`` runs this recipe from a Llama to a GPT-2 of another width.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from hacd_graph.bridge.pretrained import PretrainedBridge, build_bridge


def reproject_bridge(bridge: PretrainedBridge, llm_hidden_size: int,
                     seed: int | None = 0) -> PretrainedBridge:
    """Return a copy of ``bridge`` whose output projection maps to ``llm_hidden_size``.

    All other weights are copied exactly; the new projection is freshly initialised
    (``seed`` makes it reproducible). If the size is unchanged the bridge is returned as is.
    """
    if bridge.config.llm_hidden_size == llm_hidden_size:
        return bridge
    config = bridge.config.replace(llm_hidden_size=llm_hidden_size)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        new = build_bridge(config)
    keep = {k: v for k, v in bridge.state_dict().items()
            if not k.startswith("output_projection.")}
    missing, unexpected = new.load_state_dict(keep, strict=False)
    assert not unexpected and all(k.startswith("output_projection.") for k in missing), (
        missing, unexpected)
    return new.to(next(bridge.parameters()).device)


def realign_bridge(model: nn.Module, batches: Iterable[dict[str, Any]], steps: int = 50,
                   lr: float = 1e-3) -> list[float]:
    """Train only ``model.bridge.output_projection`` for ``steps`` steps; return the losses.

    Args:
        model: an :class:`~hacd_graph.bridge.audio_causal_lm.AudioCausalLM`.
        batches: dicts of model inputs with ``labels`` (cycled if shorter than ``steps``).
        steps: optimiser steps. Default 50.
        lr: AdamW learning rate. Default 1e-3.

    Returns:
        The training loss of each step. Other parameters keep their ``requires_grad``
        flags and values.
    """
    params = list(model.bridge.output_projection.parameters())
    flags = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    was_training = model.training
    model.train()
    losses: list[float] = []
    try:
        for batch in itertools.islice(itertools.cycle(batches), steps):
            loss = model(**batch).loss
            if loss is None:
                raise ValueError("realign_bridge needs batches with labels")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)
        model.train(was_training)
    return losses
