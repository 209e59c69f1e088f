"""Compose every config of the bridge and llm groups and instantiate each at tiny size."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from hacd_graph.bridge import BridgeConfig, build_bridge
from hacd_graph.llm.lora import LoraSettings, apply_lora

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _compose(overrides):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        return OmegaConf.to_container(compose(overrides=overrides), resolve=True)


@pytest.mark.parametrize("name", ["hierarchical", "mlp"])
def test_bridge_groups_build(name):
    cfg = _compose([f"+bridge={name}"])["bridge"]
    config = BridgeConfig.from_dict({**cfg, "audio_dim": 8, "concept_dim": 6,
                                     "llm_hidden_size": 16})
    bridge = build_bridge(config)
    out = bridge(torch.randn(2, 5, 8), torch.randn(7, 6), torch.rand(2, 7))
    assert out.shape == (2, config.num_queries, 16)


@pytest.mark.parametrize("lora", ["lora", "none"])
def test_llm_groups_compose(lora):
    for name in ("default", "hf"):
        cfg = _compose([f"+llm={name}", f"llm/lora={lora}"])["llm"]
        settings = LoraSettings.from_config(cfg["lora"])
        assert settings.enabled == (lora == "lora")
        assert cfg["concept_head"]["summary"] in ("last_audio", "last_token")
    assert cfg["name"] == "Qwen/Qwen2.5-0.5B-Instruct"


def test_default_llm_config_matches_the_library_defaults():
    from dataclasses import asdict

    from hacd_graph.llm.default_llm import DefaultLLMConfig

    cfg = _compose(["+llm=default"])["llm"]
    defaults = asdict(DefaultLLMConfig())
    assert {k: defaults[k] for k in cfg["default"]} == cfg["default"]


def test_lora_group_applies_to_a_tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = _compose(["+llm=default"])["llm"]
    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=2))
    wrapped = apply_lora(model, LoraSettings.from_config(cfg["lora"]))
    assert any("lora_A" in n for n, _ in wrapped.named_parameters())
