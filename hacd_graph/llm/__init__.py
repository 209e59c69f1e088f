"""Language models for the bridge: any causal LM by hub id or folder, the embedded default
(a small Llama with a BPE tokenizer trained and briefly pre-trained on the project's text,
cached on disk), and LoRA through peft. Imports nothing from the training loop.
"""

from hacd_graph.llm.corpus import TextCorpus, build_corpus, read_caption_csvs
from hacd_graph.llm.default_llm import (
    DefaultLLM,
    DefaultLLMConfig,
    build_default_llm,
    build_tokenizer,
    default_cache_dir,
    load_default_llm,
)
from hacd_graph.llm.loading import load_causal_lm
from hacd_graph.llm.lora import LoraSettings, apply_lora
from hacd_graph.llm.pretrain import pack_texts, pretrain_causal_lm, sample_text
from hacd_graph.llm.tokenizer import train_bpe_tokenizer

__all__ = [
    "DefaultLLM",
    "DefaultLLMConfig",
    "LoraSettings",
    "TextCorpus",
    "apply_lora",
    "build_corpus",
    "build_default_llm",
    "build_tokenizer",
    "default_cache_dir",
    "load_causal_lm",
    "load_default_llm",
    "pack_texts",
    "pretrain_causal_lm",
    "read_caption_csvs",
    "sample_text",
    "train_bpe_tokenizer",
]
