"""LoRA adapters through peft, with configurable target modules (or none: full fine-tuning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedModel


@dataclass
class LoraSettings:
    """LoRA settings; ``enabled=False`` (``lora=none``) means full fine-tuning.

    Args:
        enabled: wrap the LLM with LoRA adapters. Default True.
        r: adapter rank. Default 8.
        alpha: scaling numerator (``alpha / r``). Default 16.
        dropout: dropout on the adapter input. Default 0.05.
        target_modules: module names (e.g. ``["q_proj", "v_proj"]``), ``"all-linear"``, or
            None for peft's default for the model family (``q_proj, v_proj`` for Llama,
            Qwen2, Mistral; ``c_attn`` for GPT-2).
        modules_to_save: modules trained in full next to the adapters. Default none.
    """

    enabled: bool = True
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | str | None = None
    modules_to_save: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: Any) -> LoraSettings:
        """Build from a mapping (a Hydra node), ``None`` or the string ``"none"``."""
        if cfg is None or cfg == "none":
            return cls(enabled=False)
        data = dict(cfg)
        if isinstance(data.get("target_modules"), list | tuple):
            data["target_modules"] = list(data["target_modules"])
        data["modules_to_save"] = list(data.get("modules_to_save") or [])
        return cls(**data)


def apply_lora(model: PreTrainedModel, settings: LoraSettings) -> Any:
    """Return ``model`` wrapped with LoRA adapters, or ``model`` itself when disabled.

    With LoRA only the adapters (and ``modules_to_save``) train; the base weights are
    frozen. Without it every parameter trains (full fine-tuning).
    """
    if not settings.enabled:
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        modules_to_save=settings.modules_to_save or None, task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)
