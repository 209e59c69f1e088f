"""Loading any causal LM (hub id or local folder) with its tokenizer; nothing family-specific."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def load_causal_lm(name_or_path: str, dtype: str = "float32",
                   trust_remote_code: bool = False,
                   **model_kwargs: Any) -> tuple[PreTrainedModel, Any]:
    """Load ``AutoModelForCausalLM`` and ``AutoTokenizer`` from a hub id or a local folder.

    Works for any family transformers knows (e.g. ``Qwen/Qwen2.5-0.5B-Instruct`` when
    online, or a folder written by ``save_pretrained``). A tokenizer without a pad token
    gets its EOS token as pad, as is usual for decoder-only LMs.

    Args:
        name_or_path: hub id or local folder.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        trust_remote_code: allow custom model code from the hub.
        **model_kwargs: passed to ``AutoModelForCausalLM.from_pretrained``.

    Returns:
        (model in eval mode, tokenizer).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; expected one of {sorted(DTYPES)}")
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        name_or_path, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code, **model_kwargs)
    return model.eval(), tokenizer


def load_llm(cfg: Any, progress: bool = True) -> tuple[PreTrainedModel, Any]:
    """Return (model, tokenizer) for an ``llm`` config node (``configs/llm/*.yaml``).

    ``name: default`` builds (or loads from the cache) the embedded default LLM on
    :func:`~hacd_graph.llm.corpus.default_corpus` (captions under ``meta_dir``,
    ``generated_clips`` synthetic scenes' texts, the core concept names if ``concepts``)
    with the sizes under ``default``; any other ``name`` is a hub id or local folder for
    :func:`load_causal_lm`.
    """
    if cfg["name"] != "default":
        return load_causal_lm(cfg["name"], dtype=cfg.get("dtype", "float32"),
                              trust_remote_code=cfg.get("trust_remote_code", False))
    return load_causal_lm(str(default_llm_path(cfg, progress)),
                          dtype=cfg.get("dtype", "float32"))


def default_llm_path(cfg: Any, progress: bool = True) -> Path:
    """The folder of the embedded default LLM for an ``llm`` config node (``name: default``),
    building and caching it first when needed (see :func:`load_llm`)."""
    from hacd_graph.llm.corpus import default_corpus
    from hacd_graph.llm.default_llm import DefaultLLMConfig, build_default_llm, default_cache_dir

    cache = cfg.get("cache_dir") or default_cache_dir()
    corpus = default_corpus(cfg.get("meta_dir"), cache, cfg.get("generated_clips", 500),
                            cfg.get("concepts", True), cfg.get("caption_limit"), progress)
    built = build_default_llm(corpus, DefaultLLMConfig(**dict(cfg.get("default") or {})),
                              cache, progress=progress)
    return built.path
