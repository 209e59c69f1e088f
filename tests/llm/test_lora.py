import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from hacd_graph.llm.lora import LoraSettings, apply_lora


def _llama():
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=2))


def test_settings_from_config():
    assert not LoraSettings.from_config(None).enabled
    assert not LoraSettings.from_config("none").enabled
    s = LoraSettings.from_config({"r": 4, "alpha": 8, "target_modules": ("q_proj", "o_proj")})
    assert s.enabled and s.r == 4 and s.target_modules == ["q_proj", "o_proj"]


def test_default_targets_per_family_and_explicit_targets():
    model = apply_lora(_llama(), LoraSettings(r=2))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert {n.split(".")[-4] for n in names} == {"q_proj", "v_proj"}
    gpt2 = apply_lora(GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1,
                                                 n_head=2)), LoraSettings(r=2))
    assert {n.split(".")[-4] for n, p in gpt2.named_parameters() if p.requires_grad} == {
        "c_attn"}
    mlp = apply_lora(_llama(), LoraSettings(r=2, target_modules=["up_proj", "down_proj"]))
    assert {n.split(".")[-4] for n, p in mlp.named_parameters() if p.requires_grad} == {
        "up_proj", "down_proj"}


def test_none_is_full_fine_tuning():
    model = _llama()
    for p in model.parameters():
        p.requires_grad_(False)
    out = apply_lora(model, LoraSettings.from_config("none"))
    assert out is model and all(p.requires_grad for p in model.parameters())
