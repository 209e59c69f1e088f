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
   stage, restricted to one linear layer). It runs through the project's one training
   loop (:func:`hacd_graph.training.fit`) with :class:`RealignStage`.
4. Then train further as usual (LoRA or full) if wanted, and ``model.save_pretrained``.

``tests/bridge/test_transfer.py`` runs this recipe from a Llama to a GPT-2 of another width.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hacd_graph.bridge.pretrained import PretrainedBridge, build_bridge
from hacd_graph.training import DistributedContext, StepOutput, TrainerConfig, fit
from hacd_graph.training.metrics_log import read_series


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


class RealignStage:
    """Train only ``model.bridge.output_projection`` with the LLM's next-token loss.

    A stage of the one training loop: ``build_model`` freezes every other parameter of the
    given model (the caller restores the flags); each epoch is one pass over ``batches``.

    Args:
        model: an :class:`~hacd_graph.bridge.audio_causal_lm.AudioCausalLM`.
        batches: dicts of model inputs with ``labels``.
    """

    name = "realign"

    def __init__(self, model: nn.Module, batches: Iterable[dict[str, Any]]):
        self.model = model
        self.batches = list(batches)
        if not self.batches:
            raise ValueError("realign_bridge needs at least one batch")

    def build_model(self) -> nn.Module:
        for p in self.model.parameters():
            p.requires_grad_(False)
        for p in self.model.bridge.output_projection.parameters():
            p.requires_grad_(True)
        return self.model

    def train_batches(self, epoch: int, rank: int, world_size: int) -> Iterator[dict]:
        return iter(self.batches[rank::world_size])

    def training_step(self, model: nn.Module, batch: dict[str, Any]) -> StepOutput:
        loss = model(**batch).loss
        if loss is None:
            raise ValueError("realign_bridge needs batches with labels")
        return StepOutput(loss, len(batch["labels"]))

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return {}

    def export(self, model: nn.Module, state_dict: Mapping[str, torch.Tensor],
               out_dir: Path) -> None:
        pass  # the caller saves the bridge (``model.bridge.save_pretrained``)


def realign_bridge(model: nn.Module, batches: Iterable[dict[str, Any]], steps: int = 50,
                   lr: float = 1e-3, seed: int = 0, progress: bool = False,
                   work_dir: str | Path | None = None) -> list[float]:
    """Train only ``model.bridge.output_projection`` for ``steps`` steps; return the losses.

    AdamW at a constant ``lr``, no weight decay, no clipping, through
    :func:`hacd_graph.training.fit` (which seeds the global generators with ``seed``).

    Args:
        model: an :class:`~hacd_graph.bridge.audio_causal_lm.AudioCausalLM`, trained in
            place on the device of its parameters.
        batches: dicts of model inputs with ``labels`` (cycled if shorter than ``steps``).
        steps: optimiser steps. Default 50.
        lr: AdamW learning rate. Default 1e-3.
        seed: the loop's seed. Default 0.
        progress: show the loop's progress bar.
        work_dir: the loop's stage folder (metrics, checkpoint, weights), written afresh
            (a short recipe: nothing is resumed); ``None`` uses a temporary folder, removed
            afterwards.

    Returns:
        The training loss of each step. Other parameters keep their ``requires_grad``
        flags and values; the model keeps its train/eval mode.
    """
    cfg = TrainerConfig(max_steps=steps, batch_size=1, lr=lr, weight_decay=0.0,
                        warmup_steps=0, min_lr_ratio=1.0, grad_clip=0.0, log_every=1,
                        eval_every=0, ckpt_every=0, keep_last=1, resume=False, seed=seed,
                        progress=progress)
    ctx = DistributedContext(device=next(model.parameters()).device)
    stage = RealignStage(model, batches)
    flags = {p: p.requires_grad for p in model.parameters()}
    was_training = model.training
    try:
        with tempfile.TemporaryDirectory(prefix="realign-") as tmp:
            stage_dir = Path(work_dir) if work_dir is not None else Path(tmp)
            fit(stage, cfg, stage_dir, ctx)
            return [v for _, v in read_series(stage_dir / "metrics.csv")[("train", "loss")]]
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)
        model.train(was_training)
