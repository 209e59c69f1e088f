import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from hacd_graph.llm.corpus import read_caption_csvs
from hacd_graph.llm.loading import load_causal_lm, load_llm
from hacd_graph.llm.tokenizer import train_bpe_tokenizer


def test_loads_any_causal_lm_from_a_folder(tmp_path, meta_dir):
    tok = train_bpe_tokenizer(read_caption_csvs(meta_dir)[:200], vocab_size=300)
    tok.pad_token = None
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=16,
                                         intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))
    model.save_pretrained(tmp_path / "qwen")
    tok.save_pretrained(tmp_path / "qwen")
    loaded, loaded_tok = load_causal_lm(str(tmp_path / "qwen"))
    assert type(loaded) is Qwen2ForCausalLM and not loaded.training
    assert loaded_tok.pad_token == loaded_tok.eos_token  # pad falls back to EOS
    ids = tok("a dog barks", return_tensors="pt")["input_ids"]
    torch.testing.assert_close(loaded(ids).logits, model.eval()(ids).logits)
    same, _ = load_llm({"name": str(tmp_path / "qwen")})
    assert type(same) is Qwen2ForCausalLM
    half, _ = load_causal_lm(str(tmp_path / "qwen"), dtype="bfloat16")
    assert half.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype="):
        load_causal_lm(str(tmp_path / "qwen"), dtype="int3")
