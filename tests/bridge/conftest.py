"""Tiny causal LMs of four families (built from configs, nothing downloaded) and a tiny
BPE tokenizer trained on a few hundred real captions, shared by the bridge tests."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from hacd_graph.bridge import BridgeConfig, HierarchicalBridge
from hacd_graph.llm.corpus import read_caption_csvs
from hacd_graph.llm.tokenizer import train_bpe_tokenizer

FAMILIES = ("llama", "qwen2", "gpt2", "mistral")
AUDIO_DIM, CONCEPT_DIM, NUM_QUERIES = 12, 10, 4


@pytest.fixture(scope="session")
def tiny_tokenizer_factory(meta_dir):
    """Return a function making a fresh copy of a 400-token BPE tokenizer (callers may add
    tokens to their copy)."""
    captions = read_caption_csvs(meta_dir)[:400]
    base = train_bpe_tokenizer(captions, vocab_size=400)

    def make():
        from copy import deepcopy

        return deepcopy(base)

    return make


def make_llm(family: str, vocab_size: int, hidden: int = 32, seed: int = 0,
             bos: int = 0, eos: int = 1, pad: int = 2) -> torch.nn.Module:
    """A 2-layer causal LM of ``family`` with hidden size ``hidden``, in eval mode."""
    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    if family == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(n_embd=hidden, n_layer=2, n_head=4, n_positions=128,
                                           **common))
    else:
        cls_cfg = {"llama": (LlamaForCausalLM, LlamaConfig),
                   "qwen2": (Qwen2ForCausalLM, Qwen2Config),
                   "mistral": (MistralForCausalLM, MistralConfig)}[family]
        model = cls_cfg[0](cls_cfg[1](hidden_size=hidden, intermediate_size=2 * hidden,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, max_position_embeddings=128,
                                      **common))
    return model.eval()


def make_bridge(llm_hidden: int = 32, seed: int = 0, **overrides) -> HierarchicalBridge:
    """A small hierarchical bridge for the tiny LLMs."""
    torch.manual_seed(seed)
    settings = dict(audio_dim=AUDIO_DIM, concept_dim=CONCEPT_DIM, llm_hidden_size=llm_hidden,
                    num_queries=NUM_QUERIES, num_layers=2, num_heads=2, hidden_size=16)
    config = BridgeConfig(**{**settings, **overrides})
    return HierarchicalBridge(config).eval()


def make_audio(batch: int, frames: int = 6, concepts: int = 9, seed: int = 0):
    """(audio_features [B,T,Da], concept_embeddings [N,Dc], concept_probs [B,N])."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, frames, AUDIO_DIM, generator=g),
            torch.randn(concepts, CONCEPT_DIM, generator=g),
            torch.rand(batch, concepts, generator=g))
