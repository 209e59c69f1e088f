"""Loading any causal LM (hub id or local folder) with its tokenizer; nothing family-specific."""

from __future__ import annotations

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


def load_llm(cfg: Any, concept_names: Any = (), generated_texts: Any = (),
             progress: bool = True) -> tuple[PreTrainedModel, Any]:
    """Return (model, tokenizer) for an ``llm`` config node (``configs/llm/*.yaml``).

    ``name: default`` builds (or loads from the cache) the embedded default LLM on the
    captions under ``meta_dir`` plus ``generated_texts`` and ``concept_names``, with the
    sizes under ``default``; any other ``name`` is a hub id or local folder for
    :func:`load_causal_lm`.
    """
    from hacd_graph.llm.corpus import build_corpus
    from hacd_graph.llm.default_llm import DefaultLLMConfig, build_default_llm

    if cfg["name"] != "default":
        return load_causal_lm(cfg["name"], dtype=cfg.get("dtype", "float32"),
                              trust_remote_code=cfg.get("trust_remote_code", False))
    corpus = build_corpus(cfg.get("meta_dir"), generated_texts, concept_names,
                          limit=cfg.get("caption_limit"))
    built = build_default_llm(corpus, DefaultLLMConfig(**dict(cfg.get("default") or {})),
                              cfg.get("cache_dir"), progress=progress)
    return built.model, built.tokenizer
